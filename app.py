"""Train page: watch GD (eq. 1) and AM (eqs. 2-3) learn y = relu(X (W* + I)) v*.

Start with ``streamlit run app.py``. Every setting lives in the URL. Run hands the
run to the server's workers (``dashboard.admission``) and a live fragment shows it
growing, four times a second, in charts that stay on screen (``dashboard.live_chart``).
Step advances one iteration (or pauses a running run), Stop stops within a second,
any setting change stops the run, Reset clears it. A finished run can be replayed,
and pinned so the next run is drawn over it. Under the charts: pictures of the weights, masks,
network and loss landscape at the iterate shown (``dashboard.train_objects``) and Table I's
baselines on a click (``dashboard.train_baselines``).
"""
from __future__ import annotations

import math
import time
from urllib.parse import urlencode

import streamlit as st

from dashboard import (
    copy_code,
    export,
    fragments,
    glossary,
    run_view,
    server,
    state,
    train_baselines,
    train_objects,
    widgets,
)
from dashboard.admission import Refused
from dashboard.history import snapshot
from dashboard.live_chart import Feed, live_charts
from dashboard.replay import JOB, VIEW, cursor, scrub, start_replay
from dashboard.runs import NAMES, RunJob, largest_n

PRESENTING = st.query_params.get("present", "").lower() in ("1", "true", "yes", "on")
st.set_page_config(page_title="shallowres · Train", page_icon="📉", layout="wide",
                   initial_sidebar_state="collapsed" if PRESENTING else "auto")
PRESENT_CSS = """<style>
[data-testid="stMainBlockContainer"] p, [data-testid="stMainBlockContainer"] li,
.sr-status {font-size: 1.3rem !important; line-height: 1.5 !important;}
[data-testid="stMainBlockContainer"] h3 {font-size: 2.1rem !important;}
[data-testid="stMainBlockContainer"] button p {font-size: 1.2rem !important;}
</style>"""

FEED, PINS = "live_feed", "pins"
PAGE = fragments.PageSync("train")      # what the last full run drew (the live fragment reads it)
TICK = 0.25             # seconds between live updates while a run computes or replays ...
MAX_TICK = 2.0          # ... slower when many sessions compute at once (each update costs the server ~5 ms)
SLOW_SECONDS = 15.0     # slow motion: the iterations unfold over this long (log-paced)
REPLAY_SPEEDS = {"5 s": 5.0, "10 s": 10.0, "20 s": 20.0, "40 s": 40.0}
MAX_PINS = 3
PICTURE_TICK = 1.0      # seconds between redraws of the pictures while a run computes or replays
BOXES = {"converged": (st.success, ":material/check_circle:"), "fixed_point": (st.success, ":material/check_circle:"),
         "max_iters": (st.warning, ":material/timer:"), "diverged": (st.error, ":material/error:"),
         "stalled": (st.warning, ":material/trending_flat:"),
         "step_budget": (st.warning, ":material/hourglass_bottom:")}


# ----- what the page shows: the live run, or a paced replay of it -----------------------

# ----- status line --------------------------------------------------------------------

def waiting_words(job: RunJob) -> str | None:
    """Why a run that wants CPU is not computing, or None if it is."""
    return server.queue_words(job, "Your charts start as soon as it begins.")


def final_boxes(job: RunJob) -> None:
    """At the end: each algorithm's stop reason in words."""
    cols = st.columns(len(job.runs))
    for col, (alg, r) in zip(cols, job.runs.items(), strict=True):
        rec = r.history.last
        if r.stop_reason is None or rec is None:
            continue
        box, icon = BOXES.get(r.stop_reason, (st.info, ":material/info:"))
        with col:
            box(f"**{NAMES[alg]}** · iteration {rec.t:,} · relative error {rec.rel_err:.2e} · "
                f"{r.seconds:.2f} s  \n{glossary.latex(r.message)}", icon=icon)


# ----- the live fragment ------------------------------------------------------------------

