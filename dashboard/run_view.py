"""What the Train page's live charts and status line show of a run: the data of each
algorithm on the fixed grid up to an iteration (all of it, or a replay's cursor), pinned
runs, the four figure specs, and one status line per algorithm that names exactly the
iteration the charts end at.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from . import figures
from .history import Snapshot, snapshot
from .runs import ALGS, NAMES, STEP_BUDGET, RunJob
from .state import describe_difference

CHART_COLUMNS = ("t", "rel_err", "train_loss", "test_loss", "flips_teacher", "flips_prev")
PIN_COLUMNS = ("t", "rel_err", "train_loss", "flips_teacher")
SHORT = {"converged": "converged", "fixed_point": "reached a fixed point", "max_iters": "used every iteration",
         "diverged": "diverged", "stalled": "stalled (no more progress)",
         "step_budget": "stopped: a step took too long for this server"}
CONFIG = {"displaylogo": False, "responsive": True}
PRESENT = 1.3           # presentation mode: fonts, lines and chart heights this much larger
SLOW_STEP = 2.0         # seconds: a step under way this long is named in the status line (near n = d², AM)


def pin_label(i: int, alg: str, pinned: Mapping, current: Mapping) -> str:
    """Legend of a pinned run: what differs from the current settings."""
    diff = describe_difference(pinned, current)
    return f"pin {i + 1} · {NAMES[alg]} · {diff or 'same settings'}"


def chart_data(job: RunJob | None, settings: Mapping, upto: int | None,
               pins: Sequence[Mapping] = ()) -> tuple[dict, dict, list, dict[str, Snapshot]]:
    """(series, head, figure specs, snapshots) of ``job`` up to iteration ``upto`` (None: all).

    ``series`` maps "alg.column" (and "pinK.alg.column") to its grid values; ``head`` holds
    each algorithm's latest record (and, live, its flips per neuron for the heatmap)."""
    algs = list(job.runs) if job is not None else list(ALGS[settings["alg"]])
    snaps, series, head = {}, {}, {}
    for alg in algs:
        snap = snapshot(job.runs[alg].history, upto) if job is not None else None
        if snap is None:
            continue
        snaps[alg] = snap
        for c in CHART_COLUMNS:
            series[f"{alg}.{c}"] = snap.grid[c]
        series[f"{alg}.heat_t"], series[f"{alg}.heat"] = snap.heat_t, snap.heat
        head[alg] = {**{c: snap.head[c] for c in CHART_COLUMNS}, "heat_t": snap.T}
        history = job.runs[alg].history
        if upto is None and history.last_per_neuron is not None and history.last.t == snap.T:
            head[alg]["heat"] = history.last_per_neuron.tolist()
    pinned = []
    for i, pin in enumerate(pins):
        for alg, snap in pin["snaps"].items():
            prefix = f"pin{i}.{alg}"
            for c in PIN_COLUMNS:
                series[f"{prefix}.{c}"] = snap.grid[c]
            pinned.append((prefix, pin_label(i, alg, pin["settings"], settings)))
    T = {a: (snaps[a].T if a in snaps else 0) for a in algs}
    top_flips = max([1.0] + [float(s.grid["flips_teacher"].max()) for s in snaps.values()])
    top_heat = max([1.0] + [float(s.heat.max()) for s in snaps.values() if s.heat.size])
    log_x = settings["logx"]
    d = settings["d"] if job is None else job.d
    figs = [figures.rel_err_spec(algs, T, settings["tol"], log_x, pinned),
            figures.flips_spec(algs, T, top_flips, log_x, pinned),
            figures.loss_spec(algs, T, log_x, pinned),
            figures.heatmap_spec(algs, d, top_heat, T)]
    axis_ranges(figs, settings["tol"], d, empty=not snaps and not pinned)
    if settings.get("present"):
        figs = [figures.enlarge(f, PRESENT) for f in figs]
    for f in figs:
        f["config"] = CONFIG
    return series, head, figs, snaps


def axis_ranges(figs: list[dict], tol: float, d: int, empty: bool) -> None:
    """Axes for charts with nothing to draw yet (``empty``): the relative error from 1 down to the
    tolerance, the heatmap's neurons 1..d at t = 0 (Plotly's defaults read 1e-9 … 1e-7 and
    neurons 0 … 4). With data, the same axes say ``autorange`` outright: an axis once given a
    range keeps autorange off under a constant ``uirevision`` (after Reset, the next run's charts
    stayed at Plotly's default range, 10^-1 … 10^4). The heatmap's neuron axes autorange reversed."""
    rel_y = figs[0]["layout"]["yaxis"]
    if empty:
        rel_y.update(range=[math.log10(tol) - 0.5, 0.3], autorange=False)
    else:
        rel_y["autorange"] = True
    for name, axis in figs[3]["layout"].items():
        if name.startswith(("xaxis", "yaxis")):
            neurons = name.startswith("yaxis")
            if empty:
                axis.update(range=[d + 0.5, 0.5] if neurons else [-0.5, 0.5], autorange=False)
            else:
                axis["autorange"] = "reversed" if neurons else True


def status_lines(job: RunJob | None, snaps: dict, view: dict) -> list[list[str]]:
    """One line per algorithm, [name, text], describing exactly what the charts show: the
    component draws it together with the charts, so the two never disagree."""
    if job is None:
        return []
    st_ = job.status()
    paced = view["mode"] == "timed"
    lines = []
    for alg, (t, _rel, seconds, reason, _message) in st_.algs.items():
        snap = snaps.get(alg)
        if snap is None:
            lines.append([NAMES[alg], "waiting to start"])
            continue
        text = f"iteration {snap.T:,} · relative error {snap.head['rel_err']:.2e}"
        if paced and snap.T < t:
            text += f" · {view.get('kind', 'replay')} (computed up to iteration {t:,})"
        elif reason is not None:
            text += f" · {seconds:.2f} s · {SHORT.get(reason, reason)}"
        elif st_.phase == "running":
            text += f" · {seconds:.2f} s · running"
            if st_.stepping.get(alg, 0.0) >= SLOW_STEP:          # a long step: show that it moves
                text += (f" · iteration {t + 1:,} under way for {st_.stepping[alg]:.0f} s (this server allows "
                         f"{STEP_BUDGET:g} s of CPU per step; a busy server's steps take longer)")
        elif st_.phase == "paused":
            text += f" · {seconds:.2f} s · stopped at iteration {t:,}: {st_.why} · Run continues from here"
        elif st_.phase == "failed":
            text += f" · {st_.why}"
        lines.append([NAMES[alg], text])
    return lines
