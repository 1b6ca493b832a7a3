"""Phase-transition page: how often GD and AM recover W* as the number of samples n grows
(the paper's Fig. 1(a)), with Wilson 95% intervals, filling in as trials finish.

Self-contained (legacy ``pages/`` folder, no st.navigation): every control is bound
to the URL, so a deep link such as ``/Phase_transition?grid=fine&trials=5`` works on a
freshly started server. Run starts a sweep; Stop, or any change of a control, stops it
(the trials finished so far stay on the chart). A finished sweep is cached across
sessions, so asking for the same sweep again shows it at once.
"""
from __future__ import annotations

import os
import time

import streamlit as st

from dashboard import state, sweep_view, widgets
from shallowres.executors import DASK_ENV, cpu_count
from shallowres.sweep import FINE_N, PAPER_N, SWEEP_ETA, SweepSpec, run_sweep, summarize
from shallowres.sweep_cli import parse_list
from shallowres.threads import single_threaded_blas

single_threaded_blas()   # hosted: a fraction of a core, many sessions
st.set_page_config(page_title="shallowres · Phase transition", page_icon="📈", layout="wide")

# A hosted app has ~1 GB and a fraction of a core: sweeps run serially in the page
# by default, and grids are capped. The fine grid with 10 trials (800 runs) fits.
MAX_RUNS = 1000
MAX_N = 5000
MAX_D = 40
THROTTLE = 0.7          # seconds between chart redraws while streaming
PARTIAL_KEY = "phase_partial"
DONE = ":material/check_circle:"
# Bound widgets keep their option text in the URL, so options are short words
# (?grid=fine&alg=GD) and the explanations go in captions and help.
GRIDS = {"paper": f"n = {', '.join(map(str, PAPER_N))}", "fine": "n = 100, 200, …, 2000",
         "custom": "your list or range below"}
ETAS = {SWEEP_ETA: "0.9 × the theory step (default)", "theory": "the theory step 2/(σ²min + σ²max)",
        "0.5x": "0.5 × the theory step"}
RUN_ON = {"serial": "This server process (one core)", "processes": "2 local processes",
          "dask": f"Dask cluster (${DASK_ENV})"}


def run_on_options() -> list[str]:
    opts = ["serial"]
    if cpu_count() >= 2:
        opts.append("processes")
    if os.environ.get(DASK_ENV):
        opts.append("dask")
    return opts


