"""Lesson page: the paper's story in eight steps, for a class in front of a projector.

Self-contained (legacy ``pages/`` folder, no st.navigation): the step is bound to the URL
(``/Lesson?step=3``), so a deep link opens that step on a freshly started server. Each step
sets the shared settings (the Train page then shows the same problem), runs its small runs
through the server's admission controller (cached across sessions, ``dashboard.lesson_view``)
and says in two or three sentences what to look at; every number in those sentences comes from
the runs (``dashboard.lesson``).
"""
from __future__ import annotations

import streamlit as st

from dashboard import glossary, lesson, lesson_view, object_figures, state, widgets
from dashboard.landscape_figure import landscape_figure
from dashboard.lesson import STEPS, num, sci, secs
from dashboard.lesson_figures import ALG_NAMES, error_figure, success_figure
from dashboard.theory_view import md
from shallowres.threads import single_threaded_blas

single_threaded_blas()   # hosted: a fraction of a core, many sessions
st.set_page_config(page_title="shallowres · Lesson", page_icon="🎓", layout="wide")

STEP_KEY = "step"
CHART = {"displaylogo": False}
NUMBERS = [str(i) for i in range(1, len(STEPS) + 1)]


def chart(fig: dict, key: str) -> None:
    st.plotly_chart(fig, key=key, width="stretch", config=CHART)


def say(lines: list[str]) -> None:
    for line in lines:
        st.markdown(md(line), unsafe_allow_html=True)


def go_to(k: int) -> None:
    st.session_state[STEP_KEY] = NUMBERS[k]


def settings_line(s: dict) -> str:
    return (f"d = {s['d']} · n = {s['n']:,} · γ = ‖W\\*‖<sub>F</sub> = {s['gamma']:g} · init: {s['init']} · "
            f"fresh samples: {'on' if s['resample'] else 'off'} · η: {s['eta']} · seed {s['seed']}")


# ----- the steps' pictures -----------------------------------------------------------------------

def show_model(r: dict) -> None:
    p = r["problem"]
    c = st.columns(3)
    c[0].metric(r"$\|W^* + I\|_F$", num(r["scale"]),
                help=r"The scale of the relative error $\|W^t - W^*\|_F / \|W^* + I\|_F$.")
    c[1].metric("relative error at W⁰", num(r["rel0"]), help=glossary.help_text("delta"))
    c[2].metric("flips at W⁰", f"{r['flips0']:,}", help=glossary.help_text("flips"))
    chart(object_figures.network_figure(p, r["W0"], t=0), "lesson-network")
    chart(object_figures.weights_figure(p, r["W0"], t=0), "lesson-weights")


def show_gd_vs_am(r: dict, tol: float) -> None:
    p, am = r["problem"], r["am"]
    t = st.slider("AM iteration t (the pictures below follow it)", 0, am["n_iter"], min(1, am["n_iter"]),
                  key="lesson_am_t", help=glossary.help_text("flips"))
    losses = {"gd": r["gd"]["train_loss"][r["gd_keep"]], "am": am["train_loss"]}
    chart(landscape_figure(r["slice"], r["paths"], losses, t={"am": t}, ts={"gd": r["gd_keep"]}), "lesson-landscape")
    st.caption(f"The loss on a {r['grid']} × {r['grid']} grid in the plane of W⁰, W\\* and AM's W¹, computed "
               f"matrix-free in {secs(r['landscape_seconds'])}; GD's path is projected on it (its distance from the "
               "plane is in the hover). Colour: training loss on a log scale.")
    chart(object_figures.mask_figure(p, r["am_W"][t], t=t, rows=object_figures.mask_rows(p, r["am_W"])),
          "lesson-masks")
    chart(object_figures.network_figure(p, r["am_W"][t], t=t), "lesson-am-network")
    runs = {"gd": r["gd"], "am": am, **r["baselines"]}
    labels = {"gd": "GD (theory step)", "am": "AM", "sgd": "SGD (random start)", "adam": "Adam (random start)",
              "am_inexact": f"inexact AM (K = {lesson.AM_INNER})"}
    chart(error_figure(runs, labels, tol=tol, title="Relative error against iterations (SGD, Adam: epochs)"),
          "lesson-error-t")
    chart(error_figure(runs, labels, x="seconds", title="Relative error against compute time"), "lesson-error-s")
    rows = ["| Method (Table I) | Start | Iterations | Final relative error | Compute time | Stopped because |",
            "|---|---|---|---|---|---|"]
    starts = {"sgd": "random", "adam": "random"}
    for key, res in runs.items():
        unit = " epochs" if key in ("sgd", "adam") else ""
        rows.append(f"| {labels[key]} | {starts.get(key, 'identity')} | {res['n_iter']:,}{unit} | {sci(res['final'])} "
                    f"| {secs(res['wall'])} | {res['stop_reason'].replace('_', ' ')} |")
    st.markdown("\n".join(rows))
    st.caption(f"SGD: mini-batches of 64, constant step b/(β + (b − 1)λ₁) (Ma, Bassily & Belkin 2018); Adam: rate "
               f"10⁻³, β = (0.9, 0.999), batches of 64; inexact AM: {lesson.AM_INNER} preconditioned CG iterations "
               "per step instead of the exact solve. One SGD or Adam epoch costs about one GD iteration.")


