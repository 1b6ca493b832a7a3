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

RUN_KEY = "run"
CHARTS = ("rel_err", "flips", "loss", "heatmap")
ICONS = {"converged": "✅", "fixed_point": "✅", "max_iters": "⏱️", "diverged": "💥", "stopped": "⏸️"}

st.set_page_config(page_title="shallowres · Train", page_icon="📉", layout="wide")


def chart_grid() -> dict:
    """Four placeholders in a 2 x 2 grid, in CHARTS order."""
    top, bottom = st.columns(2), st.columns(2)
    return {name: col.empty() for name, col in zip(CHARTS, [*top, *bottom], strict=True)}


def build_figures(run: RunState, log_x: bool) -> dict:
    hist = run.histories()
    return {"rel_err": figures.rel_err_figure(hist, run.settings["tol"], log_x),
            "flips": figures.flips_figure(hist, log_x),
            "loss": figures.loss_figure(hist, log_x),
            "heatmap": figures.heatmap_figure(hist)}


def draw(run: RunState, slots: dict, status, tag: str, log_x: bool) -> None:
    """Status line and the four charts; ``tag`` makes the chart keys unique per draw."""
    show_status(run, status)
    for name, fig in build_figures(run, log_x).items():
        slots[name].plotly_chart(fig, key=f"{name}-{tag}", width="stretch",
                                 config={"displaylogo": False})


def show_status(run: RunState, status) -> None:
    with status.container():
        if not run.done:
            st.markdown(f"⏳ {run.status()}")
            return
        for alg, tr in run.traces.items():
            box = {"converged": st.success, "fixed_point": st.success, "diverged": st.error,
                   "stopped": st.info}.get(tr.stop_reason, st.warning)
            rec = tr.last
            box(f"**{figures.NAMES[alg]}** · iteration {rec.t} · relative error {rec.rel_err:.2e} · "
                f"{tr.seconds:.2f} s compute  \n{tr.message}", icon=ICONS.get(tr.stop_reason))


def new_run(settings: dict) -> RunState | None:
    """Start a run, or explain in the page why these settings cannot run."""
    try:
        return RunState.start(settings)
    except ValueError as e:        # includes MemoryBudgetError
        st.error(f"**These settings cannot run here.** {e}", icon="🚫")
        return None


def advance(run: RunState, step: bool, slots: dict, status, log_x: bool) -> None:
    """One Step, or Play to the end with throttled redraws."""
    try:
        if step:
            run.step()
        else:
            run.play(lambda r: draw(r, slots, status, f"live{r.draws}", log_x))
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as e:
        run.stop()
        st.error(f"The solver failed: {e}", icon="🚫")


def downloads(run: RunState) -> None:
    c1, c2, _ = st.columns([1, 1, 2])
    c1.download_button("⬇ History (CSV)", data=lambda: export.history_csv(run),
                       file_name="shallowres_history.csv", mime="text/csv", on_click="ignore",
                       help="One row per algorithm and iteration.", width="stretch")
    c2.download_button("⬇ Run (JSON)", data=lambda: export.run_json(run),
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
    settings = widgets.sidebar()
    st.title("Learning a shallow ReLU residual network")
    st.caption("y = relu(X(W* + I)) v* · gradient descent (GD) vs alternating minimization (AM) · "
               "Jagatap & Hegde, ISIT 2019")
    state.show_url_warnings(settings)
    widgets.assumptions_panel(settings)

    b = st.columns([1, 1, 1, 1, 3])
    play = b[0].button("▶ Run", type="primary", key="run_btn", width="stretch",
                       help="Run to the end (or continue a stopped run), drawing as it goes.")
    stop = b[1].button("■ Stop", key="stop_btn", width="stretch",
                       help="Stop the run. Changing any setting stops it too.")
    step = b[2].button("⏭ Step", key="step_btn", width="stretch",
                       help="Advance each algorithm by exactly one iteration.")
    reset = b[3].button("↺ Reset", key="reset_btn", width="stretch", help="Clear the charts.")
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
            advance(run, step, slots, status, settings["logx"])
    if run is None:
        status.info("Press **▶ Run** to train, or **⏭ Step** to go one iteration at a time.")
    else:
        if run.key != key:
            note.info("The settings changed since this run: the charts show the previous run. "
                      "Press **▶ Run** to start one with the new settings.")
        draw(run, slots, status, f"final{id(run)}-{run.draws}-{run.n_records}", settings["logx"])
        downloads(run)
    explain()


main()
