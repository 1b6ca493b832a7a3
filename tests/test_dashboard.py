"""The dashboard's pure parts: URL settings, a run job, its history grid, the live feed, exports, figures."""
from __future__ import annotations

import base64
import csv
import io
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dashboard import export, figures, state  # noqa: E402
from dashboard.history import LINE_DENSITY, grid_upto, snapshot  # noqa: E402
from dashboard.live_chart import OVERLAP, SETTLE, WATCHDOG_MIN, Feed, watchdog_ms  # noqa: E402
from dashboard.run_view import SLOW_STEP, chart_data, status_lines  # noqa: E402
from dashboard.runs import RunJob, largest_n  # noqa: E402
from dashboard.state import FIELDS, defaults, encode, normalize_eta, parse_query  # noqa: E402
from shallowres import MemoryBudgetError, make_problem, run  # noqa: E402

SMALL = dict(defaults(), d=5, n=120, gamma=0.8, gd_iters=30, am_iters=10, seed=4)


def value_of(field):
    if field.kind == "choice":
        return st.sampled_from(field.options)
    if field.kind == "bool":
        return st.booleans()
    if field.kind == "eta":
        return st.one_of(st.just("theory"),
                         st.floats(0.01, 100).map(lambda k: normalize_eta(f"{k!r}x")),
                         st.floats(1e-6, 1e6).map(lambda x: normalize_eta(repr(x))))
    if field.kind == "int":
        return st.integers(int(field.low), int(field.high))
    return st.floats(field.low, field.high)


@settings(max_examples=200, deadline=None)
@given(st.fixed_dictionaries({name: value_of(f) for name, f in FIELDS.items()}))
def test_url_round_trip_is_exact(s):
    got, warnings = parse_query(encode(s))
    assert warnings == []
    assert got == s


def test_missing_repeated_and_streamlit_parameters():
    got, warnings = parse_query({"d": ["5", "7"], "embed": "true"})
    assert got == dict(defaults(), d=7) and warnings == []


@pytest.mark.parametrize("text, want", [("theory", "theory"), ("1x", "theory"), ("0.50x", "0.5x"),
                                        (" 2X ", "2x"), ("12.0", "12"), ("1e-3", "0.001")])
def test_eta_is_normalized(text, want):
    assert state.parse_value(FIELDS["eta"], text) == want


def test_every_bad_value_names_the_allowed_ones():
    _, warnings = parse_query({"d": "1", "init": "zeros", "eta": "0x"})
    assert len(warnings) == 3
    assert "d=`1` is not an integer in [2, 100]" in warnings[0]
    assert "identity, random, delta" in warnings[1]
    assert "using the default eta=theory" in warnings[2]


def drive(job: RunJob, slice_seconds: float = 10.0) -> None:
    """Run the job in this thread, as a worker would, until it wants no more CPU."""
    while job.active:
        if job.run_slice(time.perf_counter() + slice_seconds) == "done":
            break


def test_step_then_run_matches_the_library_run():
    job = RunJob(SMALL)
    assert job.request("step")
    drive(job)
    assert [r.t for r in job.runs.values()] == [1, 1] and job.phase == "paused"
    job.request("run")
    drive(job)
    assert job.done and job.phase == "finished"
    p = make_problem(d=5, n=120, gamma=0.8, seed=4)
    for alg, iters in (("gd", 30), ("am", 10)):
        ref = run(p, alg, iters=iters, tol=SMALL["tol"])
        h = job.runs[alg].history.columns()
        np.testing.assert_array_equal(h["rel_err"], ref.history["rel_err"])
        heat_t, heat = job.runs[alg].history.heatmap()
        np.testing.assert_array_equal(heat, ref.flips_per_neuron[heat_t])
        assert job.runs[alg].stop_reason == ref.stop_reason
        assert job.runs[alg].message == ref.message