def show_stall(r: dict, tol: float) -> None:
    runs = {"gd:theory": r["theory"], "gd:0.9x": r["scaled"], "gd:random": r["random"]}
    labels = {"gd:theory": f"theory step (ησ*²<sub>max</sub> = {r['theory']['edge']:.3f})",
              "gd:0.9x": f"0.9 × theory step ({r['scaled']['edge']:.3f})",
              "gd:random": f"random start's theory step ({r['random']['edge']:.3f})"}
    chart(error_figure(runs, labels, tol=tol, dashes={"gd:0.9x": "dash", "gd:random": "dot"},
                       title="GD with three step sizes: the edge of stability is η σ*²<sub>max</sub> = 2"),
          "lesson-stall")


def show_few(r: dict, tol: float) -> None:
    chart(error_figure({"gd": r["gd"], "am": r["am"]}, {"gd": "GD", "am": "AM"}, tol=tol), "lesson-few-error")
    chart(object_figures.weights_figure(r["problem"], r["am_W"], t=r["am"]["n_iter"]), "lesson-few-weights")


def show_far(r: dict, tol: float) -> None:
    c = st.columns(3)
    c[0].metric("δ (Theorem 1)", f"{r['delta']:g}", help=glossary.help_text("delta"))
    c[1].metric(r"Assumption 1: $\delta\sqrt{d}/(1 + \delta)$", num(r["bound"]), help=glossary.help_text("delta"))
    c[2].metric("start distance (identity)", num(r["start_identity"]),
                help=r"$\|W^0 - W^*\|_F / \|W^* + I\|_F$ at $W^0 = 0$; Theorem 1 needs it $\le \delta$.")
    runs = {"gd": r["gd_identity"], "am": r["am_identity"], "gd:random": r["gd_random"], "am:random": r["am_random"]}
    labels = {"gd": "GD, identity start", "am": "AM, identity start", "gd:random": "GD, random start",
              "am:random": "AM, random start"}
    chart(error_figure(runs, labels, tol=tol, dashes={"gd:random": "dash", "am:random": "dash"}), "lesson-far")
    t = r["am_identity"]["n_iter"]
    chart(object_figures.mask_figure(r["problem"], r["am_identity_W"], t=t), "lesson-far-masks")


def show_fresh(r: dict, tol: float) -> None:
    runs = {"gd": r["gd_fixed"], "am": r["am_fixed"], "gd:fresh": r["gd_fresh"], "am:fresh": r["am_fresh"]}
    labels = {"gd": "GD, one fixed set", "am": "AM, one fixed set", "gd:fresh": "GD, fresh samples",
              "am:fresh": "AM, fresh samples"}
    chart(error_figure(runs, labels, tol=tol, dashes={"gd:fresh": "dash", "am:fresh": "dash"},
                       symbols={"am:fresh": "x-thin-open"}), "lesson-fresh")


