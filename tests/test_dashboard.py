"""The dashboard's pure parts: URL settings, the streaming run, exports, figures."""
from __future__ import annotations

import csv
import io
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dashboard import export, figures, state  # noqa: E402
from dashboard.state import FIELDS, defaults, encode, normalize_eta, parse_query  # noqa: E402
from dashboard.stream import SLOW_TICKS, RunState, check_fits  # noqa: E402
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
    assert "d='1' is not an integer in [2, 100]" in warnings[0]
    assert "identity, random, delta" in warnings[1]
    assert "using the default eta=theory" in warnings[2]


def test_step_then_play_matches_the_library_run():
    r = RunState.start(SMALL)
    assert [tr.n_iter for tr in r.traces.values()] == [0, 0]
    r.step()
    assert [tr.n_iter for tr in r.traces.values()] == [1, 1]
    drawn = []
    r.play(drawn.append, throttle=0.0)
    assert r.done and drawn and all(d is r for d in drawn) and r.draws == len(drawn)
    p = make_problem(d=5, n=120, gamma=0.8, seed=4)
    for alg, iters in (("gd", 30), ("am", 10)):
        ref = run(p, alg, iters=iters, tol=SMALL["tol"])
        h = r.traces[alg].history()
        np.testing.assert_array_equal(h["rel_err"], ref.history["rel_err"])
        np.testing.assert_array_equal(h["flips_per_neuron"], ref.flips_per_neuron)
        assert r.traces[alg].stop_reason == ref.stop_reason
        assert r.traces[alg].message == ref.message


def test_stop_resume_and_slow_motion():
    r = RunState.start(dict(SMALL, alg="gd"))
    r.step()
    r.stop()
    assert r.done and r.stopped and "stopped by the user" in r.traces["gd"].message
    ticks = []
    r.play_slowly(ticks.append, tick=0.0)
    assert r.done and not r.stopped
    # t = 2 .. 30 in redraws of ceil(30 / SLOW_TICKS) = 2 GD iterations, none after the last
    assert len(ticks) == math.ceil((30 - 1) / math.ceil(30 / SLOW_TICKS)) - 1


def test_memory_guard_before_allocating():
    with pytest.raises(MemoryBudgetError, match="memory budget"):
        check_fits(dict(defaults(), d=100, n=200_000))


def test_exports_are_complete_and_json_safe():
    r = RunState.start(dict(SMALL, eta="100x", alg="both"))
    r.play(lambda _: None, throttle=10.0)
    assert r.traces["gd"].stop_reason == "diverged"
    rows = list(csv.DictReader(io.StringIO(export.history_csv(r))))
    assert len(rows) == sum(tr.n_iter + 1 for tr in r.traces.values())
    assert {row["alg"] for row in rows} == {"gd", "am"}
    doc = json.loads(export.run_json(r))
    assert doc["config"]["eta"] == "100x" and doc["query"].startswith("?d=5&n=120")
    assert doc["algorithms"]["gd"]["stop_reason"] == "diverged"
    W = np.array(doc["algorithms"]["am"]["W"], dtype=float)
    np.testing.assert_allclose(W, r.traces["am"].W)
    assert len(doc["algorithms"]["am"]["history"]["t"]) == r.traces["am"].n_iter + 1


def test_heatmap_and_log_ticks():
    r = RunState.start(SMALL)
    r.play(lambda _: None, throttle=10.0)
    fig = figures.heatmap_figure(r.histories())
    for tr, alg in zip(fig["data"], ("gd", "am"), strict=True):
        counts = r.traces[alg].history()["flips_per_neuron"].T
        np.testing.assert_array_equal(tr["customdata"], counts)
        np.testing.assert_allclose(tr["z"], np.log10(1 + counts), rtol=1e-6)
    assert figures.log_ticks(1000)["tickvals"] == [1, 10, 100, 1000]
    assert figures.log_ticks(7)["tickvals"][:4] == [1, 2, 5, 10]
    assert math.isclose(fig["layout"]["coloraxis"]["cmax"], np.log10(1 + max(
        int(r.traces[a].history()["flips_per_neuron"].max()) for a in ("gd", "am"))))


def test_live_redraws_thin_long_histories_only():
    T = 5001
    h = {"gd": {"t": np.arange(T), "rel_err": np.linspace(1, 0, T), "flips_per_neuron": np.zeros((T, 3))}}
    for log_x in (True, False):
        thin = figures.thin(h, max_points=600, log_x=log_x)["gd"]
        assert len(thin["t"]) <= 602 and thin["t"][0] == 0 and thin["t"][-1] == T - 1
        assert thin["flips_per_neuron"].shape == (len(thin["t"]), 3)
        np.testing.assert_array_equal(thin["rel_err"], h["gd"]["rel_err"][thin["t"]])
    short = {"am": {"t": np.arange(8), "rel_err": np.ones(8)}}
    assert figures.thin(short)["am"] is short["am"]
