"""The Train and Theory pages in a real browser (Chromium) against ``streamlit run app.py``."""
from __future__ import annotations

import re
import time

import pytest
from browser_helpers import TIMEOUT_MS, assert_no_errors, press, url_for
from playwright.sync_api import expect

from dashboard.devserver import charts, wait_idle
from dashboard.theory_view import num
from shallowres import make_problem, run, theory

pytestmark = pytest.mark.browser

DONE = "[data-testid='stDownloadButton']"     # drawn only once a run has finished
PICTURES = ".sr-react-chart.js-plotly-plot"      # the pictures (react_chart), not the live charts


def run_to_end(page) -> None:
    press(page, "Run")
    page.wait_for_selector(DONE, timeout=TIMEOUT_MS)
    wait_idle(page, TIMEOUT_MS)


def test_run_draws_the_charts_without_errors(open_app):
    page = open_app()
    assert_no_errors(page)
    assert page.get_by_text("Assumption 1 fails").is_visible()
    run_to_end(page)
    expect(page.locator(".sr-live-grid .js-plotly-plot")).to_have_count(4, timeout=TIMEOUT_MS)
    expect(page.locator(PICTURES)).to_have_count(2, timeout=TIMEOUT_MS)    # W^t of GD and AM
    assert page.get_by_text("Alternating minimization converged").is_visible()
    assert_no_errors(page)
    assert "d=20" in page.url and "n=1700" in page.url         # the URL holds every setting


RANGES = """() => [...document.querySelectorAll('.sr-live-grid .js-plotly-plot')].map(gd => [
    gd._fullLayout.yaxis.range.map(Number), gd._fullLayout.xaxis.range.map(Number)])"""


def test_a_run_after_reset_ranges_its_charts_over_its_data(open_app):
    """Reset gives the empty charts fixed axes; the next run's charts must range over its data again
    (they once stayed at Plotly's default, relative error 10^-1 … 10^4 and the heatmap's t -1 … 6,
    hiding AM's fall to 1e-15 and GD's curve past t = 80)."""
    page = open_app()
    for attempt in ("first run", "after Reset", "after a second Reset"):
        run_to_end(page)
        time.sleep(3)           # the page settles (its check that the last full run ended)
        (rel_y, _), _, _, (_, heat_x) = page.evaluate(RANGES)
        print(f"\n{attempt}: relative error log10 range {rel_y}, heatmap t range {heat_x}")
        assert rel_y[0] < -14 and rel_y[1] > -0.5, attempt          # AM reaches 4e-15, the start is ~0.4
        assert heat_x[1] > 800, attempt                             # GD's heatmap runs to t = 868
        press(page, "Reset")      # until the empty charts' fixed axes are drawn (tolerance 1e-8: from -8.5)
        page.wait_for_function(f"() => ({RANGES})()[0][0][0] === -8.5", timeout=TIMEOUT_MS)
        time.sleep(2)


def test_theory_deep_link_on_a_fresh_server(fresh_server, new_page):
    query = dict(d=10, n=500, gamma=1, seed=3, eps=0.05)
    th = theory(make_problem(d=10, n=500, gamma=1.0, seed=3), eps=0.05)
    with fresh_server() as base:
        page = new_page()
        page.goto(url_for(base, "Theory", **query))
        wait_idle(page, TIMEOUT_MS)
        page.wait_for_selector("text=Assumptions checklist", timeout=TIMEOUT_MS)   # the page's last section
        # T ratio against eps, two per-step charts, kappa_t, rho_3 forms, kappa against n
        expect(page.locator(".js-plotly-plot")).to_have_count(6, timeout=TIMEOUT_MS)
        assert page.get_by_text(re.compile(r"d = 10 · n = 500 \(n/d² = 5\.00\)")).is_visible()
        assert page.get_by_text(f"{num(th.kappa)} at W⁰", exact=False).first.is_visible()
        assert "n=500" in page.url and "eps=0.05" in page.url
        assert_no_errors(page)


def test_bounds_hold_preset_on_the_theory_page(open_app):
    page = open_app("Theory")
    page.wait_for_selector("text=Assumptions checklist", timeout=TIMEOUT_MS)
    press(page, "Bounds hold")
    page.wait_for_url(re.compile(r"n=4000"), timeout=TIMEOUT_MS)
    wait_idle(page, TIMEOUT_MS)
    page.wait_for_selector("text=Assumptions checklist", timeout=TIMEOUT_MS)
    assert page.get_by_text("The paper's bounds are below 1 here", exact=False).is_visible()
    th = theory(make_problem(d=2, n=4000, gamma=0.01, seed=0), eps=1e-8)
    assert page.get_by_text(f"{num(th.t_ratio_pred)}", exact=True).first.is_visible()
    expect(page.locator(".js-plotly-plot")).to_have_count(6, timeout=TIMEOUT_MS)
    assert "gamma=0.01" in page.url and "eps=1e-08" in page.url
    assert_no_errors(page)


