"""Browser fixtures: a real ``streamlit run app.py`` server and Debian's Chromium via Playwright.

Reusable for any page of the app:

    from browser_helpers import assert_no_errors, press, wait_for

    @pytest.mark.browser
    def test_my_page(open_app):
        page = open_app("Phase_transition", grid="paper")   # URL path of pages/2_Phase_transition.py
        press(page, "Run")
        wait_for(page, "[data-testid='stPlotlyChart']")
        assert_no_errors(page)

``app_url`` is one server for the whole session; ``fresh_server`` starts a new one
(a cold server, e.g. for deep links). Chromium missing is a failure, never a skip.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from browser_helpers import TIMEOUT_MS, url_for

from dashboard.devserver import chromium, serve, wait_idle

VIEWPORT = {"width": 1280, "height": 900}


@pytest.fixture(scope="session")
def app_url(tmp_path_factory) -> str:
    """Base URL of one ``streamlit run app.py`` shared by the session's tests."""
    log = Path(tmp_path_factory.mktemp("streamlit")) / "server.log"
    with serve(log=log) as url:
        yield url


@pytest.fixture
def fresh_server(tmp_path):
    """A context manager starting a new server: ``with fresh_server() as url: ...``."""
    return lambda: serve(log=tmp_path / "fresh-server.log")


@pytest.fixture(scope="session")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def new_page(browser):
    """``new_page()`` -> a page in its own browser context (its own Streamlit session)."""
    contexts = []

    def make():
        ctx = browser.new_context(viewport=VIEWPORT)
        ctx.set_default_timeout(TIMEOUT_MS)
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        with contextlib.suppress(Exception):
            ctx.close()


@pytest.fixture
def open_app(app_url, new_page):
    """``open_app(path="", **query)`` -> a new session's page, loaded and idle."""

    def go(path: str = "", base: str | None = None, **query):
        page = new_page()
        page.goto(url_for(base or app_url, path, **query))
        wait_idle(page, TIMEOUT_MS)
        return page

    return go
