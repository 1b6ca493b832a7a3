"""The Phase-transition page in a real browser (Chromium) against ``streamlit run app.py``."""
from __future__ import annotations

import re

import pytest
from browser_helpers import TIMEOUT_MS, assert_no_errors, press, url_for

from dashboard.devserver import wait_idle

pytestmark = pytest.mark.browser

DONE = "[data-testid='stDownloadButton']"          # drawn once a sweep has finished
TINY = dict(grid="custom", n="12,60", d=4, gamma=1, trials=2, gd_iters=300)
CURVES = ("GD · identity init", "GD · random init", "AM · identity init", "AM · random init")


def test_deep_link_on_a_fresh_server_runs_and_the_next_session_gets_the_cache(fresh_server, new_page):
    with fresh_server() as base:
        page = new_page()
        page.goto(url_for(base, "Phase_transition", **TINY))
        wait_idle(page, TIMEOUT_MS)
        assert page.get_by_text("Press Run to start 16 trials").is_visible()
        press(page, "Run")
        page.wait_for_selector(DONE, timeout=TIMEOUT_MS)
        wait_idle(page, TIMEOUT_MS)
        assert page.get_by_text("All 16 trials in").is_visible()
        phase = page.locator(".js-plotly-plot").first
        legend = phase.locator(".legendtext").all_text_contents()
        assert set(CURVES) <= set(legend) and "n = d² = 16" in legend
        assert phase.locator(".errorbar").count() > 0                      # Wilson intervals drawn
        assert "grid=custom" in page.url and "trials=2" in page.url       # the URL holds the grid
        assert_no_errors(page)

        other = new_page()                                                  # another browser session
        other.goto(url_for(base, "Phase_transition", **TINY))
        wait_idle(other, TIMEOUT_MS)
        other.wait_for_selector(DONE, timeout=TIMEOUT_MS)
        assert other.get_by_text("served from the cache").is_visible()
        assert_no_errors(other)


def test_a_cold_page_shows_the_papers_grid_and_the_map_at_once(open_app):
    page = open_app("Phase_transition")
    assert page.get_by_text("The paper's grid, precomputed").is_visible()
    plots = page.locator(".js-plotly-plot")
    assert plots.count() >= 3                                               # phase chart, map, exponent
    assert page.locator(".js-plotly-plot .heatmaplayer").count() >= 1
    assert page.get_by_text("Fitted exponent").is_visible()
    assert_no_errors(page)


def test_stop_keeps_the_finished_trials_and_resume_finishes_the_sweep(open_app):
    # 200 trials at the paper's d = 20: about 10 s of GD batches when idle, so Stop lands mid-sweep
    page = open_app("Phase_transition", grid="custom", n="700,1200", d=20, gamma=2, trials=25)
    press(page, "Run")
    page.wait_for_selector("[data-testid='stProgress']", timeout=TIMEOUT_MS)
    page.wait_for_function("() => /left/.test(document.querySelector(\"[data-testid='stProgress']\")"
                           "?.innerText || '')", timeout=TIMEOUT_MS)         # the progress line has an ETA
    press(page, "Stop")
    page.wait_for_selector("text=Stopped after", timeout=TIMEOUT_MS)
    wait_idle(page, TIMEOUT_MS)
    stopped = int(re.search(r"Stopped after (\d+) of 200", page.inner_text("body")).group(1))
    assert 0 < stopped < 200
    assert page.locator(DONE).count() == 0
    press(page, "Resume")
    page.wait_for_selector(DONE, timeout=TIMEOUT_MS)
    wait_idle(page, TIMEOUT_MS)
    assert page.get_by_text("All 200 trials in").is_visible()
    assert_no_errors(page)


def test_a_link_cannot_inject_markup(open_app, app_url):
    img = "![x](http://example.invalid/val.png)"
    page = open_app("Phase_transition", grid="custom", n=img, eta=img)
    body = page.inner_text("body")
    assert "![x](http://example.invalid/val.png)" in body or "![x](http://example.invalid/val" in body
    assert page.locator("img[src*='example.invalid']").count() == 0
    assert page.locator("a[href*='example.invalid']").count() == 0
