"""The Lesson page: its words come from its runs, every step renders, and it sets the Train page's controls."""
from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dashboard import lesson, lesson_view  # noqa: E402
from dashboard.lesson import STEPS, sci  # noqa: E402

TIMEOUT = 600
PAGE = "pages/3_Lesson.py"


@pytest.fixture(scope="module")
def results():
    """Every step's results, through the page's own cache (so the page tests below reuse them)."""
    return {s.slug: lesson_view._computed(s.slug) for s in STEPS}


def text_of(slug: str, r: dict) -> str:
    return "\n".join(lesson.words(slug, r, 1e-8))


def first_below(h, eps):
    return int(np.flatnonzero(np.asarray(h["rel_err"]) < eps)[0])


def test_the_model_step_says_the_problems_numbers(results):
    r = results["model"]
    text = text_of("model", r)
    p = r["problem"]
    flips = int(np.count_nonzero((p.X @ (r["W0"] + np.eye(p.d)) > 0) != (p.X @ p.U_star > 0)))
    assert f"**{flips:,}**" in text
    assert f"**{np.linalg.norm(r['W0'] - p.W_star) / p.scale:.3g}**" in text
    assert f"({int(np.sum(p.v_star > 0))} of them +1)" in text


def test_gd_vs_am_says_the_runs_counts_and_the_baselines(results):
    r = results["gd-vs-am"]
    text = text_of("gd-vs-am", r)
    assert f"after **{first_below(r['am'], 1e-8):,}** iterations" in text
    assert f"ends at **{sci(r['gd']['final'])}** after {r['gd']['n_iter']:,} iterations" in text
    for key in ("sgd", "adam"):
        assert f"after **{first_below(r['baselines'][key], 1e-8):,}** epochs" in text
    assert f"fall from {int(r['am']['flips'][0]):,} to 0 in {r['am']['n_iter']} steps" in text


def test_the_stall_step_computes_the_edge_of_stability(results):
    r = results["stall"]
    text = text_of("stall", r)
    assert r["theory"]["edge"] == pytest.approx(r["theory"]["eta"] * r["sigma_max_star2"])
    assert f"**η σ*²_max = {r['theory']['edge']:.4f}**" in text
    assert r["theory"]["edge"] > 2 > r["scaled"]["edge"]        # the paper's setting sits past the edge
    assert f"bottoms out at {sci(r['low'])} (t = {r['low_t']:,})" in text
    assert f"after **{first_below(r['scaled'], 1e-8):,}** iterations" in text


def test_the_words_change_with_the_numbers(results):
    """Nothing is written in: perturb a result and its sentence changes accordingly."""
    for slug in ("model", "few-samples", "far", "fresh", "theory", "phase"):
        r = copy.deepcopy(results[slug])
        before = text_of(slug, r)
        if slug == "model":
            r["flips0"] += 7
        elif slug == "few-samples":
            r["am"]["final"] *= 1.5
        elif slug == "far":
            r["gd_identity"]["final"] *= 3
        elif slug == "fresh":
            r["n"] += 100
        elif slug == "theory":
            r["paper"]["rho_gd"] *= 1.1
        else:
            r["rates"]["am"] = [1.0] * len(r["n"])
        assert text_of(slug, r) != before, slug


def test_every_step_has_two_or_three_sentences_blocks_of_text(results):
    for s in STEPS:
        lines = lesson.words(s.slug, results[s.slug], 1e-8)
        assert 2 <= len(lines) <= 3 and all(len(x) > 40 for x in lines)


def test_memory_reserved_for_a_step_is_within_the_per_run_guard():
    from dashboard.state import MEMORY_BUDGET

    for s in STEPS:
        assert 0 < lesson.memory_bytes(s.slug) <= MEMORY_BUDGET


def test_an_unknown_step_names_the_allowed_ones():
    with pytest.raises(ValueError, match="^step must be one of model, gd-vs-am"):
        lesson.step("nope")


# ----- the page, headless --------------------------------------------------------------------

def page_at(step: int | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    if step is not None:
        at.query_params["step"] = str(step)
    at.switch_page(PAGE)
    return at


def figures(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def has_data(fig: dict) -> bool:
    for tr in fig["data"]:
        for key in ("x", "z"):
            v = tr.get(key)
            if isinstance(v, dict) and v.get("bdata"):
                return True
            if isinstance(v, list) and len(v) > 1:
                return True
    return False


@pytest.mark.parametrize("k", range(1, len(STEPS) + 1))
def test_each_step_renders_with_data_and_no_error(results, k):
    at = page_at(k).run()
    assert not at.exception and not at.error
    assert at.subheader[0].value == f"{k}. {STEPS[k - 1].title}"
    figs = figures(at)
    assert figs and all(has_data(f) for f in figs)
    settings = at.session_state["settings"]
    assert settings == STEPS[k - 1].settings


def test_next_walks_through_all_steps(results):
    at = page_at().run()
    for k in range(1, len(STEPS) + 1):
        assert not at.exception and not at.error
        assert at.subheader[0].value == f"{k}. {STEPS[k - 1].title}"
        if k < len(STEPS):
            at = at.button(key="lesson_next").click().run()
    at = at.button(key="lesson_prev").click().run()
    assert at.subheader[0].value == f"{len(STEPS) - 1}. {STEPS[-2].title}"


def test_the_am_slider_moves_the_pictures(results):
    at = page_at(2).run()
    am = results["gd-vs-am"]["am"]
    at = at.slider(key="lesson_am_t").set_value(am["n_iter"]).run()
    titles = [f["layout"]["title"]["text"] for f in figures(at)]
    assert any(t.startswith(f"Masks P<sup>t</sup> at t = {am['n_iter']}: 0 flips") for t in titles)
    assert any(t.startswith(f"The network at t = {am['n_iter']}: 0 flips") for t in titles)


def test_a_step_sets_the_controls_of_the_train_page(results):
    at = page_at(4).run()                       # too few samples: n = 300
    assert not at.exception
    at.switch_page("app.py")
    at = at.run()
    assert not at.exception
    assert at.number_input(key="w_n").value == 300
    assert not at.warning or all("not used" not in w.value for w in at.warning)