def show_theory(r: dict) -> None:
    p, q = r["paper"], r["small"]
    st.markdown("**At the paper's setting (d = 20, n = 1,700, γ = 2), at W⁰**")
    c = st.columns(4)
    c[0].metric("κ", num(p["kappa"]), help=glossary.help_text("kappa"))
    c[1].metric("ρ₃ (N(0, 1) units)", num(p["rho3_unit_scale"]), help=glossary.help_text("rho3"))
    c[2].metric(r"$\rho_{\mathrm{GD}}$, bound (4)", num(p["rho_gd"]),
                help="GD's promised contraction per step; a factor ≥ 1 promises nothing.")
    c[3].metric(r"$\rho_{\mathrm{AM}}$, bound (5)", num(p["rho_am"]),
                help="AM's promised contraction per step; a factor ≥ 1 promises nothing.")
    q_s = r["small_settings"]
    st.markdown(f"**At d = {q_s['d']}, n = {q_s['n']:,}, γ = {q_s['gamma']:g}** (the Theory page's *Bounds hold* "
                "preset)")
    c = st.columns(4)
    c[0].metric("κ", num(q["kappa"]), help=glossary.help_text("kappa"))
    c[1].metric("ρ₃ (N(0, 1) units)", num(q["rho3_unit_scale"]), help=glossary.help_text("rho3"))
    c[2].metric(r"$\rho_{\mathrm{GD}}$, bound (4)", num(q["rho_gd"]))
    c[3].metric(r"$\rho_{\mathrm{AM}}$, bound (5)", num(q["rho_am"]))
    runs = r["small_runs"]
    chart(error_figure({"gd": runs["gd"], "am": runs["am"]}, {"gd": "GD", "am": "AM"}, tol=q_s["eps"],
                       title=f"The runs at d = {q_s['d']}: both beat their promised rates"), "lesson-theory")
    st.page_link("pages/1_Theory.py", label="Open the Theory page at this small setting", icon=":material/article:",
                  query_params=state.encode({**state.defaults(), **q_s}))


def show_phase(r: dict) -> None:
    chart(success_figure(r["n"], r["rates"], r["d"], r["trials"]), "lesson-phase")
    rows = ["| n | n / d² | " + " | ".join(f"{ALG_NAMES[a]} recovered" for a in ("gd", "am")) + " | "
            + " | ".join(f"{ALG_NAMES[a]} median iterations" for a in ("gd", "am")) + " |",
            "|---|---|---|---|---|---|"]
    d2 = r["d"] ** 2
    for i, n in enumerate(r["n"]):
        rows.append(f"| {n} | {n / d2:.2g} | {r['rates']['gd'][i]:.0%} | {r['rates']['am'][i]:.0%} | "
                    f"{r['iters']['gd'][i]:,.0f} | {r['iters']['am'][i]:,.0f} |")
    st.markdown("\n".join(rows))
    st.caption(f"{r['trials']} trials per point, computed in {secs(r['seconds'])}.")
    st.page_link("pages/2_Phase_transition.py", label="Open the Phase transition page (the paper's grid)",
                 icon=":material/article:")


SHOW = {"model": show_model, "gd-vs-am": show_gd_vs_am, "stall": show_stall, "few-samples": show_few,
        "far": show_far, "fresh": show_fresh, "theory": show_theory, "phase": show_phase}


def main() -> None:
    st.html(widgets.CSS)
    with st.sidebar:
        widgets.nav()
        st.markdown("### Lesson steps")
        st.markdown("\n".join(f"{i}. {s.title}" for i, s in enumerate(STEPS, 1)))
    st.title("Lesson: learning a shallow residual network")
    choice = st.segmented_control("Step", NUMBERS, default=NUMBERS[0], required=True, key=STEP_KEY,
                                  bind="query-params", help="Each step sets the controls, runs, and says what to "
                                                            "look at. The URL keeps the step: share it.")
    k = NUMBERS.index(choice or NUMBERS[0])
    s = STEPS[k]
    settings = s.settings
    lesson_view.adopt(settings)
    st.subheader(f"{k + 1}. {s.title}")
    c1, c2 = st.columns([3, 1])
    c1.markdown("Settings: " + settings_line(settings), unsafe_allow_html=True)
    with c2:
        st.page_link("app.py", label="Open these settings on Train", icon=":material/show_chart:",
                     query_params=state.encode(settings))
    try:
        r = lesson_view.computed(s.slug)
    except ValueError as e:          # the memory guard: cannot happen at the lesson's settings, but say so
        st.error(f"**This step cannot run here.** {e}", icon=":material/block:")
        return
    tol = settings["tol"]
    say(lesson.words(s.slug, r, tol))
    show = SHOW[s.slug]
    if s.slug in ("model", "theory", "phase"):
        show(r)
    else:
        show(r, tol)
    c1, _, c3 = st.columns([1, 3, 1])
    if k > 0:
        c1.button(f"← {k}. {STEPS[k - 1].title}", key="lesson_prev", on_click=go_to, args=(k - 1,), width="stretch")
    if k + 1 < len(STEPS):
        c3.button(f"{k + 2}. {STEPS[k + 1].title} →", key="lesson_next", on_click=go_to, args=(k + 1,),
                  type="primary", width="stretch")


main()
