"""Helpers for browser tests of any dashboard page (see conftest.py for the fixtures)."""
from __future__ import annotations

from urllib.parse import urlencode

from dashboard.devserver import errors

TIMEOUT_MS = 120_000


def url_for(base: str, path: str = "", **query) -> str:
    return f"{base}/{path}" + (f"?{urlencode(query)}" if query else "")


def press(page, label: str) -> None:
    """Click the app's first button showing ``label``: Streamlit buttons only, so neither the
    help icons (whose names contain their widget's label) nor Streamlit's own header Stop."""
    buttons = "button[data-testid^='stBaseButton']:not([data-testid='stBaseButton-header'])"
    page.locator(buttons, has_text=label).first.click()


def wait_for(page, selector: str, timeout: float = TIMEOUT_MS) -> None:
    page.wait_for_selector(selector, timeout=timeout)


def assert_no_errors(page) -> None:
    bad = errors(page)
    assert not bad, f"error elements on the page: {bad}"