def controls() -> tuple[SweepSpec | None, str]:
    """Sidebar controls (each bound to a URL query parameter); the spec, or None if invalid."""
    sb = st.sidebar
    with sb:
        widgets.nav()
    sb.markdown("### Grid")
    grid = sb.radio("Sample sizes n", list(GRIDS), captions=list(GRIDS.values()), key="grid",
                    bind="query-params")
    custom = sb.text_input("n values (list 300,400,500 or range 300:800:100)", "300:800:100", key="n",
                           bind="query-params", disabled=grid != "custom",
                           help=f"Integers from 1 to {MAX_N:,}; a range start:stop:step includes stop.")
    d = sb.number_input("d: input dimension = hidden neurons", 2, MAX_D, 20, key="d", bind="query-params",
                        help="The paper uses d = 20, so W\\* has d² = 400 entries.")
    gamma = sb.number_input("γ = ‖W\\*‖_F", 0.0, 10.0, 2.0, step=0.5, key="gamma", bind="query-params",
                            help="Distance of the teacher from the identity; the paper uses 2.")
    trials = sb.slider("Trials per point", 1, 50, 10, key="trials", bind="query-params",
                       help="Each trial draws a new teacher W\\*, new data X and a new random start.")
    sb.markdown("### Methods")
    algs = sb.multiselect("Algorithms", ["GD", "AM"], ["GD", "AM"], key="alg", bind="query-params",
                          help="GD: gradient descent, eq. (1). AM: alternating minimization, eqs. (2)-(3).")
    inits = sb.multiselect("Initializations", ["identity", "random"], ["identity", "random"], key="init",
                           bind="query-params", help="identity: W⁰ = 0. random: vec(W⁰) ~ N(0, I)/d.")
    eta = sb.selectbox("GD step size η", list(ETAS), key="eta", bind="query-params",
                       help="0.9x: " + ETAS[SWEEP_ETA] + "; theory: " + ETAS["theory"] + "; 0.5x: "
                            + ETAS["0.5x"] + ". The paper chose its step 'by inspection'. The theory "
                            "step sits at the edge of stability: some runs hover just above the threshold.")
    c1, c2 = sb.columns(2)
    gd_iters = c1.number_input("GD budget", 100, 10_000, 3000, step=500, key="gd_iters", bind="query-params",
                               help="GD's maximum iterations.")
    am_iters = c2.number_input("AM budget", 5, 200, 50, step=5, key="am_iters", bind="query-params",
                               help="AM's maximum iterations (it also stops at a fixed point).")
    threshold = sb.select_slider("Success: relative error below", [0.001, 0.005, 0.01, 0.05, 0.1], 0.01,
                                 key="threshold", bind="query-params")
    seed = sb.number_input("Base seed", 0, 2**31 - 1, 0, key="seed", bind="query-params",
                           help="Per-trial seeds derive from it: the same seed, the same table.")
    opts = run_on_options()
    run_on = sb.radio("Where the trials compute", opts, format_func=RUN_ON.get, key="run_on",
                      help="On the hosted app keep 'This server process'. Processes and Dask are for "
                           "running the dashboard on your own machine or next to a cluster.")
    try:
        n = {"paper": PAPER_N, "fine": FINE_N}.get(grid) or parse_list("n", custom, int, ranges=True)
        if max(n, default=0) > MAX_N:
            raise ValueError(f"n must be at most {MAX_N:,} on this page (the CLI has no such cap)")
        spec = SweepSpec(n=n, d=int(d), gamma=float(gamma), trials=int(trials), inits=inits,
                         algs=[a.lower() for a in algs], eta=eta, gd_iters=int(gd_iters),
                         am_iters=int(am_iters), threshold=threshold, seed=int(seed))
    except ValueError as e:
        st.error(f"**This grid cannot run:** {state.echo(e, limit=300)}", icon=":material/block:")
        return None, run_on
    return spec, run_on


def caption(spec: SweepSpec) -> None:
    st.caption(
        "**The paper** (Fig. 1(a)) plots the probability of recovering W\\*, i.e. "
        "‖W_T − W\\*‖_F / ‖W\\* + I‖_F < 0.01, against n ∈ {200, 700, 1200, 1700} at d = 20 and "
        "‖W\\*‖_F = 2, over 10 trials each with a new X, for GD and AM from identity and random "
        "initialization. It states no iteration budget, and a GD step 'chosen by inspection'.  \n"
        f"**This run:** d = {spec.d[0]}, ‖W\\*‖_F = {spec.gamma[0]:g}, {spec.trials} trials per point, "
        f"success below {spec.threshold:g}. Inputs X have N(0, 1/n) entries (the slides' scale; AM does "
        "not depend on it and GD's theory step adapts to it). W\\* has balanced columns "
        "‖w\\*_q‖ = γ/√d (Assumption 3; the paper does not say how it drew W\\*), v\\* random signs, "
        "random start vec(W⁰) ~ N(0, I)/d. Budgets: GD at most "
        f"{spec.gd_iters:,} steps with η = {ETAS.get(spec.eta, spec.eta)}, AM at most {spec.am_iters} "
        "(or a fixed point); a run stops once below the threshold. Each trial's teacher and data are "
        "shared by all four curves, and a seed reproduces the table exactly (`python -m shallowres sweep`).")


def draw(slot, rows, spec: SweepSpec, tag: str) -> None:
    fig = sweep_view.phase_figure(rows, spec.n, spec.d[0], spec.threshold)
    slot.plotly_chart(fig, key=f"phase-{tag}", width="stretch", config={"displaylogo": False})


def show_table(result_rows, csv_text: str | None) -> None:
    st.dataframe(sweep_view.table_rows(result_rows), hide_index=True, width="stretch",
                 column_config={k: st.column_config.Column(v) for k, v in sweep_view.TABLE_COLUMNS.items()})
    if csv_text is not None:
        st.download_button("Table (CSV)", icon=":material/download:", data=csv_text,
                           file_name="phase_transition.csv", mime="text/csv", on_click="ignore",
                           help="One row per (n, algorithm, init): successes, trials, probability, "
                                "Wilson 95% interval, medians.")


