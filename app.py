"""Train page: watch GD (eq. 1) and AM (eqs. 2-3) learn y = relu(X (W* + I)) v*.

Start with ``streamlit run app.py``. Every setting lives in the URL; Run streams
the per-iteration records into four charts, Step advances one iteration, Stop (or
any widget change) stops a run, Reset clears it.
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import export, figures, state, widgets
from dashboard.stream import RunState
from shallowres.threads import single_threaded_blas

RUN_KEY = "run"
CHARTS = {   # 2 x 2 grid, row by row
    "rel_err": "Relative error ‖Wᵗ − W*‖_F / ‖W* + I‖_F",
    "loss": "Training loss (solid) and test loss (dotted): the paper's Fig. 1(b)",
    "flips": "ReLU flips: pairs mismatched with the teacher (solid), changed since the last step (dotted)",
    "heatmap": "Mismatches with the teacher per neuron, over the iterations",
}
BOXES = {"converged": (st.success, ":material/check_circle:"), "fixed_point": (st.success, ":material/check_circle:"),
         "max_iters": (st.warning, ":material/timer:"), "diverged": (st.error, ":material/error:"),
         "stopped": (st.info, ":material/pause_circle:")}

single_threaded_blas()   # hosted: a fraction of a core, many sessions
st.set_page_config(page_title="shallowres · Train", page_icon="📉", layout="wide")


def chart_grid() -> dict:
    """Four titled placeholders in a 2 x 2 grid, in CHARTS order."""
    cols = [*st.columns(2), *st.columns(2)]
    slots = {}
    for (name, title), col in zip(CHARTS.items(), cols, strict=True):
        col.markdown("**" + title.replace("*", r"\*").replace("_", r"\_") + "**")
        slots[name] = col.empty()
    return slots


def build_figures(run: RunState, log_x: bool, live: bool = False) -> dict:
    """The four charts; live redraws thin long histories (``figures.thin``), the final draw does not."""
    hist = figures.thin(run.histories(), log_x=log_x) if live else run.histories()
    return {"rel_err": figures.rel_err_figure(hist, run.settings["tol"], log_x),
            "flips": figures.flips_figure(hist, log_x),
            "loss": figures.loss_figure(hist, log_x),
            "heatmap": figures.heatmap_figure(hist)}


def draw(run: RunState, slots: dict, status, tag: str, log_x: bool, live: bool = False) -> None:
    """Status line and the four charts; ``tag`` makes the chart keys unique per draw."""
    show_status(run, status)
    for name, fig in build_figures(run, log_x, live).items():
        slots[name].plotly_chart(fig, key=f"{name}-{tag}", width="stretch",
                                 config={"displaylogo": False})


def show_status(run: RunState, status) -> None:
    """While running: one line per algorithm. At the end: the stop reason of each, in words."""
    with status.container():
        if not run.done:
            st.markdown(run.status())
            return
        for col, (alg, tr) in zip(st.columns(len(run.traces)), run.traces.items(), strict=True):
            box, icon = BOXES[tr.stop_reason]
            rec = tr.last
            with col:
                box(f"**{figures.NAMES[alg]}** · iteration {rec.t} · relative error {rec.rel_err:.2e} · "
                    f"{tr.seconds:.2f} s  \n{tr.message}", icon=icon)


def new_run(settings: dict) -> RunState | None:
    """Start a run, or explain in the page why these settings cannot run."""
    try:
        return RunState.start(settings)
    except ValueError as e:        # includes MemoryBudgetError
        st.error(f"**These settings cannot run here.** {e}", icon=":material/block:")
        return None


def advance(run: RunState, step: bool, slots: dict, status, settings: dict) -> None:
    """One Step, or Play to the end with throttled redraws (or in slow motion)."""
    redraw = lambda r: draw(r, slots, status, f"live{r.draws}", settings["logx"], live=True)  # noqa: E731
    try:
        if step:
            run.step()
        elif settings["slow"]:
            run.play_slowly(redraw)
        else:
            run.play(redraw)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as e:
        run.stop()
        st.error(f"The solver failed: {e}", icon=":material/error:")


def downloads(run: RunState) -> None:
    c1, c2, _ = st.columns([1, 1, 2])
    c1.download_button("History (CSV)", icon=":material/download:", data=lambda: export.history_csv(run),
                       file_name="shallowres_history.csv", mime="text/csv", on_click="ignore",
                       help="One row per algorithm and iteration.", width="stretch")
    c2.download_button("Run (JSON)", icon=":material/download:", data=lambda: export.run_json(run),
                       file_name="shallowres_run.json", mime="application/json", on_click="ignore",
                       help="Settings, history, flips per neuron and the final W of each algorithm.",
                       width="stretch")


def explain() -> None:
    with st.expander("What am I looking at?"):
        st.markdown(
            "A *teacher* network y = relu(X(W* + I)) v* labels n random inputs. A *student* with the "
            "same architecture starts at W⁰ and learns W from (X, y).\n\n"
            "- **GD**, eq. (1): a gradient step on the loss ‖y − relu(X(W + I))v*‖² / 2n.\n"
            "- **AM**, eqs. (2)-(3): freeze which ReLUs are on (the masks), then solve the now-linear "
            "least-squares problem exactly.\n\n"
            "A *flip* is a (sample, neuron) pair whose ReLU is on where the teacher's is off, or the "
            "other way round. Once no ReLU disagrees with the teacher, AM lands on W* in one step.")


def main() -> None:
    settings = widgets.sidebar("train")
    st.markdown("### Learning a shallow ReLU residual network")
    st.caption("y = relu(X(W* + I)) v* · gradient descent (GD) vs alternating minimization (AM) · "
               "Jagatap & Hegde, ISIT 2019")
    state.show_url_warnings(settings)
    widgets.assumptions_panel(settings)

    b = st.columns([1, 1, 1, 1, 2])
    play = b[0].button("Run", icon=":material/play_arrow:", type="primary", key="run_btn", width="stretch",
                       help="Run to the end (or continue a stopped run), drawing as it goes.")
    stop = b[1].button("Stop", icon=":material/stop:", key="stop_btn", width="stretch",
                       help="Stop the run. Changing any setting stops it too.")
    step = b[2].button("Step", icon=":material/skip_next:", key="step_btn", width="stretch",
                       help="Advance each algorithm by exactly one iteration.")
    reset = b[3].button("Reset", icon=":material/restart_alt:", key="reset_btn", width="stretch",
                        help="Clear the charts.")
    status = st.empty()
    note = st.empty()
    slots = chart_grid()

    run = st.session_state.get(RUN_KEY)
    key = state.run_key(settings)
    if reset:
        run = st.session_state[RUN_KEY] = None
    # Stop: the Stop button, a changed setting, or any rerun that interrupted a playing run.
    if run is not None and not run.done and (stop or run.key != key or run.playing):
        run.stop()
    if play or step:
        if run is None or run.key != key or (run.done and not run.stopped):
            run = st.session_state[RUN_KEY] = new_run(settings)
        if run is not None:
            advance(run, step, slots, status, settings)
    if run is None:
        status.info("Press **Run** to train, or **Step** to go one iteration at a time.")
    else:
        if run.key != key:
            note.info("The settings changed since this run: the charts show the previous run. "
                      "Press **Run** to start one with the new settings.")
        draw(run, slots, status, f"final{id(run)}-{run.draws}-{run.n_records}", settings["logx"])
        if settings["logx"]:
            st.caption("On a log iteration axis the start, t = 0, is not drawn: untick "
                       "*Log-scale iteration axis* in the sidebar to see it. Drag to zoom, double-click to reset.")
        downloads(run)
    explain()


main()