def test_empty_charts_have_meaningful_axes_until_data_arrives():
    """Before the first Run the charts show the relative error from 1 to the tolerance and the
    heatmap's neurons 1..d (Plotly's defaults read 1e-9 ... 1e-7 and neurons 0 ... 4); once drawn,
    the axes range over the data."""
    _, _, empty, _ = chart_data(None, SMALL, None, [])
    assert empty[0]["layout"]["yaxis"]["range"] == [np.log10(SMALL["tol"]) - 0.5, 0.3]
    assert empty[3]["layout"]["yaxis"]["range"] == [5.5, 0.5] == empty[3]["layout"]["yaxis2"]["range"]
    job = RunJob(SMALL)
    job.request("step")
    drive(job)
    _, _, drawn, _ = chart_data(job, SMALL, None, [])
    assert "range" not in drawn[0]["layout"]["yaxis"] and "range" not in drawn[3]["layout"]["yaxis"]
    # autorange said outright: after Reset (axes given a range) Plotly would otherwise keep it off
    assert drawn[0]["layout"]["yaxis"]["autorange"] is True and drawn[3]["layout"]["xaxis"]["autorange"] is True
    assert drawn[3]["layout"]["yaxis"]["autorange"] == "reversed"


def test_stop_abandons_the_step_and_run_resumes_after_a_release():
    job = RunJob(dict(SMALL, alg="gd", gd_iters=200, tol=1e-14))
    job.request("run")
    job.run_slice(time.perf_counter())          # one step
    assert job.stop() and not job.stop()        # the second Stop finds nothing running
    assert job.phase == "paused" and "Stop" in job.why
    assert job.run_slice(time.perf_counter() + 10) == "idle"
    t = job.runs["gd"].t
    job.release()                               # the server took the memory back
    assert job.runs["gd"].stepper is None
    job.request("run")
    drive(job)
    ref = run(make_problem(d=5, n=120, gamma=0.8, seed=4), "gd", iters=200, tol=1e-14)
    np.testing.assert_array_equal(job.runs["gd"].history.columns()["rel_err"], ref.history["rel_err"])
    assert t >= 1 and job.runs["gd"].stop_reason == ref.stop_reason


def test_after_stop_returns_no_step_lands():
    """Stop waits for the step under way (abandoned or recorded), so the iterate the page draws
    right after Stop is where the run stays (a browser test saw Step add two iterations)."""
    import threading
    for _ in range(20):
        job = RunJob(dict(SMALL, alg="gd", d=20, n=1700, gd_iters=100_000, tol=1e-300))
        job.request("run")
        worker = threading.Thread(target=drive, args=(job, 0.01))
        worker.start()
        while job.runs["gd"].t < 5:
            time.sleep(0.001)
        job.stop()
        t = job.runs["gd"].t
        worker.join()
        assert job.runs["gd"].t == t and job.phase == "paused"


def test_stop_drops_an_am_step_near_n_equals_d2_mid_solve():
    """Issue 15: at d = 60, n = d^2 one AM step runs 22,000 inner iterations (about 40 s alone);
    Stop returns once the solve has been abandoned at its next checkpoint, W^t kept."""
    import threading
    job = RunJob(dict(SMALL, alg="am", d=60, n=3600, am_iters=2, tol=1e-300))
    job.request("run")
    worker = threading.Thread(target=drive, args=(job,))
    worker.start()
    while not (job.runs["am"].t == 0 and job._stepping.locked()):
        assert worker.is_alive(), "the run ended before its first AM step began"
        time.sleep(0.005)
    while job.status().stepping.get("am", 0.0) < SLOW_STEP:         # a long step shows that it moves
        time.sleep(0.05)
    lines = status_lines(job, {"am": snapshot(job.runs["am"].history)}, {"mode": "live"})
    assert re.search(r"running · iteration 1 under way for \d+ s \(this server allows 20 s of CPU", lines[0][1]), lines
    start, cpu = time.perf_counter(), time.process_time()
    assert job.stop()
    worker.join(timeout=60)
    print(f"\nStop returned after {time.perf_counter() - start:.3f} s, {time.process_time() - cpu:.3f} s of CPU")
    assert not worker.is_alive() and not job._stepping.locked()
    assert job.runs["am"].t == 0 and job.phase == "paused" and job.runs["am"].stop_reason is None
    assert job.status().stepping == {}


def test_cut_by_the_server_says_so():
    job = RunJob(SMALL)
    job.request("run")
    job.cut("the page was closed")
    assert job.phase == "paused" and job.why == "stopped by the server: the page was closed"
    assert job.run_slice(time.perf_counter() + 1) == "idle"


def test_memory_guard_before_allocating():
    with pytest.raises(MemoryBudgetError, match="memory budget"):
        RunJob(dict(defaults(), d=100, n=200_000))
    assert 2 <= largest_n(dict(defaults(), d=100, n=200_000), 600 * 2**20) < 200_000
    assert largest_n(dict(defaults(), d=20, n=1700), 600 * 2**20) == 1700