def live_view(settings: dict) -> None:
    """Status, charts and replay controls; reruns on its own while something moves."""
    job: RunJob | None = st.session_state.get(JOB)
    view = st.session_state[VIEW]
    computing = job is not None and job.active      # read once: a run ending meanwhile shows next tick
    upto = cursor(view, time.monotonic())
    if view["mode"] == "timed" and view["playing"] and job is not None and not computing \
            and upto is not None and upto >= job.T:
        view.update(mode="live", playing=False)           # the paced display has caught up
        upto = None
    status = st.container()
    gen = "empty" if job is None else f"{job.token}:{view.get('epoch', 0)}"
    moving = computing or (view["mode"] == "timed" and view["playing"])
    series, head, figs, snaps = run_view.chart_data(job, settings, upto, st.session_state.get(PINS, []))
    payload = st.session_state[FEED].payload(gen, series, head, figs, final=not moving,
                                             status=run_view.status_lines(job, snaps, view))
    with status:
        if job is None:
            st.info("Press **Run** to train, or **Step** to go one iteration at a time.", icon=":material/play_arrow:")
        else:
            waiting = waiting_words(job) if computing else None
            if waiting:
                st.markdown(waiting)
    stale = PAGE.stale(moving)
    live_charts(payload, key="live_charts", on_resync=st.session_state[FEED].reset,
                tick=tick_seconds() if moving else None, settle=stale or PAGE.unsettled(),
                page=PAGE.check(), on_repage=PAGE.redraw)
    if settings["logx"]:
        st.caption("On a log iteration axis t = 0 is not drawn (untick *Log-scale iteration axis* to see it). "
                   "Drag to zoom, double-click to reset; a flip count of 0 sits on the bottom tick.")
    if stale:
        # The page around this fragment shows a run that has stopped moving, or its full run was cut
        # short: redraw it (final boxes, downloads, replay). Asked at every tick or settle check until
        # a full run draws to its end (dashboard.fragments).
        st.rerun(scope="app")


def replay_controls(job: RunJob, settings: dict) -> None:
    """Replay a finished (or stopped) run without recomputing, at a chosen speed, or scrub to any t."""
    T = job.T
    if T < 1:
        return
    view = st.session_state[VIEW]
    c1, c2, c3 = st.columns([1.9, 1.2, 4.2], vertical_alignment="bottom")   # "Pause replay" uncut at 900 px
    playing = view["mode"] == "timed" and view["playing"]
    if c1.button("Pause replay" if playing else "Replay", icon=":material/pause:" if playing else ":material/replay:",
                 key="replay_btn", width="stretch", help="Replay the run as it unfolded, without recomputing."):
        if playing:
            st.session_state[VIEW] = dict(view, playing=False, t=cursor(view, time.monotonic()))
        else:
            st.session_state[VIEW] = start_replay(REPLAY_SPEEDS[st.session_state.get("replay_speed", "10 s")],
                                                  T, settings["logx"])
        st.rerun(scope="app")
    c2.selectbox("Replay length", list(REPLAY_SPEEDS), index=1, key="replay_speed",
                 help="How long the replay takes from t = 0 to the end (log-paced on a log axis).")

    shown = cursor(view, time.monotonic())
    st.session_state["replay_t"] = T if shown is None else min(shown, T)
    c3.slider("Show iterations up to t", 0, T, key="replay_t", on_change=scrub, args=(st.session_state, T,
              settings["logx"]), help="Scrub through the run: both algorithms are drawn up to this iteration.")


def objects_view() -> None:
    """The pictures of the objects at the iterate shown (its own fragment: at most once a second)."""
    view, job = st.session_state[VIEW], st.session_state.get(JOB)
    moving = job is not None and job.active or (view["mode"] == "timed" and view["playing"])
    train_objects.pictures(job, cursor(view, time.monotonic()), picture_tick() if moving else None)


# ----- buttons ----------------------------------------------------------------------------

def new_job(settings: dict) -> RunJob | None:
    try:
        return RunJob(settings, server.session_id())
    except ValueError as e:          # MemoryBudgetError: past the per-run guard
        st.error(f"**These settings cannot run here.** {e}. {largest_n_words(settings)}", icon=":material/block:")
        return None


def largest_n_words(settings: dict) -> str:
    n = largest_n(settings, server.controller().limits.memory)
    return (f"At d = {settings['d']}, runs up to n = {n:,} fit." if n else
            f"No n fits at d = {settings['d']}: try a smaller d.")


