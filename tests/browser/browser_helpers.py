"""Helpers for browser tests of any dashboard page (see conftest.py for the fixtures)."""
from __future__ import annotations

from urllib.parse import urlencode

from dashboard.devserver import errors

TIMEOUT_MS = 120_000


def url_for(base: str, path: str = "", **query) -> str:
    return f"{base}/{path}" + (f"?{urlencode(query)}" if query else "")


def press(page, label: str) -> None:
    """Click the first button whose accessible name contains ``label``."""
    page.get_by_role("button", name=label).first.click()


def wait_for(page, selector: str, timeout: float = TIMEOUT_MS) -> None:
    page.wait_for_selector(selector, timeout=timeout)


def assert_no_errors(page) -> None:
    bad = errors(page)
    assert not bad, f"error elements on the page: {bad}"
