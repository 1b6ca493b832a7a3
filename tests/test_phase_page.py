"""The Phase-transition page, headless (streamlit.testing AppTest)."""
import base64
import dataclasses
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import server, sweep_view
from dashboard.sweep_jobs import SweepAdmissionJob
from shallowres.sweep import DETERMINISTIC_COLUMNS, SweepSpec, rows_from_csv, run_sweep
from shallowres.sweep_job import SweepJob

ROOT = Path(__file__).resolve().parent.parent
PAGE = "pages/2_Phase_transition.py"
TINY = {"grid": "custom", "n": "12,60", "d": "4", "gamma": "1", "trials": "2", "gd_iters": "300"}
TINY_SPEC = SweepSpec(n=(12, 60), d=(4,), gamma=(1.0,), trials=2, gd_iters=300)
CURVES = {"GD · identity init", "GD · random init", "AM · identity init", "AM · random init"}


def opened(query: dict | None = None) -> AppTest:
    """The app deep-linked to the page (its first run is on the page), not yet run."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(query or {})
    at.switch_page(PAGE)
    return at


def page(query: dict | None = None) -> AppTest:
    return opened(query).run()


def charts(at: AppTest) -> list[dict]:
    """The page's Plotly figures in order: the phase chart (a ``dashboard.react_chart`` component,
    updated in place), then the maps' ``st.plotly_chart`` elements."""
    live = [json.loads(json.loads(c.proto.json)["fig"]) for c in at.get("bidi_component")]
    return live + [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def figure(at: AppTest) -> dict:
    """The phase-transition chart: the first on the page (the maps follow it)."""
    return charts(at)[0]


def texts(elements) -> str:
    return " ".join(e.value for e in elements)


def values(trace: dict, key: str) -> list[float]:
    """A trace field as a list (Plotly may send NumPy arrays base64-encoded)."""
    v = trace[key] if key in trace else trace["error_y"][key]
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"])).tolist()
    return list(v)


def table(at: AppTest):
    return at.dataframe[0].value.drop(columns="median_seconds")


def session_job(at: AppTest):
    return at.session_state["phase_job"] if "phase_job" in at.session_state else None


def settle(at: AppTest, timeout: float = 120) -> AppTest:
    """Rerun the page (as its live fragment does, run_every) until the server has finished the sweep."""
    deadline = time.monotonic() + timeout
    while True:
        job = session_job(at)
        if (job is None or not job.active) and "Running on the server" not in texts(at.markdown):
            return at.run()
        assert time.monotonic() < deadline, "the sweep did not finish"
        time.sleep(0.05)
        at.run()        # the page's fragment reruns while its last render said running


def run(at: AppTest) -> AppTest:
    return settle(at.button(key="run_btn").click().run())


@pytest.fixture(autouse=True, scope="module")
def servers_controller():
    """The server's controller for this module's pages, closed after it. AppTest's sessions are not the
    runtime's, so its reaper would cut a sweep that takes longer than the grace (a loaded machine): here
    every session counts as alive (the reaper's cut is tested directly)."""
    def fresh():
        server.controller().close()
        server.controller.clear()

    patch = pytest.MonkeyPatch()
    patch.setattr(server, "is_alive", lambda session_id: True)
    fresh()
    yield
    fresh()
    patch.undo()


@pytest.fixture(autouse=True)
def empty_cache():
    sweep_view._stored.clear()
    yield


def test_a_cold_page_shows_the_papers_grid_precomputed_and_run_recomputes_it():
    at = page()
    assert not at.exception
    assert "The paper's grid, precomputed" in texts(at.info)
    assert at.radio(key="grid").value == "paper" and at.number_input(key="d").value == 20
    assert at.slider(key="trials").value == 10 and at.multiselect(key="alg").value == ["GD", "AM"]
    assert at.multiselect(key="init").value == ["identity", "random"]
    assert "The paper" in texts(at.markdown) and "N(0, 1/n)" in texts(at.markdown)
    fig = figure(at)
    assert {t["name"] for t in fig["data"]} >= CURVES | {"n = d² = 400"}
    assert fig["layout"]["xaxis"]["tickvals"] == [200, 700, 1200, 1700]
    shipped = rows_from_csv((ROOT / "docs" / "phase_transition.csv").read_text())
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == len(shipped) == 16
    assert list(at.dataframe[0].value["stalled"]) == [r.stalled for r in shipped]
    other = page({"seed": "1"})                     # another seed: nothing precomputed
    assert "Press **Run** to start 160 trials" in texts(other.info)


def test_a_tiny_sweep_draws_four_curves_with_wilson_error_bars_and_an_eta():
    at = page(TINY)
    assert "16 trials" in texts(at.info)
    run(at)
    assert not at.exception
    assert "All 16 trials in" in texts(at.success) and "stopped as stalled" in texts(at.success)
    fig = figure(at)
    curves = [t for t in fig["data"] if t["name"] in CURVES]
    assert {t["name"] for t in curves} == CURVES
    assert "n = d² = 16" in [t["name"] for t in fig["data"]]
    for t in curves:
        err = t["error_y"]
        assert err["type"] == "data" and err["symmetric"] is False
        y, up, down = (values(t, k) for k in ("y", "array", "arrayminus"))
        assert len(y) == len(up) == len(down) == 2
        assert all(0 <= p - dn <= p <= p + u <= 1 + 1e-12 for p, u, dn in zip(y, up, down, strict=True))
    am = next(t for t in curves if t["name"] == "AM · identity init")
    assert values(am, "y") == [0.0, 1.0]        # n = 12 < d^2 = 16: never; n = 60: always
    assert fig["layout"]["xaxis"]["title"]["text"] and fig["layout"]["yaxis"]["title"]["text"]
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 8
    assert len(at.get("download_button")) == 1
    ref = run_sweep(TINY_SPEC, "serial")
    assert list(table(at)["recovered"]) == [f"{r.successes} / {r.trials}" for r in ref.rows]
    assert list(table(at)["stalled"]) == [r.stalled for r in ref.rows]


def test_the_same_sweep_asked_twice_is_served_from_the_cache():
    at = page(TINY)
    run(at)
    first = figure(at)
    again = page(TINY)                     # a new session asking for the same sweep: no Run needed
    assert not again.exception
    assert "served from the cache" in texts(again.success)
    assert figure(again)["data"] == first["data"]
    at.slider(key="trials").set_value(3).run()      # another sweep: not cached
    assert "Press **Run** to start 24 trials" in texts(at.info)


def test_run_again_replaces_the_cached_sweep_and_shows_its_own_times():
    """A second Run of a cached sweep recomputes it; the page and the cache then hold the new run
    (cache_data returned the first entry for ever: the page showed the first run's seconds)."""
    at = run(page(TINY))
    first = sweep_view.cached(TINY_SPEC.key())
    run(at)
    second = sweep_view.cached(TINY_SPEC.key())
    assert second is not None and second.trials != () and second.seconds != first.seconds
    assert f"All {second.done} trials in {second.seconds:.1f} s" in texts(at.success)
    old = dataclasses.replace(second, seconds=second.seconds + 100.0)
    sweep_view.remember("k", old)
    sweep_view.remember("k", second)
    assert sweep_view.cached("k").seconds == second.seconds


def test_oversize_and_invalid_grids_are_refused_with_a_message():
    at = page({"grid": "fine", "trials": "50"})
    assert not at.exception
    assert "4,000 runs" in texts(at.error) and "at most 1,000" in texts(at.error)
    assert not [b for b in at.button if b.key == "run_btn"]
    bad = page({"grid": "custom", "n": "abc"})
    assert "This grid cannot run" in texts(bad.error) and "n must be a comma" in texts(bad.error)
    none = page()
    none.multiselect(key="alg").set_value([]).run()
    assert "alg must be a non" in texts(none.error)


def test_fine_grid_option():
    at = page({"grid": "fine", "trials": "2"})
    assert not at.exception and "Press **Run** to start 160 trials" in texts(at.info)
    assert figure(at)["layout"]["xaxis"]["range"][1] > 2000


def test_stop_then_run_resumes_where_it_stopped():
    """A job stopped part-way (what a Stop leaves in the session) shows its trials, and Run
    carries on from there: the finished table equals a fresh run's."""
    job = SweepJob(TINY_SPEC, batch_bytes=16 * 2**20)
    while job.done < 5:
        job.advance(0.001)
    done_before = job.done
    at = opened(TINY)
    at.session_state["phase_job"] = job
    at.run()
    assert not at.exception
    assert f"Stopped after {done_before} of 16 trials" in texts(at.info)
    assert "s of compute left" in texts(at.info)            # the ETA, from the batches done
    assert at.button(key="run_btn").label == "Resume"
    names = [t["name"] for t in figure(at)["data"]]
    assert "GD · identity init" in names and len(at.dataframe) == 1
    run(at)
    assert not at.exception and "All 16 trials in" in texts(at.success)
    assert job.done == 16                                  # the same job object carried on
    assert "phase_job" not in at.session_state             # the finished sweep left the session
    ref = run_sweep(TINY_SPEC, "serial")
    assert list(table(at)["median_rel_err"]) == [f"{r.median_rel_err:.2e}" for r in ref.rows]


def test_new_controls_reach_the_spec():
    at = page({**TINY, "noise": "0.2", "resample": "true", "init": ["identity", "delta"], "delta": "0.5",
               "stall": "false", "algs": "x"})
    assert not at.exception
    cap = texts(at.markdown)
    assert "label noise σ = 0.2/√n" in cap and "fresh batch" in cap and "δ-ball start at δ = 0.5" in cap
    assert "or when it has stalled" not in cap
    run(at)
    assert not at.exception and "All 16 trials" in texts(at.success)
    spec = SweepSpec(n=(12, 60), d=(4,), gamma=(1.0,), trials=2, gd_iters=300, noise=(0.2,), resample=True,
                     inits=("identity", "delta"), delta=0.5, stall=False)
    ref = run_sweep(spec, "serial")
    assert list(table(at)["recovered"]) == [f"{r.successes} / {r.trials}" for r in ref.rows]
    assert set(table(at)["stalled"]) == {0}


def test_local_processes_option_gives_the_serial_table():
    serial = page(TINY)
    run(serial)
    sweep_view._stored.clear()
    procs = page(TINY)
    procs.radio(key="run_on").set_value("processes").run()
    procs.button(key="run_btn").click().run()
    assert not procs.exception and "2 local processes" in texts(procs.success)
    assert "outside the server's shared budget" in texts(procs.caption)
    cached = sweep_view.cached(TINY_SPEC.key())
    assert table(procs).equals(table(serial)), (cached.lost, cached.retried, cached.done, texts(procs.warning))
    assert len(procs.dataframe) == 1 and len(charts(procs)) == len(charts(serial))   # one phase chart


def test_a_sweep_goes_through_the_servers_controller_and_gives_the_direct_table():
    ctl = server.controller()
    slices = ctl.stats().slices
    at = page(TINY).button(key="run_btn").click().run()
    assert not at.exception
    job = session_job(at)
    assert isinstance(job, SweepAdmissionJob) and job.bytes > 0
    if job.active:                                     # (a fast machine may have finished it already)
        assert re.search(r"Running on the server|Waiting for room", texts(at.markdown))
        assert re.fullmatch(r"\d+ of 16 trials.*", at.get("progress")[0].proto.text)
    settle(at)
    assert "All 16 trials in" in texts(at.success), (texts(at.info), texts(at.warning), texts(at.markdown))
    assert "this server process" in texts(at.success)
    assert ctl.stats().slices > slices                 # computed on the controller's workers
    assert ctl.place(job).state == "none"              # and its memory given back
    ref = run_sweep(TINY_SPEC, "serial")
    assert list(table(at)["median_rel_err"]) == [f"{r.median_rel_err:.2e}" for r in ref.rows]
    assert list(table(at)["recovered"]) == [f"{r.successes} / {r.trials}" for r in ref.rows]


BIGGER = {"grid": "custom", "n": "100,200,300,400", "d": "8", "gamma": "1", "trials": "10", "gd_iters": "2000"}
BIGGER_SPEC = SweepSpec(n=(100, 200, 300, 400), d=(8,), gamma=(1.0,), trials=10, gd_iters=2000)


def started_bigger():
    """The BIGGER sweep run on the server until its first trial is done: (page, job)."""
    at = page(BIGGER).button(key="run_btn").click().run()
    job = session_job(at)
    deadline = time.monotonic() + 60
    while job.job.done == 0:
        assert time.monotonic() < deadline, "no trial finished"
        time.sleep(0.02)
    return at, job


def test_stop_withdraws_the_sweep_and_run_resumes_it_to_the_same_table():
    at, job = started_bigger()
    at.button(key="stop_btn").click().run()
    assert not job.active
    time.sleep(0.5)                                     # the slice under way ends; no more after it
    stopped = job.job.done
    time.sleep(0.5)
    assert job.job.done == stopped < BIGGER_SPEC.total, "the sweep kept computing after Stop"
    at.run()
    assert f"Stopped after {stopped} of {BIGGER_SPEC.total} trials" in texts(at.info)
    assert at.button(key="run_btn").label == "Resume" and len(at.dataframe) == 1
    run(at)
    assert not at.exception
    assert f"All {BIGGER_SPEC.total} trials in" in texts(at.success), (texts(at.info), texts(at.warning),
                                                                      texts(at.markdown), job.job.done)
    ref = run_sweep(BIGGER_SPEC, "serial")
    assert list(table(at)["median_rel_err"]) == [f"{r.median_rel_err:.2e}" for r in ref.rows]
    assert list(table(at)["median_iters"]) == [r.median_iters for r in ref.rows]


@pytest.fixture
def server_memory(monkeypatch):
    """``server_memory(mb)``: the server's controller anew with an ``mb`` MB budget (SHALLOWRES_MEMORY_MB);
    a fresh default one after the test."""
    def fresh():
        server.controller().close()
        server.controller.clear()

    def set_to(mb: int):
        monkeypatch.setenv("SHALLOWRES_MEMORY_MB", str(mb))
        fresh()
        return server.controller()
    yield set_to
    monkeypatch.delenv("SHALLOWRES_MEMORY_MB", raising=False)
    fresh()


def test_a_sweep_bigger_than_the_servers_memory_is_refused_naming_its_size(server_memory):
    server_memory(5)
    query = {"grid": "custom", "n": "5000", "d": "40", "trials": "1", "alg": "AM", "init": "identity"}
    at = page(query).button(key="run_btn").click().run()
    assert not at.exception and server.controller().limits.memory == 5 * 2**20
    job = session_job(at)
    needed = job.bytes / 2**20
    assert needed > 5
    msg = texts(at.error)
    assert "This sweep is too big for this server" in msg
    assert f"needs about {needed:,.0f} MB" in msg and "has 5 MB" in msg and "smaller n or d" in msg
    assert not job.active and job.job.done == 0 and server.controller().place(job).state == "none"
    assert at.button(key="run_btn").label == "Run"


LINK_CASES = [
    ({"d": "500"}, "URL parameter d=`500` is not an integer in [2, 40]; using the default d=20."),
    ({"trials": "99999"}, "trials=`99999` is not an integer in [1, 50]"),
    ({"gamma": "abc"}, "gamma=`abc` is not a number in [0, 10]"),
    ({"eta": "fast"}, "eta=`fast` is not one of 0.9x, theory, 0.5x"),
    ({"alg": ["GD", "SGD"]}, "URL parameter alg=`SGD` is not one of GD, AM; ignored."),
    ({"colour": "red"}, "Unknown URL parameter `colour` was ignored (known: grid, d,"),
    ({"d": "1e309"}, "d=`1e309` is not an integer in [2, 40]; using the default d=20."),   # int(inf) in Streamlit
    ({"seed": "-1e400"}, "seed=`-1e400` is not an integer in [0, 2147483647]"),
    ({"trials": "9" * 400}, "trials=`" + "9" * 60 + "…` is not an integer in [1, 50]"),
]


@pytest.mark.parametrize("query,words", LINK_CASES)
def test_bad_link_values_warn_as_on_the_other_pages(query, words):
    at = page(query)
    assert not at.exception
    assert words in texts(at.warning)


def test_good_links_do_not_warn_and_the_last_of_a_repeated_value_counts():
    at = page({"d": ["5", "6"], "grid": ["fine", "paper"], "alg": ["GD", "AM"], "threshold": "0.05",
               "eta": "theory", "embed": "true"})
    assert not at.exception and not at.warning
    assert at.number_input(key="d").value == 6 and at.radio(key="grid").value == "paper"
    assert at.select_slider(key="threshold").value == "0.05"
    bad_last = page({"d": ["6", "500"]})
    assert "d=`500` is not an integer" in texts(bad_last.warning) and bad_last.number_input(key="d").value == 20


def test_link_values_are_echoed_as_code_never_as_markup():
    img = "![x](http://example.invalid/val.png)"
    at = page({"grid": "custom", "n": img, "eta": "`" + img, "x" * 5000: "1"})
    assert not at.exception
    shown = texts(at.warning) + " " + texts(at.error)
    spans = re.findall(r"`([^`]*)`", shown)           # every echoed value sits inside a code span
    outside = re.sub(r"`[^`]*`", "", shown)
    assert "example.invalid" not in outside and "![" not in outside
    assert any(img in s for s in spans) and any(s.startswith("ʼ![x]") for s in spans)
    assert len(shown) < 2000                          # long values are cut, not echoed whole


def test_the_map_section_shows_the_shipped_map_and_its_exponent():
    at = page()
    assert not at.exception
    figs = charts(at)
    heat = next(f for f in figs if any(t["type"] == "heatmap" for t in f["data"]))
    names = {t.get("name") for t in heat["data"]}
    assert any(n and n.startswith("50% threshold n*/d²") for n in names) and "n = d² (AM's d² unknowns)" in names
    assert heat["layout"]["xaxis"]["title"]["text"].startswith("input dimension d")
    assert heat["layout"]["yaxis"]["title"]["text"] == "samples per unknown, n / d²"
    alpha = next(f for f in figs if f["layout"]["yaxis"].get("type") == "log")
    assert {"paper's bound ∝ d³ (slope 3)", "n = d² (AM's unknowns)"} <= {t.get("name") for t in alpha["data"]}
    assert "Fitted exponent" in " ".join(m.value for m in at.markdown)
    shipped = rows_from_csv((ROOT / "docs" / "phase_map_d.csv").read_text())
    assert {r.d for r in shipped} >= {5, 50} and len({r.d for r in shipped}) >= 6


def test_the_gamma_maps_n_labels_do_not_crowd_and_its_caption_is_typeset():
    """The gamma map's rows n = 400, 450, ..., 600 sit a few pixels apart on its log axis: only labels at
    least 5% of the axis apart are labelled (they overlapped)."""
    at = page()
    heats = [f for f in charts(at) if any(t["type"] == "heatmap" for t in f["data"])]
    y = heats[-1]["layout"]["yaxis"]
    assert y["type"] == "log"
    pos = np.log10(y["tickvals"])
    lo, hi = y["range"]
    assert np.diff(pos).min() >= 0.05 * (pos[-1] - pos[0]) and len(pos) >= 6 and lo <= pos[0] and pos[-1] <= hi
    assert y["ticktext"] == [f"{v:g}" for v in y["tickvals"]]
    caption = texts(at.caption)
    assert "‖W\\*‖_F" not in caption and r"$\|W^*\|_F/\|I\|_F$" in caption and r"$\|W^*\|_F$" in caption
    assert "= 1.99 at the paper's δ = 0.8" in caption


def test_shipped_map_rows_are_consistent():
    """The shipped maps are sweep tables of their grids: every cell has its trials."""
    for name in ("phase_map_d.csv", "phase_map_gamma.csv"):
        rows = rows_from_csv((ROOT / "docs" / name).read_text())
        assert rows and all(r.trials == rows[0].trials >= 20 for r in rows)
        assert all(0 <= r.successes <= r.trials and r.probability == r.successes / r.trials for r in rows)
    assert set(DETERMINISTIC_COLUMNS) <= set(rows[0].as_dict())


class Hog:
    """A job of another session holding memory (and, while ``busy``, a worker)."""

    def __init__(self, nbytes: int, session_id: str):
        self.bytes, self.session_id, self.busy = nbytes, session_id, True

    def run_slice(self, deadline: float) -> str:
        while self.busy and time.perf_counter() < deadline:
            time.sleep(0.005)
        return "more" if self.busy else "done"

    def release(self) -> None:
        pass

    def cut(self, reason: str) -> None:
        self.busy = False

    def estimate_seconds(self) -> float:
        return 3.0


def test_a_sweep_that_does_not_fit_now_waits_in_the_queue_and_says_how_many_are_ahead(server_memory):
    ctl = server_memory(100)
    hog, queued = Hog(ctl.limits.memory, "other-1"), Hog(1, "other-2")
    ctl.submit(hog)                                  # the whole budget, computing
    ctl.submit(queued)                               # waits behind it
    try:
        at = page(TINY).button(key="run_btn").click().run()
        job = session_job(at)
        assert not at.exception and server.controller() is ctl
        assert ctl.place(job).state == "queued" and ctl.place(job).ahead == 1
        words = texts(at.markdown)
        assert "Waiting for room on the server**: 1 run ahead of you, about" in words
        assert at.get("progress")[0].proto.text == "0 of 16 trials" and job.job.done == 0
    finally:
        hog.busy = queued.busy = False
    settle(at)
    assert "All 16 trials in" in texts(at.success)


def test_a_sweep_the_server_cut_says_so_and_resume_finishes_it():
    at, job = started_bigger()
    job.cut("the page was closed or lost its connection")       # what the controller's reaper does
    time.sleep(0.3)
    at.run()
    done = job.job.done
    assert 0 < done < BIGGER_SPEC.total and not job.active
    assert (f"Stopped by the server: the page was closed or lost its connection**, after {done} of "
            f"{BIGGER_SPEC.total} trials") in texts(at.warning)
    assert at.button(key="run_btn").label == "Resume"
    run(at)
    assert f"All {BIGGER_SPEC.total} trials in" in texts(at.success)
    ref = run_sweep(BIGGER_SPEC, "serial")
    assert list(table(at)["median_rel_err"]) == [f"{r.median_rel_err:.2e}" for r in ref.rows]
