"""Phase-transition page: how often GD and AM recover W* as the number of samples n grows
(the paper's Fig. 1(a)), with Wilson 95% intervals, filling in as trials finish; below it,
the sample-complexity map over d and the fitted exponent of n* ~ C d^alpha.

Self-contained (legacy ``pages/`` folder, no st.navigation): every control is bound
to the URL, so a deep link such as ``/Phase_transition?grid=fine&trials=5`` works on a
freshly started server. A link's values are checked as on the Train page: the last of
a repeated value counts, a bad value gets a warning and the default, an unknown key a
warning. The paper's grid ships precomputed (docs/phase_transition.csv, same seeds), so
a cold server shows it at once; Run recomputes it.

Run hands the sweep to the server's admission controller (``dashboard.admission``, as the
Train page's runs): it waits for memory and computes on the server's workers in time slices
(``dashboard.sweep_jobs.SweepAdmissionJob``), shared fairly with every other student's work,
while a fragment redraws the progress and the chart a few times a second. Stop, or any
change of a control, withdraws it; Run on the same settings resumes where it stopped. A
sweep larger than the server's memory is refused with its size. A finished sweep is cached
across sessions. Processes and Dask compute in their own processes, outside the server's
budget, in a loop in this script (the page says so).
"""
from __future__ import annotations

import math
import os
import time

import streamlit as st

from dashboard import fragments, glossary, map_view, server, sweep_view, widgets
from dashboard.admission import Refused
from dashboard.react_chart import react_chart
from dashboard.state import STREAMLIT_PARAMS, Field, fmt, parse_value, rebind_url, warnings_markdown
from dashboard.sweep_jobs import SweepAdmissionJob
from shallowres.executors import DASK_ENV, cpu_count, process_executor
from shallowres.phase_map import analyze, format_analysis
from shallowres.sweep import FINE_N, PAPER_N, SWEEP_ETA, SweepResult, SweepSpec
from shallowres.sweep_cli import parse_list
from shallowres.sweep_job import SweepJob
from shallowres.theory import assumption1_gamma_max
from shallowres.threads import single_threaded_blas
from shallowres.validation import MB

single_threaded_blas()   # hosted: a fraction of a core, many sessions
st.set_page_config(page_title="shallowres · Phase transition", page_icon="📈", layout="wide")

# A hosted app has ~1 GB and a fraction of a core: sweeps run in the page by default,
# in slices, and grids are capped. The fine grid with 10 trials (800 runs) fits.
MAX_RUNS = 1000
MAX_N = 5000
MAX_D = 40
SLICE = 0.5             # processes / Dask: seconds between two draws (and the Stop latency)
THROTTLE = 0.7          # processes / Dask: seconds between chart redraws while streaming
TICK = 0.5              # seconds between live updates while the server computes a sweep ...
MAX_TICK = 2.0          # ... slower when many sessions compute at once
BATCH_BYTES = 16 * 2**20    # a session's GD batch: its stacked arrays at most (no number depends on it)
JOB_KEY = "phase_job"            # the session's SweepAdmissionJob (kept after a Stop, to resume)
REFUSED_KEY = "phase_refused"    # (spec key, message) of a sweep the server refused
FINISHED_KEY = "phase_finished"  # spec key of the sweep this session just finished
RECOVERED = r"\|W_T - W^*\|_F / \|W^* + I\|_F"      # the success rule's error, for KaTeX
PAGE = fragments.PageSync("phase")   # what the last full run drew (the live fragment reads it)
DONE = ":material/check_circle:"
# Bound widgets keep their option text in the URL, so options are short words
# (?grid=fine&alg=GD) and the explanations go in captions and help.
GRIDS = {"paper": f"n = {', '.join(map(str, PAPER_N))}", "fine": "n = 100, 200, …, 2000",
         "custom": "your list or range below"}
ETAS = {SWEEP_ETA: "0.9 × the theory step (default)", "theory": "the theory step 2/(σ²min + σ²max)",
        "0.5x": "0.5 × the theory step"}
