"""Pictures of the objects, the landscape figure and the glossary: what they draw equals the library's numbers."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dashboard import glossary, lesson_figures, object_figures  # noqa: E402
from dashboard.landscape_figure import landscape_figure, path_indices  # noqa: E402
from shallowres import make_problem, run  # noqa: E402
from shallowres.landscape import landscape  # noqa: E402
from shallowres.solvers import Stepper  # noqa: E402


@pytest.fixture(scope="module")
def paper_like():
    p = make_problem(d=8, n=300, gamma=1.0, seed=5)
    return p, run(p, "am", keep_W=True), run(p, "gd", iters=60, keep_W=True)


def hidden_counts(fig) -> np.ndarray:
    (nodes,) = [tr for tr in fig["data"] if tr.get("name") == "hidden ReLUs"]
    return np.asarray(nodes["customdata"])[:, 2].astype(int)


@pytest.mark.parametrize("alg", ["am", "gd"])
def test_the_network_diagrams_counts_are_the_records_per_neuron_flips(paper_like, alg):
    p, am, gd = paper_like
    res = am if alg == "am" else gd
    for rec in res.records:
        fig = object_figures.network_figure(p, rec.W, t=rec.t)
        assert np.array_equal(hidden_counts(fig), rec.flips_teacher_per_neuron)
        (nodes,) = [tr for tr in fig["data"] if tr.get("name") == "hidden ReLUs"]
        assert nodes["text"] == [f"{c:,}" for c in rec.flips_teacher_per_neuron]
        assert f": {rec.flips_teacher:,} flips, per hidden ReLU" in fig["layout"]["title"]["text"]


def test_with_fresh_samples_the_counts_are_on_the_batch_of_step_t():
    p = make_problem(d=6, n=200, gamma=1.0, seed=2)
    s = Stepper(p, "gd", resample=True)
    for _ in range(3):
        rec = s.step()
    X_t, _ = p.batch(rec.t, resample=True)
    fig = object_figures.network_figure(p, s.W, t=rec.t, X=X_t)
    assert np.array_equal(hidden_counts(fig), rec.flips_teacher_per_neuron)


def test_the_network_draws_the_skip_connection_and_v_signs(paper_like):
    p, am, _ = paper_like
    fig = object_figures.network_figure(p, am.records[1].W)
    names = [tr.get("name") for tr in fig["data"]]
    skip = fig["data"][names.index("skip connection e<sub>q</sub>")]
    assert len(skip["x"]) == 3 * p.d and all(skip["x"][3 * q:3 * q + 2] == [0.0, 1.0] for q in range(p.d))
    plus = sum(len(tr["x"]) // 3 for tr in fig["data"] if tr.get("name") == "v*<sub>q</sub> = +1")
    minus = sum(len(tr["x"]) // 3 for tr in fig["data"] if tr.get("name") == "v*<sub>q</sub> = −1")
    assert (plus, minus) == (int(np.sum(p.v_star > 0)), int(np.sum(p.v_star < 0)))
    drawn = sum(len(tr["x"]) // 3 for tr in fig["data"] if tr.get("name", "").startswith("W<sub>jq</sub>"))
    assert drawn == 2 * p.d
    go.Figure(fig)                                       # every property is a valid Plotly one


def test_mask_figure_counts_flips_over_all_samples_and_marks_them(paper_like):
    p, am, _ = paper_like
    for rec in am.records:
        fig = object_figures.mask_figure(p, rec.W, t=rec.t, max_rows=50)
        assert f": {rec.flips_teacher:,} flips in {p.n * p.d:,} ReLU states" in fig["layout"]["title"]["text"]
        z = np.asarray(fig["data"][0]["z"])
        rows = np.asarray(fig["data"][0]["customdata"])[0, :, 0].astype(int) - 1
        states = object_figures.mask_states(p, rec.W)
        assert np.array_equal(z, states[rows].T)
        shown_flips = int(np.count_nonzero(z >= 2))
        if rec.flips_teacher:
            assert shown_flips > 0, "rows with flips are shown first"
    go.Figure(fig)


def test_mask_states_agree_with_the_definition(paper_like):
    p, am, _ = paper_like
    W = am.records[1].W
    M = p.X @ (W + np.eye(p.d)) > 0
    Ms = p.X @ p.U_star > 0
    s = object_figures.mask_states(p, W)
    assert np.array_equal(s == 1, M & Ms) and np.array_equal(s == 0, ~M & ~Ms)
    assert np.array_equal(s == 2, M & ~Ms) and np.array_equal(s == 3, ~M & Ms)


def test_mask_rows_are_fixed_for_a_run_and_keep_the_flipping_samples(paper_like):
    p, am, _ = paper_like
    Ws = [r.W for r in am.records]
    rows = object_figures.mask_rows(p, Ws, max_rows=40)
    assert len(rows) == 40 and np.all(np.diff(rows) > 0)
    late = [r for r in am.records if r.flips_teacher][-1]
    flipping = np.flatnonzero(np.any(object_figures.mask_states(p, late.W) >= 2, axis=1))
    assert set(flipping[:20]) <= set(rows)
    assert np.array_equal(object_figures.mask_rows(p, Ws, max_rows=10**4), np.arange(p.n))


def test_weights_figure_shares_one_scale_centred_at_zero(paper_like):
    p, am, _ = paper_like
    W = am.records[1].W
    fig = object_figures.weights_figure(p, W, t=1)
    ca = fig["layout"]["coloraxis"]
    m = max(np.abs(W).max(), np.abs(p.W_star).max(), np.abs(W - p.W_star).max())
    assert ca["cmin"] == -m and ca["cmax"] == m and ca["cmid"] == 0
    zs = [np.asarray(tr["z"]) for tr in fig["data"]]
    assert np.array_equal(zs[0], W) and np.array_equal(zs[1], p.W_star) and np.array_equal(zs[2], W - p.W_star)
    assert all(tr["coloraxis"] == "coloraxis" for tr in fig["data"])
    notes = fig["layout"]["annotations"]      # centred on each panel as drawn, three lines each
    assert [a["xref"] for a in notes] == ["x domain", "x2 domain", "x3 domain"] and all(a["x"] == 0.5 for a in notes)
    assert [a["text"].count("<br>") for a in notes] == [2, 2, 2] and "relative" in notes[2]["text"]
    go.Figure(fig)


def test_landscape_figure_draws_the_slice_and_the_projected_paths(paper_like):
    p, am, gd = paper_like
    paths = {"gd": np.array([r.W for r in gd.records]), "am": np.array([r.W for r in am.records])}
    sl = landscape(p, "plane", paths=paths, grid=9)
    fig = landscape_figure(sl, paths, {"gd": gd.history["train_loss"], "am": am.history["train_loss"]}, t=3)
    contour = fig["data"][0]
    assert np.allclose(10 ** np.asarray(contour["z"]), np.maximum(sl.loss, sl.loss.max() * 1e-8))
    lines = {tr["name"]: tr for tr in fig["data"] if tr.get("name") in ("GD", "AM")}
    a, b, _ = sl.project(paths["am"][:4])
    assert np.allclose(lines["AM"]["x"], a) and np.allclose(lines["AM"]["y"], b)
    assert len(lines["GD"]["x"]) == 4                       # up to t = 3
    assert np.allclose(np.asarray(lines["AM"]["customdata"])[:, 1], am.history["train_loss"][:4])
    go.Figure(fig)


def test_path_indices_keep_the_ends_and_the_early_iterates():
    idx = path_indices(5000, 300)
    assert idx[0] == 0 and idx[-1] == 4999 and len(idx) <= 302 and np.all(np.diff(idx) > 0)
    assert set(range(20)) <= set(idx)
    assert np.array_equal(path_indices(50, 300), np.arange(50))


def test_lesson_charts_are_valid_plotly(paper_like):
    p, am, gd = paper_like
    go.Figure(lesson_figures.error_figure({"gd": gd.history, "am": am.history}, {"gd": "GD", "am": "AM"}, tol=1e-8))
    go.Figure(lesson_figures.error_figure({"gd": gd.history}, x="seconds"))
    go.Figure(lesson_figures.success_figure([50, 100], {"gd": [0.0, 0.5], "am": [0.5, 1.0]}, d=8, trials=2))


@pytest.mark.parametrize("key", sorted(glossary.GLOSSARY))
def test_each_explanation_is_one_sentence_with_an_equation_number(key):
    text = glossary.text(key)
    assert text.endswith(".") and text.count(". ") == 0
    assert re.search(r"\([1-5]\)", text), "names the equation it belongs to"
    html = glossary.hover(key)
    assert not re.search(r"<(?!/?sub>|br>)", html), "no bare < for Plotly to read as a tag"
    outside_math = re.sub(r"\$[^$]*\$", "", glossary.help_text(key))
    assert "_" not in outside_math, "subscripts are typeset (LaTeX), never a literal _"
    assert not re.search(r"(?<!\\)\*", outside_math), "a bare * would start Markdown emphasis"
