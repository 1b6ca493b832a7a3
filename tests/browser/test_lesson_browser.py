"""The Lesson page in a real browser (Chromium) against ``streamlit run app.py``."""
from __future__ import annotations

import re

import pytest
from browser_helpers import TIMEOUT_MS, assert_no_errors, press, url_for

from dashboard.devserver import wait_idle
from dashboard.lesson import STEPS

pytestmark = pytest.mark.browser

CHARTS = ".js-plotly-plot"
# Traces with points per drawn chart, read from Plotly's own state (``gd.data``): an array, a typed
# array, or a base64 typed array ({bdata, dtype}, how NumPy arrays arrive) of more than one value.
DRAWN = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => (gd.data || []).filter(
    tr => ['x', 'z'].some(k => tr[k] && ((tr[k].length || 0) > 1 || (tr[k].bdata || '').length > 8))).length)"""
MIN_CHARTS = {"model": 2, "gd-vs-am": 5, "stall": 1, "few-samples": 2, "far": 2, "fresh": 1, "theory": 1, "phase": 1}


def heading(page) -> str:
    return page.locator("h3").first.inner_text()


def test_the_lesson_walks_through_all_its_steps_with_data_and_no_error(open_app):
    page = open_app("Lesson")
    for k, step in enumerate(STEPS, 1):
        page.wait_for_selector(f'h3:has-text("{k}. {step.title}")', timeout=TIMEOUT_MS)
        page.wait_for_selector(CHARTS, timeout=TIMEOUT_MS)
        wait_idle(page, TIMEOUT_MS)
        drawn = page.evaluate(DRAWN)
        assert len(drawn) >= MIN_CHARTS[step.slug], (step.slug, drawn)
        assert all(n > 0 for n in drawn), f"a chart without data on step {k}: {drawn}"
        assert_no_errors(page)
        assert (f"step={k}" in page.url) == (k > 1)          # the URL names the step (1 is the default)
        if k < len(STEPS):
            press(page, f"{k + 1}. {STEPS[k].title}")


def test_a_deep_link_opens_its_step_on_a_fresh_server_and_sets_the_train_page(fresh_server, new_page):
    with fresh_server() as base:
        page = new_page()
        page.goto(url_for(base, "Lesson", step=4))
        page.wait_for_selector(f'h3:has-text("4. {STEPS[3].title}")', timeout=TIMEOUT_MS)
        page.wait_for_selector(CHARTS, timeout=TIMEOUT_MS)
        wait_idle(page, TIMEOUT_MS)
        assert_no_errors(page)
        page.get_by_text("Open these settings on Train").click()
        # the Lesson page is idle too and has the same sidebar: wait for the Train page's URL itself
        # (waiting for idle alone once read the URL before the navigation, on a loaded machine)
        page.wait_for_url(re.compile(r"n=300"), timeout=TIMEOUT_MS)
        wait_idle(page, TIMEOUT_MS)
        assert "/Lesson" not in page.url
        assert page.locator("[data-testid='stNumberInput'] input").first.input_value() == "300"
        assert_no_errors(page)