INITS = {"identity": "identity", "random": "random", "delta": "δ-ball"}
THRESHOLDS = ("0.001", "0.005", "0.01", "0.05", "0.1")
RUN_ON = {"serial": "This server process (one core)", "processes": "2 local processes (shared by all sessions)",
          "dask": f"Dask cluster (${DASK_ENV})"}

# The URL's parameters, checked like the Train page's (dashboard.state): one value each,
# except the lists alg and init; n is free text, checked with the grid.
FIELDS = {f.name: f for f in (
    Field("grid", "choice", "paper", options=tuple(GRIDS)),
    Field("d", "int", 20, 2, MAX_D),
    Field("gamma", "float", 2.0, 0.0, 10.0),
    Field("trials", "int", 10, 1, 50),
    Field("eta", "choice", SWEEP_ETA, options=tuple(ETAS)),
    Field("gd_iters", "int", 3000, 100, 10_000),
    Field("am_iters", "int", 50, 5, 200),
    Field("threshold", "choice", "0.01", options=THRESHOLDS),
    Field("seed", "int", 0, 0, 2**31 - 1),
    Field("noise", "float", 0.0, 0.0, 10.0),
    Field("delta", "float", 0.8, 0.05, 0.95),
    Field("resample", "bool", False),
    Field("stall", "bool", True),
)}
LISTS = {"alg": ("GD", "AM"), "init": tuple(INITS)}
TEXT = ("n",)
KNOWN = (*FIELDS, *LISTS, *TEXT)


def check_link() -> list[str]:
    """On a session's first run, before the widgets read the URL: one warning per value
    the controls will not use, and the URL made canonical (the last of a repeated value,
    written as the control writes it; a bad value removed, so its control takes the default)."""
    if st.session_state.get("phase_url_checked"):
        return []
    st.session_state["phase_url_checked"] = True
    warnings = []
    for key in list(st.query_params):
        values = st.query_params.get_all(key)
        if key in STREAMLIT_PARAMS or key in TEXT:
            continue
        if key in LISTS:
            bad = [v for v in values if v not in LISTS[key]]
            if bad:
                warnings.append(f"URL parameter {key}={sweep_view.echo(bad[0])} is not one of "
                                f"{', '.join(LISTS[key])}; ignored.")
                good = [v for v in values if v in LISTS[key]]
                if good:
                    st.query_params[key] = good
                else:
                    del st.query_params[key]
            continue
        field = FIELDS.get(key)
        if field is None:
            warnings.append(f"Unknown URL parameter {sweep_view.echo(key)} was ignored "
                            f"(known: {', '.join(KNOWN)}).")
            continue
        try:
            value = parse_value(field, values[-1])
        except ValueError:
            warnings.append(f"URL parameter {key}={sweep_view.echo(values[-1])} is not {field.describe()}; "
                            f"using the default {key}={fmt(field.default)}.")
            del st.query_params[key]
            continue
        st.query_params[key] = fmt(value) if field.kind != "choice" else value
    rebind_url()            # the controls read the cleaned URL (Streamlit kept the raw one)
    return warnings


def run_on_options() -> list[str]:
    opts = ["serial"]
    if cpu_count() >= 2:
        opts.append("processes")
    if os.environ.get(DASK_ENV):
        opts.append("dask")
    return opts


