"""The dashboard pages, run headless with streamlit.testing.v1.AppTest.

Figures are read back from the element's spec (``json.loads(el.proto.spec)``); NumPy
arrays arrive as Plotly's base64 typed arrays and are decoded by ``arr``.
"""
from __future__ import annotations

import base64
import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from shallowres import make_problem, run, theory

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:          # the pages import the dashboard package from the repo root
    sys.path.insert(0, str(ROOT))

from dashboard.runs import RunJob  # noqa: E402
from dashboard.state import defaults, encode  # noqa: E402
from dashboard.theory_view import num  # noqa: E402

TIMEOUT = 120
SMALL = {"d": "6", "n": "150", "gamma": "0.8", "gd_iters": "40", "am_iters": "15", "seed": "3"}


def app(page: str = "app.py", **query) -> AppTest:
    """The app, opened at ``page`` (as a deep link: the first run is on that page) with ``query``."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params.update(query)
    if page != "app.py":
        at.switch_page(page)
    return at


def arr(v) -> np.ndarray:
    """A Plotly spec array: a list, or {"dtype", "bdata"[, "shape"]} base64."""
    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]).newbyteorder("<"))
        if "shape" in v:
            shape = v["shape"] if isinstance(v["shape"], list) else str(v["shape"]).split(",")
            a = a.reshape([int(s) for s in shape])
        return a
    return np.asarray(v)


def components(at: AppTest) -> list[dict]:
    """The custom components' data: the live charts' payload, then the pictures' (``react_chart``, with a "fig")."""
    return [json.loads(el.proto.json) for el in at.get("bidi_component")]