def test_four_sessions_at_once(open_app):
    seeds = [1, 2, 3, 4]
    pages = [open_app(seed=s) for s in seeds]
    for page in pages:
        press(page, "Run")
    for seed, page in zip(seeds, pages, strict=True):
        page.wait_for_selector(DONE, timeout=TIMEOUT_MS)
        wait_idle(page, TIMEOUT_MS)
        assert_no_errors(page)
        gd = run(make_problem(seed=seed), "gd", iters=1000, tol=1e-8)
        # Each session shows its own run: GD's final error for its own seed.
        assert page.get_by_text(f"(it is {gd.rel_err:.2e})", exact=False).is_visible(), seed


def test_stop_interrupts_a_long_run(open_app):
    page = open_app(alg="gd", gd_iters=20000, eta="0.05x")
    press(page, "Run")
    page.wait_for_selector("text=· running", timeout=TIMEOUT_MS)
    press(page, "Stop")
    page.wait_for_selector("text=stopped at iteration", timeout=TIMEOUT_MS)
    wait_idle(page, TIMEOUT_MS)
    assert_no_errors(page)
    assert page.get_by_text(re.compile(r"GD · iteration [\d,]+ ·")).is_visible()
    assert not page.get_by_text("GD · iteration 20,000").is_visible()


def test_preset_then_theory_link_keeps_the_settings(open_app):
    page = open_app()
    press(page, "Too few samples")
    page.wait_for_url(re.compile(r"n=300"), timeout=TIMEOUT_MS)
    wait_idle(page, TIMEOUT_MS)
    assert page.get_by_text("n < d²: AM underdetermined").is_visible()
    page.locator("[data-testid='stPageLink-NavLink']", has_text="Theory").click()   # the sidebar link
    page.wait_for_selector("text=Assumptions checklist", timeout=TIMEOUT_MS)
    assert page.get_by_text(re.compile(r"d = 20 · n = 300 ")).is_visible()
    assert "n=300" in page.url
    assert page.locator("[data-testid='stAlertContentWarning']", has_text="default value").count() == 0
    assert_no_errors(page)


DRAWN = """() => [...document.querySelectorAll("[data-testid='stPlotlyChart'] .js-plotly-plot, .sr-react-chart")]
  .filter(e => e.getBoundingClientRect().height > 0)
  .map(e => ({title: (e.layout && e.layout.title && e.layout.title.text) || '',
              traces: (e.data || []).length,
              marks: e.querySelectorAll('.heatmaplayer image, .scatterlayer .point, .scatterlayer .js-line, '
                                        + '.contourlayer path').length}))"""


def test_pictures_tabs_draw_with_data_and_keep_the_live_charts(open_app):
    page = open_app()
    run_to_end(page)
    for tab, title in (("Weights", "Weights at t = "), ("Masks", "Masks P"), ("Network", "The network at t = ")):
        page.get_by_role("tab", name=tab).click()
        wait_idle(page, TIMEOUT_MS)
        page.wait_for_function(f"() => document.body.innerText.includes({title[:8]!r})", timeout=TIMEOUT_MS)
        drawn = mine = []
        deadline = time.monotonic() + 30                # Plotly draws each figure a moment after it arrives
        while time.monotonic() < deadline:
            drawn = page.evaluate(DRAWN)
            mine = [f for f in drawn if title in f["title"]]
            if len(mine) == 2 and all(f["traces"] >= 1 and f["marks"] > 0 for f in mine):
                break
            page.wait_for_timeout(200)
        assert len(mine) == 2 and all(f["traces"] >= 1 and f["marks"] > 0 for f in mine), drawn
        assert_no_errors(page)
    page.get_by_role("tab", name="Landscape").click()
    wait_idle(page, TIMEOUT_MS)
    press(page, "Draw the loss landscape")
    page.wait_for_function("() => document.body.innerText.includes('Training loss around W*')", timeout=TIMEOUT_MS)
    wait_idle(page, TIMEOUT_MS)
    (land,) = [f for f in page.evaluate(DRAWN) if "Training loss around W*" in f["title"]]
    assert land["traces"] >= 4 and land["marks"] > 0
    live = charts(page)
    assert len(live) == 4 and all(sum(ch["points"]) > 0 for ch in live[:3])     # the 4th is the flips heatmap
    assert live[0]["last"].get("am", 0) > 0 and live[0]["last"].get("gd", 0) > 0
    page.evaluate("window.scrollTo(0, 0)")
    assert all(ch["visible"] for ch in charts(page))
    assert_no_errors(page)