@st.cache_resource(show_spinner=False)
def shared_executor(kind: str):
    """One executor per server process, shared by every session (so a session's choice of
    processes adds no processes of its own): a 2-process pool, or a Dask client's executor."""
    if kind == "processes":
        return process_executor(2)
    import distributed
    return distributed.Client(os.environ[DASK_ENV], timeout="10s").get_executor(pure=False)


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
    gamma = sb.number_input(glossary.latex("γ = ‖W*‖_F"), 0.0, 10.0, 2.0, step=0.5, key="gamma", bind="query-params",
                            help="Distance of the teacher from the identity; the paper uses 2.")
    noise = sb.number_input("Label noise σ", 0.0, 10.0, 0.0, step=0.05, key="noise", bind="query-params",
                            help="Gaussian noise on the labels y, in units of 1/√n (the scale of X). With noise "
                                 "the error has a floor: a run that settles on it stops as stalled.")
    trials = sb.slider("Trials per point", 1, 50, 10, key="trials", bind="query-params",
                       help="Each trial draws a new teacher W\\*, new data X and a new random start.")
    sb.markdown("### Methods")
    algs = sb.multiselect("Algorithms", list(LISTS["alg"]), list(LISTS["alg"]), key="alg", bind="query-params",
                          help="GD: gradient descent, eq. (1). AM: alternating minimization, eqs. (2)-(3).")
    inits = sb.multiselect("Initializations", list(INITS), ["identity", "random"], key="init",
                           bind="query-params",
                           help="identity: W⁰ = 0. random: vec(W⁰) ~ N(0, I)/d. delta: on the sphere "
                                "‖W⁰ − W\\*‖_F = δ‖W\\* + I‖_F, Theorem 1's start condition, tight.")
    delta = sb.slider("δ: radius of the δ-ball start", 0.05, 0.95, 0.8, step=0.05, key="delta",
                      bind="query-params", disabled="delta" not in inits,
                      help="Used by the δ-ball initialization only.")
    resample = sb.checkbox("Fresh samples every iteration", False, key="resample", bind="query-params",
                           help="A new batch of n samples at each step, as the theory assumes (Lemmas 1-2). "
                                "Slower: every step draws new data.")
    eta = sb.selectbox("GD step size η", list(ETAS), key="eta", bind="query-params",
                       help="0.9x: " + ETAS[SWEEP_ETA] + "; theory: " + ETAS["theory"] + "; 0.5x: "
                            + ETAS["0.5x"] + ". The paper chose its step 'by inspection'. The theory "
                            "step sits at the edge of stability: some runs hover just above the threshold.")
    c1, c2 = sb.columns(2)
    gd_iters = c1.number_input("GD budget", 100, 10_000, 3000, step=500, key="gd_iters", bind="query-params",
                               help="GD's maximum iterations.")
    am_iters = c2.number_input("AM budget", 5, 200, 50, step=5, key="am_iters", bind="query-params",
                               help="AM's maximum iterations (it also stops at a fixed point).")
    stall = sb.checkbox("End stalled trials early", True, key="stall", bind="query-params",
                        help="A run whose best error fell by less than 1% over the last 100 GD or 5 AM "
                             "iterations has settled: it stops there (counted in the table's 'stalled' "
                             "column). No run that recovers W* on the paper's grid is stopped this way.")
    threshold = sb.select_slider("Success: relative error below", THRESHOLDS, "0.01", key="threshold",
                                 bind="query-params")
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
        spec = SweepSpec(n=n, d=int(d), gamma=float(gamma), noise=float(noise), trials=int(trials),
                         inits=inits, algs=[a.lower() for a in algs], eta=eta, gd_iters=int(gd_iters),
                         am_iters=int(am_iters), threshold=float(threshold), seed=int(seed), delta=float(delta),
                         resample=bool(resample), stall=bool(stall))
    except ValueError as e:
        st.error(f"**This grid cannot run:** {sweep_view.echo(e, limit=300)}", icon=":material/block:")
        return None, run_on
    return spec, run_on


def caption(spec: SweepSpec) -> None:
    extra = []
    if spec.noise[0]:
        extra.append(f"label noise σ = {spec.noise[0]:g}/√n")
    if spec.resample:
        extra.append("a fresh batch of samples every iteration")
    if "delta" in spec.inits:
        extra.append(f"δ-ball start at δ = {spec.delta:g}")
    st.markdown(
        f"Each point is the share of {spec.trials} trials in which the algorithm recovered W\\* "
        f"(${RECOVERED}$ < {spec.threshold:g}) at d = {spec.d[0]}, $\\|W^*\\|_F$ = {spec.gamma[0]:g}, "
        "with its 95% interval. Where the curves jump from 0 to 1 is the number of samples learning needs."
        + (f" This sweep adds {'; '.join(extra)}." if extra else ""))
    with st.expander("How this sweep is set up (the paper's Fig. 1(a), and this run)"):
        setup(spec, extra)