def specs(at: AppTest) -> list[dict]:
    """The pictures (updated in place by ``react_chart``), then the page's ``st.plotly_chart`` figures."""
    return [json.loads(c["fig"]) for c in components(at) if "fig" in c] + \
        [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def traces(spec: dict) -> dict[str, dict]:
    return {t["name"]: t for t in spec["data"]}


def texts(at: AppTest, kind: str) -> str:
    return "\n".join(e.value for e in getattr(at, kind))


def click(at: AppTest, key: str) -> AppTest:
    return at.button(key=key).click().run()


def test_default_page_renders_and_writes_the_url():
    at = app().run()
    assert not at.exception
    assert at.slider(key="w_d").value == 20
    assert at.number_input(key="w_n").value == 1700
    assert at.query_params["d"] == "20" and at.query_params["n"] == "1700"
    assert "Assumption 1 fails" in texts(at, "markdown")          # gamma = 2 > 1.988 at the paper's setting
    assert not at.get("plotly_chart") and len(at.get("bidi_component")) == 1


def payload(at: AppTest) -> dict:
    """The live charts' last payload (the custom component's data)."""
    (live,) = [c for c in components(at) if "fig" not in c]
    return live


def series(p: dict, name: str) -> np.ndarray:
    s = p["series"][name]
    a = np.frombuffer(base64.b64decode(s["b64"]), dtype="<f8" if s["dtype"] == "f8" else "<i4")
    return a.reshape(-1, s["width"]) if s["width"] > 1 else a


def status(at: AppTest) -> str:
    """The status line the live component draws above the charts."""
    return "\n".join(f"{name} · {text}" for name, text in payload(at)["status"])


def settle(at: AppTest, timeout: float = TIMEOUT) -> AppTest:
    """Rerun the page (as its live fragment would) until the run stops computing."""
    deadline = time.monotonic() + timeout
    while True:
        job = at.session_state["job"] if "job" in at.session_state else None
        if job is None or not job.active:
            return at.run()
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(0.05)
        at.run()


def test_run_draws_four_live_charts_from_the_run():
    at = app(**SMALL).run()
    p0 = payload(at)
    assert len(p0["figs"]) == 4 and p0["series"] == {}            # the charts are there before Run
    settle(click(at, "run_btn"))
    assert not at.exception
    job = at.session_state["job"]
    assert job.done
    p = payload(at)
    assert p["full"] and p["final"]
    rel, flips, loss, heat = p["figs"]
    assert [t["name"] for t in rel["traces"]] == ["GD", "AM", "tolerance 1e-08"]
    assert rel["layout"]["yaxis"]["type"] == "log" and rel["layout"]["xaxis"]["type"] == "log"
    assert "‖W* + I‖<sub>F</sub>" in rel["layout"]["title"]["text"]
    assert [t["name"] for t in loss["traces"]] == ["GD train", "GD test", "AM train", "AM test"]
    assert {t["name"] for t in flips["traces"]} == {"GD vs teacher", "GD since t − 1", "AM vs teacher",
                                                    "AM since t − 1"}
    prob = make_problem(d=6, n=150, gamma=0.8, seed=3)
    for alg, iters in (("gd", 40), ("am", 15)):
        ref = run(prob, alg, iters=iters, tol=1e-8)
        t = series(p, f"{alg}.t")
        np.testing.assert_array_equal(series(p, f"{alg}.rel_err"), ref.history["rel_err"][t])
        np.testing.assert_array_equal(series(p, f"{alg}.flips_teacher"), ref.history["flips_teacher"][t])
        np.testing.assert_array_equal(series(p, f"{alg}.heat"), ref.flips_per_neuron[series(p, f"{alg}.heat_t")])
        assert p["head"][alg]["t"] == ref.n_iter
    assert "converged" in texts(at, "success") or "fixed point" in texts(at, "success")
    # the stop message's formula typeset (KaTeX), not Markdown emphasis between the asterisks of W*
    assert "relative error $\\|W - W^*\\|_F$ / $\\|W^* + I\\|_F$ fell below" in texts(at, "success")


def test_shared_link_reproduces_the_exact_run():
    query = dict(SMALL, alg="gd", eta="0.5x", init="random", noise="0.1")
    at = settle(click(app(**query).run(), "run_btn"))
    p = payload(at)
    prob = make_problem(d=6, n=150, gamma=0.8, noise=0.1, seed=3)
    ref = run(prob, "gd", init="random", eta="0.5x", iters=40, tol=1e-8)
    np.testing.assert_array_equal(series(p, "gd.rel_err"), ref.history["rel_err"][series(p, "gd.t")])
    assert at.query_params["eta"] == "0.5x" and at.query_params["init"] == "random"


def test_step_advances_exactly_one_iteration():
    at = settle(click(app(**SMALL).run(), "step_btn"))
    assert {a: r.t for a, r in at.session_state["job"].runs.items()} == {"gd": 1, "am": 1}
    assert [int(series(payload(at), f"{a}.t")[-1]) for a in ("gd", "am")] == [1, 1]
    settle(click(at, "step_btn"))
    assert {a: r.t for a, r in at.session_state["job"].runs.items()} == {"gd": 2, "am": 2}
    assert "GD · iteration 2 ·" in status(at) and not at.exception


LONG = {"alg": "gd", "gd_iters": "20000", "tol": "1e-15", "eta": "0.05x"}   # a small step: seconds of progress


def quiet(job, timeout: float = 30.0) -> None:
    """Wait until no worker is computing ``job`` (a step under way when it was paused may still land)."""
    from dashboard import server

    deadline = time.monotonic() + timeout
    while server.controller().place(job).running:
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_double_run_step_during_run_and_run_during_step_are_safe():
    at = app(**LONG).run()
    at.button(key="run_btn").click()
    at.button(key="run_btn").click().run()              # a double click
    job = at.session_state["job"]
    click(at, "run_btn")                                # Run again while it runs: the same run goes on
    assert at.session_state["job"] is job and job.active
    click(at, "step_btn")                               # Step while running: pauses it
    assert job.phase == "paused" and "Step" in job.why
    quiet(job)
    click(at, "stop_btn")                               # Stop on the paused run: it says so
    assert job.phase == "paused" and job.why == "you pressed Stop"
    t = job.runs["gd"].t
    settle(click(at, "step_btn"))
    assert job.runs["gd"].t == t + 1
    click(at, "step_btn")
    click(at, "run_btn")                                # Run right after Step: runs on to the end
    click(at, "stop_btn")
    settle(at)
    said = status(at)
    assert f"iteration {job.runs['gd'].t:,} ·" in said and "stopped at" in said
    assert not at.exception and not at.error


def test_stop_then_run_resumes_and_reset_clears():
    at = app(**dict(SMALL, alg="gd", gd_iters="3000", tol="1e-15")).run()
    settle(click(at, "step_btn"))
    click(at, "run_btn")
    click(at, "stop_btn")
    settle(at)
    job = at.session_state["job"]
    assert job.phase == "paused" and 1 <= job.runs["gd"].t < 3000
    settle(click(at, "run_btn"))
    assert at.session_state["job"] is job and job.done and job.runs["gd"].t == 3000
    settle(click(at, "reset_btn"))
    assert at.session_state["job"] is None and payload(at)["series"] == {} and not at.exception


def test_widget_change_stops_the_run_and_updates_the_url():
    at = app(**LONG).run()
    click(at, "run_btn")
    at.slider(key="w_gamma").set_value(1.5).run()
    assert at.query_params["gamma"] == "1.5"
    job = at.session_state["job"]
    assert job.phase == "paused" and job.why == "you changed a setting"
    assert "settings changed" in texts(at, "info")


def test_new_teacher_and_presentation_mode():
    at = app(**SMALL).run()
    click(at, "new_teacher_btn")
    assert at.query_params["seed"] != "3" and at.number_input(key="w_seed").value == int(at.query_params["seed"])
    at.checkbox(key="w_present").check().run()
    assert at.query_params["present"] == "true"
    big, small = payload(at)["figs"][0]["layout"], payload(app(**SMALL).run())["figs"][0]["layout"]
    assert big["height"] > small["height"] and big["font"]["size"] > small["font"]["size"]
    assert not at.exception


def test_pin_overlays_the_pinned_run_and_names_the_difference():
    at = settle(click(app(**SMALL).run(), "run_btn"))
    click(at, "pin_btn")
    at.number_input(key="w_n").set_value(75).run()
    settle(click(at, "run_btn"))
    p = payload(at)
    names = [t["name"] for t in p["figs"][0]["traces"]]
    assert "pin 1 · GD · n = 150" in names and "pin 1 · AM · n = 150" in names
    assert series(p, "pin0.gd.rel_err")[0] == pytest.approx(series(p, "gd.rel_err")[0], rel=0.5)
    settle(click(at, "clear_pins_btn"))
    assert not any(n.startswith("pin") for n in (t["name"] for t in payload(at)["figs"][0]["traces"]))


def test_replay_and_scrubber_show_the_run_up_to_t():
    at = settle(click(app(**SMALL).run(), "run_btn"))
    T = at.session_state["job"].T
    at.slider(key="replay_t").set_value(2).run()
    p = payload(at)
    assert p["head"]["gd"]["t"] == 2 and p["head"]["am"]["t"] == 2 and series(p, "gd.t")[-1] <= 2
    assert "replay (computed up to iteration" in status(at)
    click(at, "replay_btn")                               # plays from t = 0
    assert at.session_state["view"]["playing"] and at.session_state["view"]["T"] == T
    assert not at.exception


@pytest.mark.parametrize("query, bad", [
    ({"d": "abc"}, "d=`abc`"),
    ({"n": "-5"}, "n=`-5`"),
    ({"gamma": "1e9"}, "gamma=`1e9`"),
    ({"delta": "1.5"}, "delta=`1.5`"),
    ({"alg": "sgd"}, "alg=`sgd`"),
    ({"eta": "banana"}, "eta=`banana`"),
    ({"eta": "1000x"}, "eta=`1000x`"),
    ({"tol": "nan"}, "tol=`nan`"),
    ({"resample": "maybe"}, "resample=`maybe`"),
    ({"seed": "1.5"}, "seed=`1.5`"),
    ({"gama": "2"}, "`gama`"),
])
def test_bad_query_parameter_warns_and_falls_back(query, bad):
    at = app(**query).run()
    assert not at.exception
    assert bad in texts(at, "warning")
    assert {k: at.query_params[k] for k in encode(defaults())} == encode(defaults())


def test_query_parameters_fill_the_controls():
    at = app(d="12", n="2500", gamma="1.25", alg="am", init="delta", delta="0.5", resample="true",
             eta="3.5", tol="1e-6", logx="false").run()
    assert not at.exception and not at.warning
    assert at.slider(key="w_d").value == 12 and at.number_input(key="w_n").value == 2500
    assert at.slider(key="w_gamma").value == 1.25 and at.radio(key="w_alg").value == "am"
    assert at.selectbox(key="w_init").value == "delta" and at.checkbox(key="w_resample").value
    assert at.radio(key="w_eta_mode").value == "value" and at.text_input(key="w_eta_value").value == "3.5"
    assert at.text_input(key="w_tol").value == "1e-06"


def test_preset_sets_the_controls():
    at = app().run()
    at.button(key="preset_1").click().run()           # "Too few samples"
    assert at.number_input(key="w_n").value == 300 and at.query_params["n"] == "300"
    assert "AM underdetermined" in texts(at, "markdown")
    at.button(key="preset_3").click().run()           # "Theory mode"
    assert at.checkbox(key="w_resample").value and at.query_params["resample"] == "true"
    assert not at.exception


def test_typed_tolerance_is_checked():
    at = app().run()
    at.text_input(key="w_tol").input("zero").run()
    assert "keeping 1e-08" in texts(at, "error") and at.query_params["tol"] == "1e-08"
    at.text_input(key="w_tol").input("1e-4").run()
    assert at.query_params["tol"] == "0.0001" and not at.exception


def test_memory_guard_is_a_message_not_a_crash():
    at = app(d="100", n="200000").run()
    click(at, "run_btn")
    assert not at.exception
    msg = texts(at, "error")
    assert "memory budget" in msg and "At d = 100, runs up to n = " in msg


def test_diverging_run_says_why():
    at = settle(click(app(**dict(SMALL, alg="gd", eta="100x")).run(), "run_btn"))
    assert not at.exception
    msg = texts(at, "error")
    assert "diverged" in msg and "step size" in msg
    assert at.session_state["job"].runs["gd"].stop_reason == "diverged"


def test_theory_page_default_shows_finite_kappa_and_vacuous():
    at = app("pages/1_Theory.py").run()
    assert not at.exception
    th = theory(make_problem(), eps=1e-2)
    assert np.isfinite(th.kappa)
    warn = texts(at, "warning")
    assert "vacuous" in warn and f"κ = {num(th.kappa)}" in warn
    assert "towards 1" not in warn.replace("not towards 1", "")
    md = texts(at, "markdown")
    assert "| Assumption 1 | γ ≤ δ√d/(1 + δ) | 2 vs 1.988 | :red[:material/cancel: no] |" in md
    assert "(d) measured" in md and "(c) local model" in md
    charts = specs(at)
    assert len(charts) == 6          # T ratio vs eps, two per-step charts, kappa_t, rho_3 forms, kappa vs n
    for spec in charts:
        assert spec["layout"]["yaxis"]["type"] == "log", spec["layout"]["yaxis"]["title"]
        assert spec["layout"]["xaxis"]["title"]["text"] and spec["layout"]["yaxis"]["title"]["text"]
        assert "_F" not in json.dumps(spec["layout"])
    assert len(at.latex) >= 4


def test_theory_page_units_corollary_1_in_lemma_units():
    """Issue 9: rho_3 compared with Corollary 1 after the sqrt(n) rescaling; the sum form is above,
    the root-sum-square form Lemma 2 bounds is below."""
    at = app("pages/1_Theory.py").run()
    th = theory(make_problem(), eps=1e-2)
    md = texts(at, "markdown")
    assert f"| {num(th.rho3_sum)} | {num(th.rho3_unit_scale)} | :orange[above] |" in md
    assert f"| {num(th.rho3_rss)} | {num(th.rho3_rss_unit_scale)} | :green[below] |" in md
    assert f"κ<sub>∞</sub> = {num(th.kappa_inf)}" in md and "no number of samples makes them < 1" in md


def test_bounds_hold_preset_on_the_theory_page():
    at = app("pages/1_Theory.py").run()
    labels = [b.label for b in at.button]
    at.button(key=f"preset_{labels.index('Bounds hold')}").click().run()
    assert not at.exception
    assert at.query_params["d"] == "2" and at.query_params["n"] == "4000" and at.query_params["gamma"] == "0.01"
    th = theory(make_problem(d=2, n=4000, gamma=0.01, seed=0), eps=1e-8)
    ok = texts(at, "success")
    assert "below 1" in ok and f"**{num(th.t_ratio_pred)}**" in ok
    md = texts(at, "markdown")
    assert md.count("Tightened bound at each W") == 2 and "0 exceeded" in md
    assert "lands exactly on W" in md            # the one sentence on AM's finite termination
    assert not at.warning


def test_theory_page_edge_cases_say_the_right_words():
    at = app("pages/1_Theory.py", d="2", n="40", gamma="0.01", eps="1e-8").run()   # rho_3 = 0 at W^0
    assert not at.exception and not at.warning
    ok = texts(at, "success")
    assert "below 1" in ok and "lands on W" in ok and "vacuous" not in ok
    at = app("pages/1_Theory.py", gamma="0").run()                               # W^0 = W*
    assert not at.exception and "nothing to learn" in texts(at, "info")
    md = texts(at, "markdown")
    assert "| (d) measured | nothing: the runs on this problem | — | — | 0 | 0 |" in md
    assert "∞" not in md.split("(d) measured")[1].split("\n")[0]                 # no rate, not "infinity"
    at = app("pages/1_Theory.py", d="10", n="50").run()                           # kappa infinite
    assert not at.exception and "κ is infinite" in texts(at, "warning")


def test_theory_page_deep_link_and_shared_settings():
    at = app("pages/1_Theory.py", d="8", n="400", gamma="0.5", seed="2", eps="0.001").run()
    assert not at.exception and not at.warning or "vacuous" in texts(at, "warning")
    th = theory(make_problem(d=8, n=400, gamma=0.5, seed=2), eps=1e-3)
    md = texts(at, "markdown")
    assert "d = 8 · n = 400" in md and f"{num(th.kappa)} at W⁰" in texts(at, "caption")
    assert at.text_input(key="w_eps").value == "0.001"


def test_train_settings_carry_over_to_theory_page():
    at = app(**SMALL).run()
    at.slider(key="w_gamma").set_value(0.5).run()
    at.switch_page("pages/1_Theory.py").run()
    assert not at.exception
    assert "γ = ‖W\\*‖<sub>F</sub> = 0.5" in texts(at, "markdown")
    assert at.query_params["gamma"] == "0.5" and at.query_params["d"] == "6"


def test_theory_page_bad_query_and_memory_guard():
    at = app("pages/1_Theory.py", eps="2", n="x").run()
    assert not at.exception
    assert "eps=`2`" in texts(at, "warning") and "n=`x`" in texts(at, "warning")
    at = app("pages/1_Theory.py", d="100", n="200000").run()
    assert not at.exception and "memory budget" in texts(at, "error")


def test_expensive_theory_settings_wait_for_a_click():
    at = app("pages/1_Theory.py", d="60", n="4000").run()
    assert not at.exception
    assert "cannot be stopped midway" in texts(at, "info")
    assert at.button(key="theory_go").label == "Compute anyway"
    assert not at.get("plotly_chart")


def test_theory_page_with_no_active_relu_explains_instead_of_crashing():
    """d = 2, n = 2, seed 48: every x_i . u_q <= 0 at W^0, so B = 0."""
    at = app("pages/1_Theory.py", d="2", n="2", seed="48").run()
    assert not at.exception
    assert "B = 0" in " ".join(e.value for e in at.get("markdown")) + texts(at, "warning")


def test_copy_as_code_reproduces_the_page_bit_for_bit():
    import subprocess
    import sys as _sys

    query = dict(SMALL, eta="0.7x", init="random", noise="0.05", resample="true")
    at = settle(click(app(**query).run(), "run_btn"))
    job = at.session_state["job"]
    page = {a: r.history.last.rel_err for a, r in job.runs.items()}
    link, commands, snippet = [c.value for c in at.code]
    assert "?d=6&n=150&gamma=0.8" in link and "resample=true" in link
    lines = commands.splitlines()
    ns: dict = {}
    exec(snippet, ns)                                   # the Python snippet
    assert {a: ns[a].rel_err for a in page} == page
    for line, alg in zip(lines, ("gd", "am"), strict=True):   # the command lines
        args = line.split()[3:] + ["--json"]
        out = subprocess.run([_sys.executable, "-m", "shallowres", *args], capture_output=True, text=True,
                             check=True, cwd=ROOT)
        assert json.loads(out.stdout.strip().splitlines()[-1])["rel_err"] == page[alg]


# ----- the pictures of the objects and the baselines (issue 14) ------------------------------

def figure(at: AppTest, title_part: str) -> list[dict]:
    """The plotly charts whose title contains ``title_part``."""
    return [s for s in specs(at) if title_part in s["layout"].get("title", {}).get("text", "")]


def diff_heatmap(spec: dict) -> np.ndarray:
    (tr,) = [t for t in spec["data"] if "− W*" in t["name"]]
    return arr(tr["z"])


def test_pictures_show_the_final_iterate_then_the_scrubbed_one():
    at = settle(click(app(**SMALL).run(), "run_btn"))
    assert not at.exception
    job = at.session_state["job"]
    prob = make_problem(d=6, n=150, gamma=0.8, noise=0.0, seed=3)
    T = {a: r.t for a, r in job.runs.items()}
    assert [t.label for t in at.tabs] == ["Weights", "Masks", "Network", "Landscape"]
    for alg in ("gd", "am"):                                  # the final iterate, labelled with its t
        (spec,) = figure(at, f"Weights at t = {T[alg]}:")
        np.testing.assert_array_equal(diff_heatmap(spec), job.runs[alg].W - prob.W_star)
    assert T["gd"] == 40 and T["am"] < 35
    at.slider(key="replay_t").set_value(35).run()            # GD keeps 34 (t >= 32: even t), AM has ended
    assert not at.exception
    (gd,) = figure(at, "Weights at t = 34:")
    t_kept, W34 = job.runs["gd"].iterates.at(35)
    assert t_kept == 34
    np.testing.assert_array_equal(diff_heatmap(gd), W34 - prob.W_star)
    assert figure(at, f"Weights at t = {T['am']}:") and not figure(at, "Weights at t = 40:")
    assert "**GD** · the iterate at t = 34" in texts(at, "markdown")
    at.slider(key="replay_t").set_value(2).run()              # every iterate below 32 is kept
    ref = run(prob, "am", iters=15, keep_W=True)
    (am,) = [s for s in figure(at, "Weights at t = 2:") if np.array_equal(diff_heatmap(s),
                                                                          ref.records[2].W - prob.W_star)]
    assert len(figure(at, "Weights at t = 2:")) == 2 and am


def test_mask_and_network_pictures_count_the_flips_of_the_iterate_shown():
    at = settle(click(app(**SMALL).run(), "run_btn"))
    at.slider(key="replay_t").set_value(1).run()
    flips = {a: int(r.history.columns()["flips_teacher"][1]) for a, r in at.session_state["job"].runs.items()}
    at.session_state["objects_tab"] = "Masks"
    at.run()
    titles = [s["layout"]["title"]["text"] for s in specs(at)]
    assert sorted(titles) == sorted(f"Masks P<sup>t</sup> at t = 1: {flips[a]:,} flips in {150 * 6:,} ReLU states"
                                    for a in ("gd", "am")), titles
    at.session_state["objects_tab"] = "Network"
    at.run()
    titles = [s["layout"]["title"]["text"] for s in specs(at)]
    assert sorted(titles) == sorted(f"The network at t = 1: {flips[a]:,} flips, per hidden ReLU"
                                    for a in ("gd", "am")), titles
    assert not at.exception


def test_landscape_is_drawn_on_a_click_at_the_iterate_shown():
    at = settle(click(app(**SMALL).run(), "run_btn"))
    at.session_state["objects_tab"] = "Landscape"
    at.run()
    assert not figure(at, "Training loss around W*")          # only on demand
    click(at, "landscape_btn")
    assert not at.exception
    (spec,) = figure(at, "Training loss around W*")
    names = [t.get("name") for t in spec["data"]]
    assert names[0] == "loss" and "GD" in names and "AM" in names and "W* (teacher)" in names
    gd = next(t for t in spec["data"] if t.get("name") == "GD")
    assert int(arr(gd["customdata"])[-1][0]) == 40               # drawn up to the last iterate
    at.slider(key="replay_t").set_value(3).run()
    (spec,) = figure(at, "Training loss around W*")
    gd = next(t for t in spec["data"] if t.get("name") == "GD")
    assert int(arr(gd["customdata"])[-1][0]) == 3


def test_baselines_table_equals_shallowres_run_on_the_same_settings():
    from dashboard.train_baselines import AM_INNER, EPOCHS

    at = settle(click(app(**SMALL).run(), "run_btn"))
    assert not at.get("dataframe")
    click(at, "baselines_btn")
    assert not at.exception
    df = at.dataframe[0].value
    rows = dict(zip(df["Algorithm"], df["Final relative error"], strict=True))
    prob = make_problem(d=6, n=150, gamma=0.8, noise=0.0, seed=3)
    job = at.session_state["job"]
    assert rows["GD, eq. (1)"] == job.runs["gd"].history.last.rel_err
    assert rows["AM, eqs. (2)-(3)"] == run(prob, "am", iters=15).rel_err
    assert rows["SGD (Li & Yuan), random start"] == run(prob, "sgd", init="random", iters=EPOCHS).rel_err
    assert rows["SGD, GD's start"] == run(prob, "sgd", iters=EPOCHS).rel_err
    assert rows["Adam, random start"] == run(prob, "adam", init="random", iters=EPOCHS).rel_err
    assert rows[f"inexact AM (K = {AM_INNER})"] == run(prob, "am", am_inner=AM_INNER, iters=200).rel_err
    iters = dict(zip(df["Algorithm"], df["Iterations"], strict=True))
    assert iters["GD, eq. (1)"] == 40 and list(df["Unit"]).count("epochs") == 3
    (chart,) = figure(at, "SGD, Adam: t counts epochs")
    assert {t["name"] for t in chart["data"]} >= {"GD, eq. (1)", "Adam, random start", "tolerance 1e-8"}
    assert chart["layout"]["yaxis"]["type"] == "log" and chart["layout"]["xaxis"]["title"]["text"]


def picture_ids(at: AppTest) -> list[str]:
    """The pictures' element ids (they name the component's key and place)."""
    return [el.proto.id for el in at.get("bidi_component") if "fig" in json.loads(el.proto.json)]


def test_a_new_run_before_its_first_iterate_keeps_the_pictures_in_place(monkeypatch):
    """Run again, and the new run waits in the server's queue (5 of 18 re-presses on a loaded server): the
    pictures' section dropped out for 1-2 s and came back remounted. It now keeps its tabs and each
    algorithm's chart, under the same keys, with a placeholder until the first iterate."""
    at = settle(click(app(**SMALL).run(), "run_btn"))
    drawn, ids = [c for c in components(at) if "fig" in c], picture_ids(at)
    assert len(drawn) == 2 and len(ids) == 2
    old = at.session_state["job"]
    waiting = RunJob(old.settings, old.session_id)
    assert waiting.request("run") and waiting.active and all(len(r.iterates) == 0 for r in waiting.runs.values())
    from dashboard import server
    monkeypatch.setattr(server.controller(), "submit", lambda job: None)   # it waits, as in a full queue
    at.session_state["job"] = waiting
    at.run()
    assert not at.exception
    held = [c for c in components(at) if "fig" in c]
    assert [t.label for t in at.tabs] == ["Weights", "Masks", "Network", "Landscape"]
    assert len(held) == 2 and all("waiting for the run's first iterate" in c["fig"] for c in held)
    assert picture_ids(at) == ids                          # the same elements: nothing is remounted
    assert texts(at, "markdown").count("waiting for the run's first iterate") == 2
    waiting.stop()
    click(at, "reset_btn")                                 # no job: no pictures, and none kept for the next run
    assert not [c for c in components(at) if "fig" in c]


def test_pictures_of_one_algorithm_only():
    at = settle(click(app(**SMALL).run(), "run_btn"))
    am_t = at.session_state["job"].runs["am"].t
    at.session_state["objects_algs"] = ["AM"]
    at.run()
    assert [s["layout"]["title"]["text"] for s in specs(at)] == [f"Weights at t = {am_t}: one colour scale, 0 = white"]
    assert "**GD** · the iterate" not in texts(at, "markdown") and not at.exception


def test_the_play_pause_button_says_what_the_run_is_doing():
    """A helper saw "Play" on a running run and "Pause" on a stopped one (the buttons are drawn before
    a click takes effect), and "Pause" then restarted the stopped run."""
    at = app(**LONG).run()
    assert at.button(key="toggle_btn").label == "Play"
    at.button(key="run_btn").click().run()
    job = at.session_state["job"]
    assert job.active and at.button(key="toggle_btn").label == "Pause"
    at.button(key="stop_btn").click().run()
    assert not job.active and at.button(key="toggle_btn").label == "Play"
    at.button(key="toggle_btn").click().run()            # Play: runs again
    assert job.active and at.button(key="toggle_btn").label == "Pause"
    at.button(key="toggle_btn").click().run()            # Pause: stops it
    assert not job.active and at.button(key="toggle_btn").label == "Play"
    assert not at.exception


def test_the_sample_badge_warns_near_n_equals_d2():
    near = " ".join(m.value for m in app(d="20", n="400").run().markdown)
    far = " ".join(m.value for m in app(d="20", n="1700").run().markdown)
    assert "n ≈ d²: AM ill-conditioned" in near and "AM well-posed" not in near
    assert "n ≥ d²: AM well-posed" in far and "ill-conditioned" not in far


def test_the_servers_controller_holds_a_disconnected_pages_run_while_streamlit_keeps_its_session():
    """A reconnect within server.disconnectedSessionTTL resumes the session, so its run must not
    have been cut meanwhile (mixed30: a starved browser away for over 10 s found its run cut)."""
    import streamlit as st

    from dashboard import server

    ttl = float(st.get_option("server.disconnectedSessionTTL"))
    assert ttl == 30                                     # .streamlit/config.toml
    assert server.controller().limits.grace >= ttl
