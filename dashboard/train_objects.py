"""The Train page's pictures of the objects (weights, masks, network, loss landscape) at the
iterate the page shows: the latest one while a run computes, the scrubbed one in a replay.

Each algorithm's iterates are kept on a thinning grid by the run (``dashboard.iterates``);
at an iteration t the pictures use the nearest kept iterate at or before t and say which t
that is (``RunJob.iterate``). The figures themselves come from ``dashboard.object_figures``
and ``dashboard.landscape_figure``. The page draws this section in its own fragment, at most
once a second while something moves, so the live charts above are never redrawn by it.

The teacher (W*, v*, X) comes from the run while it holds its problem, else it is rebuilt from
the run's settings (cheap, deterministic: the same seed gives the same arrays) and kept for
the last two settings. The landscape is computed only on a click, through the server's
admission controller, and kept for the run it was drawn for.
"""
from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
import streamlit as st

from shallowres import Problem
from shallowres.landscape import Slice, landscape
from shallowres.problem import problem_bytes

from . import object_figures, server
from .landscape_figure import landscape_figure
from .lesson_view import on_server
from .react_chart import react_chart
from .runs import NAMES, RunJob, build_problem

PICTURES = ("Weights", "Masks", "Network", "Landscape")
TAB_KEY = "objects_tab"
ALGS_KEY = "objects_algs"
LANDSCAPE_KEY = "objects_landscape"     # session state: {"token", "T", "slice", "paths", "ts", "losses"}
SHOWN_KEY = "objects_shown"             # session state: the page showed pictures (kept in place for a new run)
ROWS_KEY = "objects_rows"               # session state: (token, alg, kept count) -> mask rows
LANDSCAPE_SECONDS = 1.0                 # the grid is sized to take about this long (shallowres.landscape)


TEACHER_IDLE = 20.0     # seconds unread after which the rebuilt teachers are dropped


@st.cache_resource(max_entries=2, ttl=600, show_spinner=False)
def _teacher(d: int, n: int, gamma: float, noise: float, seed: int) -> Problem:
    return build_problem(dict(d=d, n=n, gamma=gamma, noise=noise, seed=seed))


_teacher_read = [0.0]       # time.monotonic() of the last read of the cache


def teacher(job: RunJob) -> Problem:
    """The run's problem (teacher W*, v*, training X): the job's own while built, else rebuilt
    (kept for the last two settings, and dropped once unread for TEACHER_IDLE s: a cache expires
    entries only when read, and at d = 100, n = 20000 each holds 16 MB)."""
    p = job.problem()
    if p is not None:
        return p
    _teacher_read[0] = time.monotonic()
    server.controller().on_idle(expire_teachers)
    s = job.settings
    return _teacher(s["d"], s["n"], s["gamma"], s["noise"], s["seed"])


def expire_teachers() -> None:
    """Drop the rebuilt teachers once unread for TEACHER_IDLE s (the server's reaper calls it)."""
    if time.monotonic() - _teacher_read[0] >= TEACHER_IDLE:
        _teacher.clear()


def shown(job: RunJob, upto: int | None) -> dict[str, tuple[int, np.ndarray]]:
    """alg -> (t, W^t) drawn at iteration ``upto`` (None: the latest); t is the kept iterate's
    own iteration (at or before ``upto``)."""
    out = {}
    for alg in job.runs:
        it = job.iterate(alg, upto)
        if it is not None:
            out[alg] = it
    return out


def _rows(job: RunJob, problem: Problem, alg: str) -> np.ndarray:
    """The samples the mask picture shows for ``alg``: fixed for the run (recomputed only when a
    new iterate is kept), so the rows stay put while t moves."""
    ts, Ws = job.runs[alg].iterates.path()
    key = (job.token, alg, len(ts))
    cache = st.session_state.get(ROWS_KEY)
    if cache is None or cache[0] != key:
        cache = (key, object_figures.mask_rows(problem, Ws))
        st.session_state[ROWS_KEY] = cache
    return cache[1]


def chart(fig: dict, key: str, tick: float | None = None) -> None:
    """A Plotly chart updated in place (``dashboard.react_chart``), whether the run moves (redrawn
    every ``tick`` s, with a watchdog that asks again if a rerun is lost) or is still (``tick``
    None). One element type throughout: a switch to ``st.plotly_chart`` at a run's end or start
    remounted the pictures, blank for 0.2-2 s."""
    react_chart(fig, key, tick)


def _each(algs, its: Mapping[str, tuple[int, np.ndarray]], key: str, figure, height: int,
          tick: float | None, waiting: bool = False) -> None:
    """Each chosen algorithm's picture ``figure(alg, t, W, height)``, full width, one under the other,
    as the chart ``f"{key}-{alg}"``, each in a slot of its own for every algorithm of the run
    (``algs``): an algorithm whose first iterate comes later (or that is hidden) must not move the
    others' charts, which Streamlit would remount. ``waiting``: a new run has no iterate yet; its
    slots then hold a placeholder of the same height under the same keys, so the charts stay mounted."""
    for alg in algs:
        slot = st.container()
        if alg in its:
            t, W = its[alg]
            slot.markdown(f"**{NAMES[alg]}** · the iterate at t = {t:,}")
            with slot:
                chart(figure(alg, t, W, height), f"{key}-{alg}", tick)
        elif waiting:
            slot.markdown(f"**{NAMES[alg]}** · waiting for the run's first iterate")
            with slot:
                chart(object_figures.waiting_figure(height), f"{key}-{alg}", tick)


# ----- the landscape (on a click) --------------------------------------------------------------