def setup(spec: SweepSpec, extra: list[str]) -> None:
    st.markdown(
        "**The paper** (Fig. 1(a)) plots the probability of recovering W\\*, i.e. "
        f"${RECOVERED}$ < 0.01, against n ∈ {{200, 700, 1200, 1700}} at d = 20 and "
        "$\\|W^*\\|_F$ = 2, over 10 trials each with a new X, for GD and AM from identity and random "
        "initialization. It states no iteration budget, and a GD step 'chosen by inspection'.  \n"
        f"**This run:** d = {spec.d[0]}, $\\|W^*\\|_F$ = {spec.gamma[0]:g}, {spec.trials} trials per point, "
        f"success below {spec.threshold:g}" + "".join(f"; {x}" for x in extra) + ". Inputs X have N(0, 1/n) "
        "entries (the slides' scale; AM does not depend on it and GD's theory step adapts to it). W\\* has "
        "balanced columns ‖w\\*_q‖ = γ/√d (Assumption 3; the paper does not say how it drew W\\*), v\\* random "
        f"signs, random start vec(W⁰) ~ N(0, I)/d. Budgets: GD at most {spec.gd_iters:,} steps with "
        f"η = {ETAS.get(spec.eta, spec.eta)}, AM at most {spec.am_iters} (or a fixed point); a run stops once "
        "below the threshold" + (", or when it has stalled" if spec.stall else "") + ". Each trial's teacher "
        "and data are shared by all curves, and a seed reproduces the table exactly (`python -m shallowres "
        "sweep`).")


def draw(rows, spec: SweepSpec, tick: float | None = None) -> None:
    """The phase chart, one chart updated in place (``dashboard.react_chart``): ``st.plotly_chart`` in
    the live fragment remounts on every new point, and Chromium showed it blank in some samples.
    ``tick``: the fragment's rerun period while the sweep moves (the chart's watchdog)."""
    react_chart(sweep_view.phase_figure(rows, spec.n, spec.d[0], spec.threshold), "phase-chart", tick,
                settle=PAGE.unsettled() or PAGE.stale(tick is not None), page=PAGE.check(), on_repage=PAGE.redraw)


def draw_into(slot, rows, spec: SweepSpec, key: str) -> None:
    """The phase chart in ``slot`` under a new ``key`` (the in-script stream draws many in one run)."""
    slot.plotly_chart(sweep_view.phase_figure(rows, spec.n, spec.d[0], spec.threshold), key=key,
                      width="stretch", config={"displaylogo": False})


def show_table(result_rows, csv_text: str | None) -> None:
    st.dataframe(sweep_view.table_rows(result_rows), hide_index=True, width="stretch",
                 column_config={k: st.column_config.Column(v) for k, v in sweep_view.TABLE_COLUMNS.items()})
    if csv_text is not None:
        st.download_button("Table (CSV)", icon=":material/download:", data=csv_text,
                           file_name="phase_transition.csv", mime="text/csv", on_click="ignore",
                           help="One row per (n, algorithm, init): successes, trials, probability, "
                                "Wilson 95% interval, stalled runs, medians.")


def progress_text(done: int, total: int, eta: float | None) -> str:
    left = "" if eta is None else f" · about {eta:.0f} s of compute left" if eta >= 1 else " · under a second left"
    return f"{done} of {total} trials{left}"


def session_job(spec: SweepSpec) -> SweepAdmissionJob:
    """This session's job for ``spec``: the stopped one to resume (finished trials kept), or a new one.
    A job the server cut is wrapped anew around the same trials."""
    ctl = server.controller()
    job = st.session_state.get(JOB_KEY)
    if isinstance(job, SweepJob):           # a bare (stopped) job, as tests leave one: the server's wrapper
        job = stopped_wrapper(job)
    if job is not None and job.job.spec.key() != spec.key():
        job.stop()
        ctl.forget(job)
        job = None
    if job is None:
        job = SweepAdmissionJob(SweepJob(spec, batch_bytes=BATCH_BYTES), server.session_id())
    elif job.cut_reason:
        ctl.forget(job)
        job.job.cancelled = False
        job = SweepAdmissionJob(job.job, server.session_id())
    st.session_state[JOB_KEY] = job
    return job


def stopped_wrapper(job: SweepJob) -> SweepAdmissionJob:
    wrapped = SweepAdmissionJob(job, server.session_id())
    wrapped.stop()
    return wrapped