def act(settings: dict, pressed: dict) -> None:
    """Apply the buttons, in an order that is safe under any clicking (no Streamlit call in between,
    so a rerun cannot interrupt it halfway)."""
    ctl = server.controller()
    job: RunJob | None = st.session_state.get(JOB)
    key = state.run_key(settings)
    if pressed["reset"]:
        if job is not None:
            job.stop()
            ctl.forget(job)
        job = st.session_state[JOB] = None
        st.session_state[VIEW] = {"mode": "live"}
        st.session_state[FEED].reset()
    if job is not None and job.active and job.key != key:
        job.stop("you changed a setting")
        ctl.withdraw(job)
    if pressed["stop"]:
        if job is not None and job.stop():
            ctl.withdraw(job)
        if st.session_state[VIEW].get("playing"):
            st.session_state[VIEW] = {"mode": "live"}
    if pressed["pin"] and job is not None:
        snaps = {a: snapshot(r.history) for a, r in job.runs.items() if len(r.history)}
        pins = st.session_state.setdefault(PINS, [])
        pins.append({"settings": dict(job.settings), "snaps": snaps})
        del pins[:-MAX_PINS]
    if pressed["clear_pins"]:
        st.session_state[PINS] = []
        st.session_state[FEED].reset()
    if pressed["run"] or pressed["step"]:
        if pressed["step"] and job is not None and job.active:
            job.stop("Step pauses a running run; press Step again for one iteration")
            ctl.withdraw(job)
            return
        if job is None or job.key != key or job.done or job.phase == "failed":
            if job is not None:
                job.stop()
                ctl.forget(job)
            job = new_job(settings)
            st.session_state[JOB] = job
            st.session_state[VIEW] = {"mode": "live"}
            if job is None:
                return
        fresh = all(len(r.history) == 0 for r in job.runs.values())
        if settings["slow"] and pressed["run"] and fresh:       # slow motion: a paced view of the live run
            st.session_state[VIEW] = start_replay(SLOW_SECONDS, max(budgets(job)), settings["logx"], "slow motion")
        elif pressed["run"]:
            st.session_state[VIEW] = {"mode": "live"}
        if job.request("run" if pressed["run"] else "step"):
            try:
                ctl.submit(job)
            except Refused as e:
                job.stop("refused")
                st.error(f"**This run is too big for this server.** {e}. {largest_n_words(settings)}",
                         icon=":material/block:")


def tick_seconds() -> float:
    """Four live updates a second while at most four sessions compute; fewer as more do."""
    return min(MAX_TICK, TICK * max(1, math.ceil(server.controller().busy() / 4)))


def picture_tick() -> float:
    """The pictures redraw at most once a second (each is a full figure)."""
    return max(PICTURE_TICK, tick_seconds())


def budgets(job: RunJob) -> list[int]:
    return [job.settings["gd_iters"] if a == "gd" else job.settings["am_iters"] for a in job.runs]


def buttons(job: RunJob | None) -> dict:
    """The run's controls, with keyboard shortcuts (Streamlit keeps R for its own rerun, so Reset is Delete).
    No tooltips: a tooltip stayed up after its button's click reran the page, over the text above
    (what each button does is under "What am I looking at?")."""
    running = job is not None and job.active
    pins = bool(st.session_state.get(PINS))
    row = st.container(horizontal=True)      # buttons as wide as their labels; a narrow page wraps the row
    pressed = {
        "run": row.button("Run", icon=":material/play_arrow:", type="primary", key="run_btn"),
        "stop": row.button("Stop", icon=":material/stop:", key="stop_btn", shortcut="Esc"),
        "step": row.button("Step", icon=":material/skip_next:", key="step_btn", shortcut="Right"),
        "reset": row.button("Reset", icon=":material/restart_alt:", key="reset_btn", shortcut="Delete"),
        "pin": row.button("Pin", icon=":material/push_pin:", key="pin_btn", shortcut="P"),
        "clear_pins": pins and row.button("Unpin", icon=":material/layers_clear:", key="clear_pins_btn"),
        "toggle": row.button("Pause" if running else "Play", icon=":material/pause:" if running else
                             ":material/play_circle:", key="toggle_btn", shortcut="Space"),
    }
    if pressed["toggle"]:
        pressed["stop" if running else "run"] = True
    return pressed