def test_exports_are_complete_and_json_safe():
    job = RunJob(dict(SMALL, eta="100x", alg="both"))
    job.request("run")
    drive(job)
    assert job.runs["gd"].stop_reason == "diverged"
    rows = list(csv.DictReader(io.StringIO(export.history_csv(job))))
    assert len(rows) == sum(r.t + 1 for r in job.runs.values())
    assert {row["alg"] for row in rows} == {"gd", "am"}
    doc = json.loads(export.run_json(job))
    assert doc["config"]["eta"] == "100x" and doc["query"].startswith("?d=5&n=120")
    assert doc["algorithms"]["gd"]["stop_reason"] == "diverged"
    W = np.array(doc["algorithms"]["am"]["W"], dtype=float)
    np.testing.assert_allclose(W, job.runs["am"].W)
    assert len(doc["algorithms"]["am"]["history"]["t"]) == job.runs["am"].t + 1
    np.testing.assert_array_equal(doc["W_star"], make_problem(d=5, n=120, gamma=0.8, seed=4).W_star)


def test_grid_only_grows_and_snapshots_hold_the_grid_and_the_latest_record():
    prev = 0
    for T in range(0, 20_001, 37):
        n = len(grid_upto(T, LINE_DENSITY))
        assert n >= prev
        prev = n
    assert len(grid_upto(20_000, LINE_DENSITY)) < 700
    assert list(grid_upto(10, 4)) == list(range(8)) + [8, 10]
    job = RunJob(dict(SMALL, alg="gd", gd_iters=300, tol=1e-15))
    job.request("run")
    drive(job)
    snap = snapshot(job.runs["gd"].history)
    cols = job.runs["gd"].history.columns()
    np.testing.assert_array_equal(snap.grid["t"], grid_upto(snap.T, LINE_DENSITY))
    np.testing.assert_array_equal(snap.grid["rel_err"], cols["rel_err"][snap.grid["t"]])
    assert snap.head["t"] == cols["t"][-1] == snap.T
    half = snapshot(job.runs["gd"].history, upto=100)
    assert half.T == 100 and half.grid["t"][-1] <= 100 and half.heat_t[-1] <= 100


def test_feed_sends_only_recent_rows_and_everything_after_a_reset():
    clock = [0.0]
    feed = Feed(clock=lambda: clock[0])
    full = feed.payload("g", {"a.t": np.arange(10)}, {}, [])
    assert full["full"] and full["series"]["a.t"]["base"] == 0
    clock[0] = 0.3 * OVERLAP
    p = feed.payload("g", {"a.t": np.arange(15)}, {}, [])
    assert p["series"]["a.t"]["base"] == 0              # nothing sent OVERLAP s ago yet: resend all
    clock[0] = 1.5 * OVERLAP
    p = feed.payload("g", {"a.t": np.arange(30)}, {}, [])
    assert p["series"]["a.t"]["base"] == 15 and not p["full"]
    got = np.frombuffer(base64.b64decode(p["series"]["a.t"]["b64"]), dtype="<i4")
    np.testing.assert_array_equal(got, np.arange(15, 30))
    clock[0] = 3 * OVERLAP
    last = feed.payload("g", {"a.t": np.arange(40)}, {}, [], final=True)    # nothing will mend a gap
    assert last["full"] and last["final"] and last["series"]["a.t"]["base"] == 0
    assert feed.payload("other", {"a.t": np.arange(30)}, {}, [])["full"]
    feed.reset()
    assert feed.payload("other", {"a.t": np.arange(31)}, {}, [])["series"]["a.t"]["base"] == 0
    m = feed.payload("other", {"m": np.ones((3, 4), dtype=np.int64)}, {}, [])["series"]["m"]
    assert m["width"] == 4 and m["dtype"] == "i4"