def current_job(spec: SweepSpec) -> SweepAdmissionJob | None:
    job = st.session_state.get(JOB_KEY)
    if isinstance(job, SweepJob):
        job = st.session_state[JOB_KEY] = stopped_wrapper(job)
    return job if job is not None and job.job.spec.key() == spec.key() else None


def refused_words(e: Refused) -> str:
    return (f"**This sweep is too big for this server.** It needs about {e.needed / MB:,.0f} MB at a time "
            f"(its largest batch of trials); the server has {e.budget / MB:,.0f} MB for all students' runs "
            "together. Try a smaller n or d (a batch's memory grows with n·d²; the number of trials "
            "changes little), or the command line: `python -m shallowres sweep`.")


def act(spec: SweepSpec, run_on: str, go: bool, stop: bool) -> None:
    """Apply Run and Stop (no Streamlit call in between, so a rerun cannot interrupt it halfway)."""
    ctl = server.controller()
    held = st.session_state.get(JOB_KEY)
    if isinstance(held, SweepAdmissionJob) and held.active and held.job.spec.key() != spec.key():
        held.stop()                             # a control changed: the old sweep stops (Run on it resumes)
        ctl.withdraw(held)
    if stop:
        job = current_job(spec)
        if job is not None:
            job.stop()
            ctl.withdraw(job)
    if go and run_on == "serial":
        st.session_state.pop(REFUSED_KEY, None)
        st.session_state.pop(FINISHED_KEY, None)
        job = session_job(spec)
        job.request()
        try:
            ctl.submit(job)
        except Refused as e:
            job.stop()
            st.session_state[REFUSED_KEY] = (spec.key(), refused_words(e))


def stream(spec: SweepSpec, run_on: str, slot, bar) -> tuple[SweepAdmissionJob, str]:
    """Processes or Dask: advance the session's job slice by slice on the shared executor, in this
    script, drawing between slices (outside the server's admission controller: the executor's
    processes have their own memory and CPU). A Stop (any rerun) interrupts it at a draw."""
    job = session_job(spec)
    job.stop()
    server.controller().withdraw(job)        # not on the server's workers meanwhile
    executor = None
    where = "this server process"
    try:
        executor = shared_executor(run_on)
        where = RUN_ON[run_on]
    except Exception as e:      # noqa: BLE001 - any failure to reach the executor: compute here
        st.warning(f"Could not use {RUN_ON[run_on]} ({sweep_view.echo(e)}); computing here.",
                   icon=":material/warning:")
    last = 0.0
    while not job.job.finished:
        with job.locked() as sj:
            try:
                if executor is not None:
                    sj.advance_on(executor, SLICE)
                else:
                    sj.advance(SLICE)
            except RuntimeError:          # the shared pool broke: a new one next time, this slice here
                shared_executor.clear()
                executor, where = None, "this server process"
        now = time.perf_counter()
        if now - last >= THROTTLE or job.job.finished:
            bar.progress(job.job.done / job.job.total,
                         text=progress_text(job.job.done, job.job.total, job.job.eta_seconds()))
            draw_into(slot, job.job.rows(), spec, f"phase-live{job.job.done}-{now:.3f}")
            last = time.perf_counter()
    return job, where


def tick_seconds() -> float:
    """Two updates a second while at most four sessions compute; fewer as more do (as on the Train page)."""
    return min(MAX_TICK, TICK * max(1, math.ceil(server.controller().busy() / 4)))


def waiting_words(job: SweepAdmissionJob) -> str:
    """What the server is doing with the session's sweep, in words."""
    return server.queue_words(job, "Points appear as soon as it begins.") or (
        ":material/sync: **Running on the server**, between other students' runs. Points appear "
        "as trials finish; **Stop** keeps them.")


def finish(job: SweepAdmissionJob, key: str) -> SweepResult:
    """The finished sweep: into the cache shared by all sessions, out of the session."""
    result = keep(key, job.result(executor="this server process"))
    server.controller().forget(job)
    return result


def keep(key: str, result: SweepResult) -> SweepResult:
    """A finished sweep into the shared cache (replacing an older run of it) and out of the session."""
    sweep_view.remember(key, result)
    st.session_state.pop(JOB_KEY, None)
    st.session_state[FINISHED_KEY] = key
    return result


