"""The Phase-transition page in a real browser (Chromium) against ``streamlit run app.py``."""
from __future__ import annotations

import re
import time

import pytest
from browser_helpers import TIMEOUT_MS, assert_no_errors, drop_the_full_run_showing, press, url_for

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
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 3",
                           timeout=TIMEOUT_MS)                              # Plotly draws after the script
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
    page.wait_for_timeout(2000)                                              # nothing computes after Stop
    assert f"Stopped after {stopped} of 200" in page.inner_text("body")
    assert page.locator("[data-testid='stProgress']").count() == 0
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


# The phase chart (the page's first Plotly chart) and the progress line, as the browser shows them now.
SAMPLE_JS = """() => {
  const bar = document.querySelector("[data-testid='stProgress']");
  const plot = document.querySelector('.js-plotly-plot');
  let chart = false;
  if (plot) {
    const r = plot.getBoundingClientRect();
    let op = 1;
    for (let e = plot; e; e = e.parentElement) op *= parseFloat(getComputedStyle(e).opacity || '1');
    chart = r.width > 100 && r.height > 100 && op > 0.3;
  }
  return {progress: bar ? bar.innerText : null, chart,
          done: /All (\\d+) trials in/.exec(document.body.innerText)?.[1] ?? null};
}"""
SWEEP = dict(grid="custom", n="700,1200", d=20, gamma=2, trials=25)      # 200 trials at the paper's d


def trials_shown(sample: dict) -> int | None:
    if sample["done"] is not None:
        return int(sample["done"])
    m = re.match(r"\s*([\d,]+) of ([\d,]+) trials", sample["progress"] or "")
    return int(m.group(1).replace(",", "")) if m else None


def test_while_a_sweep_runs_its_progress_never_goes_back_and_the_chart_stays(open_app):
    page = open_app("Phase_transition", **SWEEP)
    press(page, "Run")
    page.wait_for_selector("[data-testid='stProgress']", timeout=TIMEOUT_MS)
    samples = []
    deadline = time.monotonic() + 600
    while not samples or samples[-1]["done"] is None:
        assert time.monotonic() < deadline, "the sweep did not finish"
        samples.append(page.evaluate(SAMPLE_JS))
        page.wait_for_timeout(150)
    counts = [c for c in map(trials_shown, samples) if c is not None]
    assert counts[-1] == 200 and len(samples) > 20
    assert all(a <= b for a, b in zip(counts, counts[1:], strict=False)), f"the trial count went back: {counts}"
    assert len(set(counts)) >= 4, f"the progress did not grow in steps: {sorted(set(counts))}"
    blank = [i for i, s in enumerate(samples) if not s["chart"]]
    assert not blank, f"the chart was off screen in {len(blank)} of {len(samples)} samples (first at {blank[:5]})"
    page.wait_for_selector(DONE, timeout=TIMEOUT_MS)         # the table follows the note within a moment
    wait_idle(page, TIMEOUT_MS)
    assert page.get_by_text("All 200 trials in").is_visible()
    assert page.locator(DONE).count() == 1 and page.locator("[data-testid='stDataFrame']").count() >= 1
    assert_no_errors(page)


def test_two_sessions_sweeping_at_once_both_finish(open_app):
    grid = dict(grid="custom", n="700", d=20, gamma=2, trials=10)               # 40 trials each
    a = open_app("Phase_transition", **grid, seed=11)
    b = open_app("Phase_transition", **grid, seed=12)
    press(a, "Run")
    press(b, "Run")
    samples = []
    deadline = time.monotonic() + 600
    while not samples or None in (samples[-1][0]["done"], samples[-1][1]["done"]):
        assert time.monotonic() < deadline, "the two sweeps did not both finish"
        samples.append((a.evaluate(SAMPLE_JS), b.evaluate(SAMPLE_JS)))
        a.wait_for_timeout(150)
    shown = [sum(bool(s[i]["progress"]) for s in samples) for i in (0, 1)]
    assert any(sa["progress"] and sb["progress"] for sa, sb in samples), \
        f"the two sweeps never ran at once: progress in {shown} of {len(samples)} samples"
    for i, page in enumerate((a, b)):
        counts = [c for c in (trials_shown(s[i]) for s in samples) if c is not None]
        assert counts[-1] == 40 and all(x <= y for x, y in zip(counts, counts[1:], strict=False)), counts
        page.wait_for_selector(DONE, timeout=TIMEOUT_MS)                     # the table's download, at the end
        wait_idle(page, TIMEOUT_MS)
        assert page.get_by_text("All 40 trials in").is_visible() and page.locator(DONE).count() == 1
        assert "this server process" in page.inner_text("body")
        assert_no_errors(page)


def test_a_page_that_lost_the_full_run_after_its_sweep_ended_draws_it_again(open_app):
    """As on the Train page (test_live_browser): the browser loses the full run that follows a finished
    sweep. Here the live fragment has already drawn the result, so little is missing, but the page must
    still notice that it does not show the server's last full run, and ask for it again."""
    page = open_app("Phase_transition", grid="custom", n="12,60,200", d=4, gamma=1, trials=6, gd_iters=3000)
    lost = drop_the_full_run_showing(page, b"All 72 trials in")
    page.reload()
    wait_idle(page, TIMEOUT_MS)
    press(page, "Run")
    page.wait_for_selector(DONE, timeout=TIMEOUT_MS)
    page.wait_for_function("() => Number(document.body.dataset.srRepages || 0) >= 1", timeout=30_000)
    wait_idle(page, TIMEOUT_MS)
    asked = page.evaluate("() => Number(document.body.dataset.srRepages || 0)")
    print(f"\nmessages of the lost full run: {lost['dropped']}; the page asked for a full run {asked} time(s)")
    assert lost["done"] and lost["dropped"] > 5, "no full run was lost: the test did not interfere"
    assert asked >= 1
    assert page.get_by_text("All 72 trials in").is_visible()
    assert_no_errors(page)