def stream(spec: SweepSpec, run_on: str, slot, bar) -> None:
    """Run the sweep, drawing as trials finish; keep finished trials if interrupted."""
    partial = []
    st.session_state[PARTIAL_KEY] = (spec.key(), partial)
    start = time.perf_counter()
    last = [0.0]

    def on_trial(done: int, total: int, trial) -> None:
        partial.append(trial)
        now = time.perf_counter()
        if now - last[0] >= THROTTLE or done == total:
            bar.progress(done / total, text=f"{done} of {total} trials · {now - start:.0f} s")
            draw(slot, summarize(spec, partial), spec, f"live{done}")
            last[0] = time.perf_counter()

    result = run_sweep(spec, run_on, workers=2 if run_on == "processes" else None, progress=on_trial)
    sweep_view.remember(spec.key(), result)
    del st.session_state[PARTIAL_KEY]


BOUND = ("grid", "n", "d", "gamma", "trials", "alg", "init", "eta", "gd_iters", "am_iters", "threshold", "seed")


def warn_unused_link_values(raw: dict[str, list[str]]) -> None:
    """A deep link's values that the URL-bound controls rejected (bind="query-params"
    drops them silently), and unknown keys: one warning, by the rules of every page
    (``state.link_warnings``). Only on a session's first run."""
    if st.session_state.get("phase_url_checked"):
        return
    st.session_state["phase_url_checked"] = True
    values = {k: st.session_state[k] for k in BOUND if k in st.session_state}
    state.show_warnings(state.link_warnings(raw, values, multi=("alg", "init")))


def main() -> None:
    st.html(widgets.CSS)
    st.markdown("## Phase transition: how many samples recover W\\*?")
    raw = {k: st.query_params.get_all(k) for k in st.query_params}
    state.drop_unreadable_numbers(("d", "gamma", "trials", "gd_iters", "am_iters", "seed"))
    spec, run_on = controls()
    warn_unused_link_values(raw)
    if spec is None:
        return
    caption(spec)
    runs = spec.total
    if runs > MAX_RUNS:
        st.error(f"**This grid has {runs:,} runs** ({len(spec.n)} values of n × {len(spec.algs)} "
                 f"algorithms × {len(spec.inits)} initializations × {spec.trials} trials); this page "
                 f"runs at most {MAX_RUNS:,}. Use fewer trials or n values, or the command line: "
                 "`python -m shallowres sweep` (all cores, or a Dask cluster).", icon=":material/block:")
        return
    b = st.columns([1, 1, 4])
    go = b[0].button("Run", icon=":material/play_arrow:", type="primary", key="run_btn", width="stretch",
                     help=f"Run {runs:,} trials ({len(spec.n)} n × {len(spec.algs) * len(spec.inits)} "
                          f"curves × {spec.trials}).")
    b[1].button("Stop", icon=":material/stop:", key="stop_btn", width="stretch",
                help="Stop the sweep; the trials finished so far stay on the chart.")
    note, bar, slot = st.empty(), st.empty(), st.empty()
    key = spec.key()
    result = sweep_view.cached(key)
    if result is not None:
        note.success(f"All {result.done} trials, computed earlier in {result.seconds:.1f} s "
                     f"({result.executor}); served from the cache.", icon=DONE)
    elif go:
        stream(spec, run_on, slot, bar.progress(0.0, text=f"0 of {runs} trials"))
        result = sweep_view.cached(key)
        bar.empty()
        note.success(f"All {result.done} trials in {result.seconds:.1f} s ({result.executor}).", icon=DONE)
    if result is not None:
        draw(slot, result.rows, spec, "final")
        show_table(result.rows, result.to_csv())
        return
    pkey, partial = st.session_state.get(PARTIAL_KEY, (None, []))
    rows = summarize(spec, partial) if pkey == key else ()
    if rows:
        note.info(f"Stopped after {len(partial)} of {runs} trials. Run starts this sweep again.",
                  icon=":material/pause_circle:")
    else:
        note.info(f"Press **Run** to start {runs:,} trials. Points appear as trials finish.",
                  icon=":material/play_arrow:")
    draw(slot, rows, spec, "idle")
    if rows:
        show_table(rows, None)


main()
