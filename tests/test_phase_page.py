"""The Phase-transition page, headless (streamlit.testing AppTest)."""
import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import sweep_view
from shallowres.sweep import SweepSpec, run_trial

ROOT = Path(__file__).resolve().parent.parent
PAGE = "pages/2_Phase_transition.py"
TINY = {"grid": "custom", "n": "12,60", "d": "4", "gamma": "1", "trials": "2", "gd_iters": "300"}
CURVES = {"GD · identity init", "GD · random init", "AM · identity init", "AM · random init"}


def opened(query: dict | None = None) -> AppTest:
    """The app deep-linked to the page (its first run is on the page), not yet run."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(query or {})
    at.switch_page(PAGE)
    return at


def page(query: dict | None = None) -> AppTest:
    return opened(query).run()


def figure(at: AppTest) -> dict:
    charts = at.get("plotly_chart")
    assert len(charts) == 1
    return json.loads(charts[0].proto.spec)


def texts(elements) -> str:
    return " ".join(e.value for e in elements)


def values(trace: dict, key: str) -> list[float]:
    """A trace field as a list (Plotly may send NumPy arrays base64-encoded)."""
    v = trace[key] if key in trace else trace["error_y"][key]
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"])).tolist()
    return list(v)


@pytest.fixture(autouse=True)
def empty_cache():
    sweep_view._stored.clear()
    yield


def test_defaults_are_the_papers_setup_and_nothing_runs_before_run():
    at = page()
    assert not at.exception
    assert "Press **Run** to start 160 trials" in texts(at.info)
    assert at.radio(key="grid").value == "paper" and at.number_input(key="d").value == 20
    assert at.slider(key="trials").value == 10 and at.multiselect(key="alg").value == ["GD", "AM"]
    assert at.multiselect(key="init").value == ["identity", "random"]
    assert "The paper" in texts(at.caption) and "N(0, 1/n)" in texts(at.caption)
    fig = figure(at)
    assert [t.get("name") for t in fig["data"]] == ["n = d² = 400"]      # axes ready, no curves yet
    assert fig["layout"]["xaxis"]["tickvals"] == [200, 700, 1200, 1700]


def test_a_tiny_sweep_draws_four_curves_with_wilson_error_bars():
    at = page(TINY)
    assert "16 trials" in texts(at.info)
    at.button(key="run_btn").click().run()
    assert not at.exception
    assert "All 16 trials in" in texts(at.success)
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


def test_the_same_sweep_asked_twice_is_served_from_the_cache():
    at = page(TINY)
    at.button(key="run_btn").click().run()
    first = figure(at)
    again = page(TINY)                     # a new session asking for the same sweep: no Run needed
    assert not again.exception
    assert "served from the cache" in texts(again.success)
    assert figure(again)["data"] == first["data"]
    at.slider(key="trials").set_value(3).run()      # another sweep: not cached
    assert "Press **Run** to start 24 trials" in texts(at.info)


def test_oversize_and_invalid_grids_are_refused_with_a_message():
    at = page({"grid": "fine", "trials": "50"})
    assert not at.exception
    assert "4,000 runs" in texts(at.error) and "at most 1,000" in texts(at.error)
    assert not [b for b in at.button if b.key == "run_btn"]
    bad = page({"grid": "custom", "n": "abc"})
    assert "This grid cannot run" in texts(bad.error) and "n must be a comma-separated list" in texts(bad.error)
    none = page()
    none.multiselect(key="alg").set_value([]).run()
    assert "alg must be a non-empty list" in texts(none.error)


def test_fine_grid_option():
    at = page({"grid": "fine", "trials": "2"})
    assert not at.exception and "Press **Run** to start 160 trials" in texts(at.info)
    assert figure(at)["layout"]["xaxis"]["range"][1] > 2000


def test_a_stopped_sweep_keeps_its_finished_trials_on_the_chart():
    spec = SweepSpec(n=(12, 60), d=(4,), gamma=(1.0,), trials=2, gd_iters=300)
    done = [run_trial(spec, cell, 0) for cell in spec.cells()[:5]]
    at = opened(TINY)
    at.session_state["phase_partial"] = (spec.key(), done)
    at.run()
    assert not at.exception
    assert "Stopped after 5 of 16 trials" in texts(at.info)
    names = [t["name"] for t in figure(at)["data"]]
    assert "GD · identity init" in names and len(at.dataframe) == 1


def test_local_processes_option_gives_the_serial_table():
    serial = page(TINY)
    serial.button(key="run_btn").click().run()
    sweep_view._stored.clear()
    procs = page(TINY)
    procs.radio(key="run_on").set_value("processes").run()
    procs.button(key="run_btn").click().run()
    assert not procs.exception and "(processes)" in texts(procs.success)
    assert procs.dataframe[0].value.drop(columns="median_seconds").equals(
        serial.dataframe[0].value.drop(columns="median_seconds"))


def test_bad_link_values_warn_and_fall_back_good_ones_do_not():
    at = page({"d": "500", "trials": "99999", "gamma": "abc", "eta": "fast", "grid": "paper"})
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    for k in ("d=`500`", "trials=`99999`", "gamma=`abc`", "eta=`fast`"):
        assert k in warning
    assert "grid=" not in warning
    assert not page({"alg": ["GD", "AM"], "threshold": "0.05", "grid": "fine", "eta": "theory"}).warning
    # as on the Train page: a repeated value counts by its last, an unknown key warns
    assert not page({"d": ["5", "6"]}).warning
    assert "Unknown URL parameter `colour` was ignored" in " ".join(w.value for w in page({"colour": "red"}).warning)
