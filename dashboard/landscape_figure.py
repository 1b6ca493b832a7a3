"""The loss landscape around W* with runs' paths projected on it (a Plotly figure, plain dict).

Draws a :class:`shallowres.landscape.Slice` as filled contours of log10 L and each run's
iterates, projected on the slice's plane, as a line; AM's few iterates are numbered, so its
jumps from one linear piece of the loss to the next stand out against GD's crawl.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from shallowres.landscape import Slice

from .figures import INK, TICK, layout
from .lesson_figures import ALG_COLORS, ALG_NAMES

LANDSCAPE_SCALE = [[0.0, "#ffffff"], [0.35, "#fff3c4"], [0.7, "#e9c98c"], [1.0, "#a27b4f"]]
MAX_POINTS = 300
DECADES = 8                    # the colour scale spans at most this many decades below the top


def path_indices(T: int, max_points: int = MAX_POINTS) -> np.ndarray:
    """Iterates 0..T-1 to draw: all of them up to ``max_points``, else log-spaced (the early,
    far-apart ones kept) with the last one."""
    if T <= max_points:
        return np.arange(T)
    idx = np.unique(np.round(np.geomspace(1, T, max_points)).astype(int) - 1)
    return np.union1d(idx, [0, T - 1])


def landscape_figure(sl: Slice, paths: Mapping[str, np.ndarray], losses: Mapping[str, np.ndarray] | None = None,
                     t: int | Mapping[str, int] | None = None, ts: Mapping[str, np.ndarray] | None = None,
                     height: int = 520, max_points: int = MAX_POINTS) -> dict:
    """Contours of log10 L on the slice, and each path (name -> iterates (T, d, d); names as in
    ``ALG_COLORS``: "gd", "am", "sgd", "adam", "am_inexact") projected on its plane, up to
    iteration ``t`` (one for all, or name -> t; all if None) with a marker at its last drawn
    iterate. ``ts``: name -> the iteration number of each given iterate (default 0, 1, 2, ...;
    for a path already thinned, e.g. by :func:`path_indices`). ``losses``: name -> the loss at
    each given iterate (the records' train_loss), shown on hover (the iterate itself sits off
    the plane by the distance also shown)."""
    L = np.asarray(sl.loss, dtype=float)
    top = float(np.nanmax(L)) if np.isfinite(L).any() else 1.0
    floor = max(top * 10.0**-DECADES, 1e-300)
    Z = np.log10(np.maximum(L, floor))
    lo, hi = float(np.floor(Z.min())), float(np.ceil(Z.max()))
    ticks = list(range(int(lo), int(hi) + 1))
    step = 0.5 if hi - lo <= 8 else 1.0
    data = [{"type": "contour", "x": sl.a, "y": sl.b, "z": Z, "colorscale": LANDSCAPE_SCALE, "name": "loss",
             "zmin": lo, "zmax": hi, "contours": {"start": lo, "end": hi, "size": step, "coloring": "fill",
                                                  "showlines": True},
             "line": {"color": "rgba(80,60,30,0.35)", "width": 1},
             "colorbar": {"title": {"text": "training loss", "font": {"size": TICK, "color": INK}},
                          "tickvals": ticks, "ticktext": [f"10<sup>{k}</sup>" for k in ticks],
                          "tickfont": {"size": TICK - 2, "color": INK}, "thickness": 14},
             "hovertemplate": "a = %{x:.3g}, b = %{y:.3g}: loss 10<sup>%{z:.2f}</sup><extra>slice</extra>"}]
    for name, Ws in paths.items():
        Ws = np.asarray(Ws, dtype=float)
        its = np.asarray(ts[name]) if ts is not None and name in ts else np.arange(len(Ws))
        t_cut = t.get(name) if isinstance(t, Mapping) else t
        T = len(Ws) if t_cut is None else int(np.searchsorted(its, t_cut, side="right"))
        if T == 0:
            continue
        idx = path_indices(T, max_points)
        a, b, off = sl.project(Ws[idx])
        loss = np.asarray(losses[name], dtype=float)[idx] if losses and name in losses else np.full(len(idx), np.nan)
        few = len(idx) <= 25
        color = ALG_COLORS.get(name, INK)
        label = ALG_NAMES.get(name, name)
        custom = np.stack([its[idx], loss, off], axis=1)
        data.append({"type": "scatter", "x": a, "y": b, "name": label, "mode": "lines+markers" if few else "lines",
                     "line": {"color": color, "width": 3}, "marker": {"size": 9, "color": color},
                     "customdata": custom, "legendgroup": name,
                     "hovertemplate": f"{label}, t = %{{customdata[0]:,}}: loss at the iterate %{{customdata[1]:.3g}}, "
                                      "%{customdata[2]:.2g} off the plane<extra></extra>"})
        if few:
            data.append({"type": "scatter", "x": a[:8], "y": b[:8], "mode": "text", "showlegend": False,
                         "text": [str(i) for i in its[idx][:8]], "textposition": "top right", "legendgroup": name,
                         "textfont": {"size": TICK - 1, "color": color}, "hoverinfo": "skip"})
        data.append({"type": "scatter", "x": a[-1:], "y": b[-1:], "mode": "markers", "showlegend": False,
                     "legendgroup": name, "hoverinfo": "skip",
                     "marker": {"size": 14, "color": color, "symbol": "circle-open", "line": {"width": 3}}})
    data.append({"type": "scatter", "x": [0.0], "y": [0.0], "mode": "markers+text", "name": "W* (teacher)",
                 "text": ["W*"], "textposition": "bottom right", "textfont": {"size": TICK, "color": INK},
                 "marker": {"symbol": "star", "size": 18, "color": INK}, "hovertemplate": "W*<extra></extra>"})
    t_text = "" if t is None or isinstance(t, Mapping) else f", up to t = {t:,}"
    title = ("Training loss around W*" + (", in the plane of W⁰, W* and AM's first step" if sl.mode == "plane"
             else ", along two filter-normalized random directions (Li et al.)") + t_text)
    lay = layout(f"a: {sl.labels[0]} ({_unit(sl)})", f"b: {sl.labels[1]}", height=height,
                 hovermode="closest", title=title, margin={"l": 90, "r": 20, "t": 92, "b": 66})
    lay["xaxis"].update(range=[float(sl.a[0]), float(sl.a[-1])], showgrid=False)
    lay["yaxis"].update(range=[float(sl.b[0]), float(sl.b[-1])], showgrid=False)
    if sl.mode == "plane":      # equal units: the angles of the paths are true
        lay["yaxis"].update(scaleanchor="x", scaleratio=1, constrain="domain")
        lay["xaxis"].update(constrain="domain", constraintoward="left")
    return {"data": data, "layout": lay}


def _unit(sl: Slice) -> str:
    return "units of ‖W* + I‖<sub>F</sub>" if sl.mode == "plane" else "filter-normalized units"