def downloads(job: RunJob) -> None:
    row = st.container(horizontal=True)          # each button as wide as its label, so no label is cut
    row.download_button("History (CSV)", icon=":material/download:", data=lambda: export.history_csv(job),
                        file_name="shallowres_history.csv", mime="text/csv", on_click="ignore",
                        help="One row per algorithm and iteration.")
    row.download_button("Run (JSON)", icon=":material/download:", data=lambda: export.run_json(job),
                        file_name="shallowres_run.json", mime="application/json", on_click="ignore",
                        help="Settings, history, flips per neuron and the final W of each algorithm.")


def copy_as_code(settings: dict) -> None:
    """The run as a link, a command line and a Python snippet (st.code has a copy button)."""
    with st.expander("Share or copy as code: this run as a link, from the command line or Python"):
        st.caption("The same seed gives the same numbers, bit for bit.")
        base = (st.context.url or "").split("?")[0]
        st.code(base + "?" + urlencode(state.encode(settings)), language=None)
        st.code("\n".join(copy_code.command_lines(settings)), language="bash")
        st.code(copy_code.python_snippet(settings), language="python")


def explain() -> None:
    with st.expander("What am I looking at?"):
        st.markdown(
            "A *teacher* network y = relu(X(W* + I)) v* labels n random inputs. A *student* with the "
            "same architecture starts at W⁰ and learns W from (X, y).\n\n"
            "- **GD**, eq. (1): a gradient step on the loss ‖y − relu(X(W + I))v*‖² / 2n.\n"
            "- **AM**, eqs. (2)-(3): freeze which ReLUs are on (the masks), then solve the now-linear "
            "least-squares problem exactly.\n\n"
            "A *flip* is a (sample, neuron) pair whose ReLU is on where the teacher's is off, or the "
            "other way round. Once no ReLU disagrees with the teacher, AM lands on W* in one step.\n\n"
            "**The controls**: **Run** runs to the end, drawing as it goes, or continues a stopped run; "
            "**Stop** (Esc) stops it within a second, and so does changing any setting; **Step** (→) does one "
            "iteration of each algorithm and pauses a running run; **Reset** (Delete) clears the charts; "
            "**Pin** (P) keeps this run on the charts as thin dashed lines, to compare the next one with it, "
            "and **Unpin** removes them; **Play** / **Pause** (space bar) runs or pauses.\n\n"
            "The server runs every student's computation in turn: a big run may wait for room "
            "(the status line says how long), and a long one shares the CPU with short ones.")


def main() -> None:
    settings = widgets.sidebar("train")
    if settings["present"]:
        st.html(PRESENT_CSS)
    st.markdown("### Learning a shallow ReLU residual network")
    st.caption("y = relu(X(W* + I)) v* · gradient descent (GD) vs alternating minimization (AM) · "
               "Jagatap & Hegde, ISIT 2019")
    state.show_url_warnings(settings)
    widgets.assumptions_panel(settings)
    st.session_state.setdefault(FEED, Feed())
    st.session_state.setdefault(VIEW, {"mode": "live"})
    before = st.session_state.get(JOB)
    shown = before is not None and before.active           # what the Play / Pause button says now
    pressed = buttons(before)
    act(settings, pressed)
    job: RunJob | None = st.session_state.get(JOB)
    if (job is not None and job.active) != shown:
        st.rerun()          # the buttons were drawn before the click took effect: redraw them (Play / Pause)
    # Fixed slots (st.empty): an element that comes and goes directly in the page would shift the fragments
    # after it to another place in the page, and Streamlit would remount their charts (blank for a moment).
    note = st.empty()
    if job is not None and job.key != state.run_key(settings) and not job.active:
        note.info("The settings changed since this run: the charts show the previous run. "
                  "Press **Run** to start one with the new settings.", icon=":material/info:")
    view = st.session_state[VIEW]
    moving = job is not None and job.active or (view["mode"] == "timed" and view["playing"])
    tick = tick_seconds() if moving else None
    PAGE.begin(moving)
    fragments.fragment(live_view, tick, settings)
    end = st.empty()
    if job is not None and not moving:
        with end.container():
            final_boxes(job)
            replay_controls(job, settings)
            downloads(job)
    fragments.fragment(objects_view, picture_tick() if moving else None)
    train_baselines.section(job, settings)
    copy_as_code(settings)
    explain()
    PAGE.end()


PAGE.run(main)