def live(spec: SweepSpec) -> None:
    """The sweep's status, progress and chart; reruns on its own while the server computes it."""
    key = spec.key()
    runs = spec.total
    job = current_job(spec)
    # Elements straight in the fragment, in the same order on every tick (note, bar, chart): each tick's
    # delta replaces its predecessor in place. An st.empty() slot would first blank the chart, then refill it.
    note = bar = st
    if job is not None and job.job.finished and not job.cut_reason:
        finish(job, key)
        job = None
    moving = job is not None and job.active       # read once: a change meanwhile shows next tick
    result = None if moving else sweep_view.cached(key)
    if moving:
        rows, done, total, eta = job.snapshot()
        note.markdown(waiting_words(job))
        bar.progress(done / total, text=progress_text(done, total, eta))
        draw(rows, spec, tick_seconds())
    elif result is not None:
        if st.session_state.get(FINISHED_KEY) == key:
            note.success(f"All {result.done} trials in {result.seconds:.1f} s of compute ({result.executor}); "
                         f"{result.stalled} run(s) stopped as stalled.", icon=DONE)
        else:
            note.success(f"All {result.done} trials, computed earlier in {result.seconds:.1f} s "
                         f"({result.executor}); served from the cache.", icon=DONE)
        draw(result.rows, spec)
        show_table(result.rows, result.to_csv())
    elif job is not None and (job.job.done or job.cut_reason):
        rows, done, total, eta = job.snapshot()
        if job.cut_reason:
            note.warning(f"**Stopped by the server: {job.cut_reason}**, after {done} of {total} trials. "
                         "**Resume** carries on from there.", icon=":material/cancel:")
        else:
            note.info(f"Stopped after {done} of {total} trials" +
                      (f" (about {eta:.0f} s of compute left)" if eta else "") +
                      ". **Resume** carries on from here.", icon=":material/pause_circle:")
        draw(rows, spec)
        if rows:
            show_table(rows, None)
    else:
        refused = st.session_state.get(REFUSED_KEY)
        shipped = sweep_view.shipped("paper") if spec == SweepSpec() else ()
        if refused is not None and refused[0] == key:
            note.error(refused[1], icon=":material/block:")
        elif shipped:
            note.info("**The paper's grid, precomputed** with these seeds and shipped with the app "
                      "(`python -m shallowres sweep --paper`). **Run** recomputes it here.",
                      icon=":material/inventory_2:")
        else:
            note.info(f"Press **Run** to start {runs:,} trials. Points appear as trials finish.",
                      icon=":material/play_arrow:")
        draw(shipped, spec)
        if shipped and refused is None:
            show_table(shipped, None)
    if PAGE.stale(moving):
        st.rerun(scope="app")            # the buttons (Run / Resume) follow the job (dashboard.fragments)


def main() -> None:
    st.html(widgets.CSS)
    st.markdown("## Phase transition: how many samples recover W\\*?")
    link_warnings = check_link()
    spec, run_on = controls()
    if link_warnings:
        st.warning(warnings_markdown(link_warnings),
                   icon=":material/warning:")
    if spec is not None:
        sweep_section(spec, run_on)
    st.divider()
    map_section()
    PAGE.end()