def test_figure_specs_reference_the_series_and_show_zero_flips():
    specs = [figures.rel_err_spec(["gd", "am"], {"gd": 30, "am": 5}, 1e-8, True),
             figures.flips_spec(["gd", "am"], {"gd": 30, "am": 5}, 500, True),
             figures.loss_spec(["gd", "am"], {"gd": 30, "am": 5}, True),
             figures.heatmap_spec(["gd", "am"], 5, 100)]
    refs = {(v["alg"], v["ref"]) for s in specs for tr in s["traces"] for v in tr.values()
            if isinstance(v, dict) and "ref" in v}
    assert {("gd", "rel_err"), ("am", "train_loss"), ("gd", "flips_teacher"), ("am", "heat")} <= refs
    flips_axis = specs[1]["layout"]["yaxis"]
    assert flips_axis["tickvals"][0] == figures.FLOOR and flips_axis["ticktext"][0] == "0"
    assert specs[3]["layout"]["coloraxis"]["cmin"] == 0
    assert "<sub>F</sub>" in specs[0]["layout"]["title"]["text"] and "_F" not in specs[0]["layout"]["title"]["text"]
    assert figures.log_ticks(1000)["tickvals"] == [1, 10, 100, 1000]
    heat = figures.heatmap_spec(["gd", "am"], 5, 100, {"gd": 0, "am": 40})["layout"]
    assert heat["xaxis"]["dtick"] == 1 and "dtick" not in heat["xaxis2"]     # whole iterations while few
    assert figures.log_ticks(7)["tickvals"][:4] == [1, 2, 5, 10]


def test_watchdogs_while_moving_and_while_a_full_run_is_unconfirmed():
    assert watchdog_ms(None) is None                              # still, and the page seen drawn
    assert watchdog_ms(None, settle=True) == 1000 * SETTLE        # still, its full run not yet seen to end
    assert watchdog_ms(0.25) == 1000 * WATCHDOG_MIN               # moving: six ticks, at least 4 s
    assert watchdog_ms(2.0, settle=True) == 12_000


def test_page_sync_marks_an_erroring_page_drawn_but_not_a_cut_one():
    """An error ends a page's full run (its fragment must not loop full reruns on it); a run cut
    short by Streamlit (a rerun or a stop) stays marked as not drawn to its end."""
    from streamlit.testing.v1 import AppTest

    def page(kind: str):
        import streamlit as st

        from dashboard.fragments import PageSync

        sync = PageSync("demo")

        def main():
            sync.begin(moving=False)
            if kind == "error":
                raise ValueError("boom")
            st.stop()

        sync.run(main)

    error = AppTest.from_function(page, args=("error",)).run()
    assert error.exception and error.session_state["demo_drawn"] is True
    stopped = AppTest.from_function(page, args=("stop",)).run()
    assert not stopped.exception and stopped.session_state["demo_drawn"] is False


def test_page_sync_names_each_full_run_and_ends_it_with_its_marker():
    """Every full run draws a hidden marker naming it, last; a payload checks against the latest name
    only from a fragment's own run after the full run ended (tests/browser: the check and redraw)."""
    from streamlit.testing.v1 import AppTest

    def page():
        import streamlit as st

        from dashboard.fragments import PageSync

        sync = PageSync("demo")

        def main():
            sync.begin(moving=False)
            st.session_state["seen"] = sync.check()
            st.markdown("body")
            sync.end()

        sync.run(main)

    at = AppTest.from_function(page).run()
    assert at.session_state["demo_drawn"] is True
    assert at.session_state["seen"] == {"mark": "demo:1", "drawn": False}    # a full run: nothing to check
    last = lambda: list(at.main.children.values())[-1].proto.body       # noqa: E731
    assert last() == '<span data-sr-page="demo:1" hidden></span>'
    at.run()
    assert last() == '<span data-sr-page="demo:2" hidden></span>'


def test_a_scrub_applies_to_a_stopped_run_and_is_ignored_once_the_run_moved_on():
    """The replay slider is drawn only for a stopped run; a change from a slider drawn at an earlier
    stop that arrives after Run must not freeze the view at that stop (seen in Chromium, 3 of 26)."""
    from types import SimpleNamespace

    from dashboard.replay import JOB, VIEW, cursor, scrub

    def job(active: bool, t: int):
        return SimpleNamespace(active=active, T=t)

    live = {"mode": "live"}
    state = {JOB: job(True, 6000), VIEW: dict(live), "replay_t": 4777}
    scrub(state, 4777, True)                               # during the run that went on from t = 4,777
    assert state[VIEW] == live and cursor(state[VIEW], 0.0) is None
    state[JOB] = job(False, 20000)
    scrub(state, 4777, True)                               # after it ended, from the old slider
    assert state[VIEW] == live
    scrub(state, 20000, True)                              # the slider of the ended run
    assert state[VIEW]["mode"] == "timed" and not state[VIEW]["playing"]
    assert cursor(state[VIEW], 0.0) == 4777