def landscape_bytes(n: int, d: int, paths_bytes: int) -> int:
    """Memory the landscape computation holds: the problem, a few n x d work arrays and the paths."""
    return problem_bytes(n, d) + 6 * 8 * n * d + 2 * paths_bytes + 2 * 2**20


def compute_landscape(settings: Mapping, paths: Mapping[str, np.ndarray]) -> Slice:
    """The training loss on a plane through W^0, W* and AM's W^1 (GD's W^1 without AM), covering
    ``paths`` (alg -> iterates (k, d, d)); ``shallowres.landscape.landscape``."""
    problem = build_problem(settings)
    return landscape(problem, "plane", paths=paths, seconds=LANDSCAPE_SECONDS)


def _landscape(job: RunJob, its: Mapping[str, tuple[int, np.ndarray]]) -> None:
    have = st.session_state.get(LANDSCAPE_KEY)
    if have is not None and have["token"] != job.token:
        have = None
    T = job.T
    label = "Draw the loss landscape" if have is None else "Redraw the loss landscape"
    stale = have is not None and have["T"] != T
    c1, c2 = st.columns([1.3, 4], vertical_alignment="center")
    press = c1.button(label, icon=":material/landscape:", key="landscape_btn", disabled=job.active,
                      help="The training loss on the plane through W⁰, W* and AM's first step, with the runs' "
                           "paths projected on it (about a second of server time).")
    if job.active:
        c2.caption("Available when the run has stopped.")
    elif stale:
        c2.caption("The run moved on since the landscape was drawn: press Redraw to include its new iterates.")
    if press:
        paths, ts, losses = {}, {}, {}
        for alg, r in job.runs.items():
            t_kept, Ws = r.iterates.path()
            if len(t_kept) == 0:
                continue
            paths[alg], ts[alg] = Ws, t_kept
            losses[alg] = r.history.columns()["train_loss"][t_kept]
        nbytes = landscape_bytes(job.n, job.d, sum(P.nbytes for P in paths.values()))
        seconds = LANDSCAPE_SECONDS + 0.5
        with st.spinner("Computing the loss on a grid around W* (or waiting for room on the shared server) …"):
            sl = on_server(lambda: compute_landscape(job.settings, paths), nbytes, seconds)
        have = st.session_state[LANDSCAPE_KEY] = {"token": job.token, "T": T, "slice": sl, "paths": paths,
                                                  "ts": ts, "losses": losses}
    if have is None:
        return
    cut = {alg: t for alg, (t, _) in its.items() if alg in have["paths"]}
    chart(landscape_figure(have["slice"], have["paths"], have["losses"], t=cut, ts=have["ts"]), "objects-landscape")
    sl = have["slice"]
    st.caption(f"The loss on a {len(sl.a)} × {len(sl.b)} grid (computed in {sl.seconds:.2f} s); each path is drawn "
               f"up to the iterate shown ({', '.join(f'{NAMES[a]}: t = {t:,}' for a, t in cut.items())}), GD's "
               "thinned to its kept iterates. Colour: training loss on a log scale.")


# ----- the section ---------------------------------------------------------------------------

def pictures(job: RunJob | None, upto: int | None, tick: float | None = None) -> None:
    """The pictures of ``job``'s iterates at iteration ``upto`` (None: the latest), in tabs;
    ``tick``: the seconds between redraws while a run computes or a replay plays (charts updated
    in place), None when still."""
    if job is None:
        st.session_state[SHOWN_KEY] = False
        return
    every = its = shown(job, upto)
    # A new run before its first iterate (waiting in the server's queue, or starting) keeps the section
    # in place, with placeholders, if the page showed pictures: it would drop out and come back.
    waiting = not its and job.active and st.session_state.get(SHOWN_KEY, False)
    if not its and not waiting:
        return
    st.session_state[SHOWN_KEY] = True
    problem = teacher(job) if its else None
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    c1.markdown("##### The objects at the iteration shown")
    if len(its) > 1:
        chosen = c2.segmented_control("Pictures of", [NAMES[a] for a in its], default=[NAMES[a] for a in its],
                                      selection_mode="multi", key=ALGS_KEY,
                                      help="Whose iterate the weights, masks and network pictures show.")
        its = {a: v for a, v in its.items() if NAMES[a] in (chosen or [])}
    tabs = st.tabs(list(PICTURES), key=TAB_KEY, on_change="rerun")
    weights, masks, network, land = tabs
    if weights.open:
        with weights:
            _each(job.runs, its, "objects-weights", lambda alg, t, W, h: object_figures.weights_figure(
                problem, W, t=t, height=h), 400, tick, waiting)
            st.caption("Rows: input j, columns: neuron q (column q is w_q). One colour scale for the three "
                       "panels, centred at 0 (white); the panel titles give each matrix's Frobenius norm.")
    if masks.open:
        with masks:
            _each(job.runs, its, "objects-masks", lambda alg, t, W, h: object_figures.mask_figure(
                problem, W, t=t, rows=_rows(job, problem, alg), height=h), 330, tick, waiting)
            st.caption("Which ReLU is on for each sample (Pᵗ, what AM freezes at step t); coloured cells disagree "
                       "with the teacher's P*. Up to 200 samples are shown, the same ones at every t.")
    if network.open:
        with network:
            _each(job.runs, its, "objects-network", lambda alg, t, W, h: object_figures.network_figure(
                problem, W, t=t, height=h), 420, tick, waiting)
    if land.open:
        with land:
            _landscape(job, every)          # a run that computes (or waits) gets its button, disabled
    if upto is not None and any(t < min(upto, job.runs[a].t) for a, (t, _) in every.items()):
        st.caption("Between the kept iterates (every one up to t = 31, then 16 per doubling of t) the pictures "
                   "show the nearest kept iterate before the scrubbed t, labelled with its own t.")