def sweep_section(spec: SweepSpec, run_on: str) -> None:
    caption(spec)
    runs = spec.total
    if runs > MAX_RUNS:
        st.error(f"**This grid has {runs:,} runs** ({len(spec.n)} values of n × {len(spec.algs)} "
                 f"algorithms × {len(spec.inits)} initializations × {spec.trials} trials); this page "
                 f"runs at most {MAX_RUNS:,}. Use fewer trials or n values, or the command line: "
                 "`python -m shallowres sweep` (all cores, or a Dask cluster).", icon=":material/block:")
        return
    job = current_job(spec)
    resumable = job is not None and 0 < job.job.done < job.job.total
    b = st.columns([1, 1, 4])
    go = b[0].button("Resume" if resumable else "Run", icon=":material/play_arrow:", type="primary", key="run_btn",
                     width="stretch",
                     help=f"Run {runs:,} trials ({len(spec.n)} n × {len(spec.algs) * len(spec.inits)} "
                          f"curves × {spec.trials}); after a Stop, carry on where it stopped.")
    stop = b[1].button("Stop", icon=":material/stop:", key="stop_btn", width="stretch",
                       help="Stop the sweep; the trials finished so far stay on the chart, and Run resumes.")
    act(spec, run_on, go, stop)
    if run_on != "serial":
        st.caption(f"**{RUN_ON[run_on]}**: these trials compute outside the server's shared budget "
                   "(memory and CPU fairness), in the executor's own processes, while this page waits for "
                   "them. On a hosted class use *This server process*.")
        if go:
            note, bar, slot = st.empty(), st.empty(), st.empty()
            job, where = stream(spec, run_on, slot, bar.progress(0.0, text=f"0 of {runs} trials"))
            keep(spec.key(), job.result(executor=where))
            for el in (note, bar, slot):
                el.empty()
    job = current_job(spec)
    tick = tick_seconds() if job is not None and job.active else None
    PAGE.begin(tick is not None)
    fragments.fragment(live, tick, spec)


@st.cache_data(max_entries=4, show_spinner=False)
def map_analysis(name: str, kind: str):
    rows = sweep_view.shipped(name)
    return (rows, analyze(rows, kind)) if rows else ((), None)


def map_section() -> None:
    st.markdown("### How does the threshold grow with d? The sample-complexity map")
    rows, a = map_analysis("map_d", "d")
    if a is None:
        st.info("No map is shipped with this copy of the app: compute one with "
                "`python -m shallowres sweep --map d --csv docs/phase_map_d.csv`.", icon=":material/info:")
        return
    first = rows[0]
    trials = max(r.trials for r in rows)
    e = a.exponent
    st.caption(
        "Theorem 1 asks for n > C·d·k²·polylog = Õ(d³) samples (k = d); AM's least-squares step has d² unknowns, "
        f"so it needs n ≥ d². Recovery probability of **{a.alg.upper()} from the {a.init} start** over d and "
        f"n/d², {trials} trials per cell, the teacher at {glossary.latex('‖W*‖_F/‖I‖_F')} = "
        f"{first.gamma / first.d ** 0.5:.3f} "
        "for every d (the paper's γ = 2 at d = 20). Precomputed on the command line (`python -m shallowres "
        "sweep --map d`, see the README) and shipped with the app. The orange curve is the 50% threshold n\\* "
        "of a logistic fit in log n per d, with its 95% profile-likelihood interval.")
    st.plotly_chart(map_view.map_heatmap(rows, a), key="map-d", width="stretch", config={"displaylogo": False})
    st.plotly_chart(map_view.exponent_figure(a), key="map-alpha", width="stretch", config={"displaylogo": False})
    if e is not None:
        st.markdown(f"**Fitted exponent:** n\\* ≈ C·d^α with C = {e.C:.3g} and α = **{e.alpha:.2f}** "
                    f"(95% interval {e.low:.2f} – {e.high:.2f}) over d = {', '.join(f'{v:g}' for v in e.d)}: "
                    + ("much closer to d² than to the paper's d³." if e.high < 2.5 else
                       "between d² and d³." if e.high < 3 else "not distinguishable from d³ here."))
    with st.expander("Thresholds per d (table)"):
        st.code(format_analysis(a), language=None)
    grows, ga = map_analysis("map_gamma", "gamma")
    if ga is not None:
        st.markdown("#### How far from the identity can the teacher be? (d = 20)")
        st.caption(f"Recovery probability over the teacher's size {glossary.latex('γ = ‖W*‖_F')} and n at d = 20 "
                   f"({max(r.trials for r in grows)} trials per cell, {ga.alg.upper()} from the {ga.init} start). "
                   f"Assumption 1 (identity start inside Theorem 1's ball) holds for "
                   f"γ ≤ {glossary.latex('δ√d/(1 + δ)')} = {assumption1_gamma_max(20, 0.8):.2f} "
                   "at the paper's δ = 0.8.")
        st.plotly_chart(map_view.map_heatmap(grows, ga), key="map-gamma", width="stretch",
                        config={"displaylogo": False})


PAGE.run(main)
