"""Figures of the sample-complexity maps (``shallowres.phase_map``) for the Phase page
and the README (``scripts/phase_plot.py --map``).

- ``map_heatmap``: P(recovery) over (d, n/d^2) (or (gamma, n)), one cell per grid
  point, with the fitted 50% threshold and its 95% interval drawn on top.
- ``exponent_figure``: n*(d) on log-log axes with the fit C d^alpha, the line
  n = d^2 (AM's d^2 unknowns) and the paper's d^3 drawn through the fit at the
  middle d, so their slopes can be compared by eye.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from shallowres.phase_map import MapAnalysis
from shallowres.sweep import Row

from . import figures

HEIGHT = 460
# P(recovery) from 0 (light) to 1 (dark blue), readable on a projector and in grey.
SCALE = [[0.0, "#f7fbff"], [0.25, "#c6dbef"], [0.5, "#6baed6"], [0.75, "#2171b5"], [1.0, "#08306b"]]
THRESHOLD_COLOR = figures.COLORS["am"]


def _rows(rows: Iterable[Row | Mapping]) -> list[dict]:
    return [r.as_dict() if isinstance(r, Row) else dict(r) for r in rows]


def _edges(v: np.ndarray, log: bool) -> np.ndarray:
    """Cell boundaries around sorted centres v (midpoints; log midpoints on a log axis)."""
    w = np.log(v) if log else v
    if len(w) == 1:
        mid = np.array([w[0] - 0.5, w[0] + 0.5])
    else:
        inner = (w[1:] + w[:-1]) / 2
        mid = np.r_[w[0] - (inner[0] - w[0]), inner, w[-1] + (w[-1] - inner[-1])]
    return np.exp(mid) if log else mid


def map_heatmap(rows: Iterable[Row | Mapping], analysis: MapAnalysis, height: int = HEIGHT) -> dict:
    """P(recovery) as coloured cells with the threshold curve on top.

    d map: x = d, y = n/d^2 (each d has its own n values, so cells are drawn as
    rectangles of a shared y grid: the ratios). gamma map: x = gamma, y = n.
    """
    rs = [r for r in _rows(rows) if r["alg"] == analysis.alg and r["init"] == analysis.init]
    kind = analysis.kind
    xs = sorted({r["d"] if kind == "d" else r["gamma"] for r in rs})
    # a d map's requested ratios are not stored, and n = round(r d^2) moves them by up to
    # 1/(2 d^2): each row is snapped to the nearest shared ratio
    ys = _shared_ratios(rs) if kind == "d" else sorted({r["n"] for r in rs})
    z = np.full((len(ys), len(xs)), np.nan)
    text = np.full((len(ys), len(xs)), "", dtype=object)
    for r in rs:
        i = xs.index(r["d"] if kind == "d" else r["gamma"])
        y = r["n"] / r["d"] ** 2 if kind == "d" else r["n"]
        j = int(np.argmin([abs(y - v) for v in ys]))
        z[j, i] = r["probability"]
        text[j, i] = (f"d = {r['d']}, n = {r['n']:,} (n/d² = {r['n'] / r['d'] ** 2:.3g})<br>" if kind == "d" else
                      f"γ = {r['gamma']:g}, n = {r['n']:,}<br>") + \
            f"{r['successes']} of {r['trials']} recovered"
    xe, ye = _edges(np.array(xs, float), log=kind == "d"), _edges(np.array(ys, float), log=kind == "gamma")
    data = [{
        "type": "heatmap", "x": xe, "y": ye, "z": z, "zmin": 0, "zmax": 1, "colorscale": SCALE,
        "xgap": 2, "ygap": 2, "customdata": text, "hovertemplate": "%{customdata}<extra></extra>",
        "colorbar": {"title": {"text": "P(recovery)", "side": "right", "font": {"size": figures.TICK}},
                     "tickfont": {"size": figures.TICK}, "tickvals": [0, 0.25, 0.5, 0.75, 1]},
    }]
    fits = [ln for ln in analysis.lines if ln.fit.status == "fit"]
    if fits:
        fx = [ln.d if kind == "d" else ln.gamma for ln in fits]
        scale = [ln.d**2 if kind == "d" else 1 for ln in fits]
        fy = np.array([ln.fit.n_star for ln in fits]) / scale
        lo = np.array([ln.fit.low for ln in fits]) / scale
        hi = np.array([min(ln.fit.high, 1e12) for ln in fits]) / scale
        data.append({
            "type": "scatter", "mode": "lines+markers", "x": fx, "y": fy,
            "name": "50% threshold n*" + ("/d²" if kind == "d" else "") + " (95% interval)",
            "line": {"color": THRESHOLD_COLOR, "width": 3}, "marker": {"size": 10, "color": THRESHOLD_COLOR},
            "error_y": {"type": "data", "symmetric": False, "array": hi - fy, "arrayminus": fy - lo,
                        "color": THRESHOLD_COLOR, "thickness": 2, "width": 6},
            "hovertemplate": ("n* = %{customdata[0]:,.0f} (95%: %{customdata[1]:,.0f} – %{customdata[2]:,.0f})"
                              "<extra></extra>"),
            "customdata": np.column_stack([fy * scale, lo * scale, hi * scale]),
        })
    d2 = 1 if kind == "d" else rs[0]["d"] ** 2          # n = d^2, in the y axis' units
    if ye[0] <= d2 <= ye[-1]:
        data.append({"type": "scatter", "mode": "lines", "x": [xe[0], xe[-1]], "y": [d2, d2],
                     "name": f"n = d²{'' if kind == 'd' else f' = {d2}'} (AM's d² unknowns)", "hoverinfo": "skip",
                     "line": {"color": figures.GRAY, "dash": "dot", "width": 2}})
    x_title = ("input dimension d (= hidden neurons k), log scale" if kind == "d"
               else "teacher size γ = ‖W*‖<sub>F</sub>")
    y_title = "samples per unknown, n / d²" if kind == "d" else "training samples n, log scale"
    lay = figures.layout(x_title, y_title, height=height, hovermode="closest", showlegend=True,
                         margin={"l": 95, "r": 20, "t": 60, "b": 75})
    lay["xaxis"].update(type="log" if kind == "d" else "linear", range=_range(xe, kind == "d"),
                        tickvals=xs, ticktext=[f"{v:g}" for v in xs], showgrid=False)
    lay["yaxis"].update(type="linear" if kind == "d" else "log", range=_range(ye, kind == "gamma"),
                        showgrid=False, tickvals=(yt := _spaced(ys, kind == "gamma")), ticktext=[f"{v:g}" for v in yt])
    return {"data": data, "layout": lay}


def _spaced(values, log: bool, gap: float = 0.05) -> list[float]:
    """The tick values to label, from the first, each at least ``gap`` of the axis' span (in log10
    on a log axis) above the last kept one: dense rows (n = 450, 500, 550, 600) would overlap."""
    pos = np.log10(values) if log else np.asarray(values, dtype=float)
    span = pos[-1] - pos[0] if len(pos) > 1 else 0.0
    kept = [0]
    for i in range(1, len(pos)):
        if pos[i] - pos[kept[-1]] >= gap * span:
            kept.append(i)
    return [values[i] for i in kept]


def _range(edges: np.ndarray, log: bool) -> list[float]:
    return [math.log10(edges[0]), math.log10(edges[-1])] if log else [edges[0], edges[-1]]


def _shared_ratios(rs: list[dict]) -> list[float]:
    """The n/d^2 rows of a d map: the ratios as the largest d realizes them (n = round(r d^2)
    is closest to the requested r there); every row is drawn at the nearest of them."""
    big = max(r["d"] for r in rs)
    return sorted({round(r["n"] / big**2, 4) for r in rs if r["d"] == big})


def exponent_figure(analysis: MapAnalysis, height: int = HEIGHT) -> dict:
    """n*(d) with 95% intervals on log-log axes, the fit C d^alpha, n = d^2 and the
    paper's d^3 (drawn through the fit at the geometric middle of the d range)."""
    fits = [ln for ln in analysis.lines if ln.fit.status == "fit"]
    data = []
    if fits:
        d = np.array([ln.d for ln in fits], float)
        ns = np.array([ln.fit.n_star for ln in fits])
        lo = np.array([ln.fit.low for ln in fits])
        hi = np.array([min(ln.fit.high, 1e12) for ln in fits])
        grid = np.geomspace(d.min() * 0.9, d.max() * 1.1, 50)
        mid = math.sqrt(d.min() * d.max())
        e = analysis.exponent
        anchor = e.predict(mid) if e is not None else float(np.exp(np.interp(np.log(mid), np.log(d), np.log(ns))))
        data.append({"type": "scatter", "mode": "lines", "x": grid, "y": anchor * (grid / mid) ** 3,
                     "name": "paper's bound ∝ d³ (slope 3)", "hoverinfo": "skip",
                     "line": {"color": figures.GRAY, "dash": "dash", "width": 2}})
        data.append({"type": "scatter", "mode": "lines", "x": grid, "y": grid**2,
                     "name": "n = d² (AM's unknowns)", "hoverinfo": "skip",
                     "line": {"color": figures.GRAY, "dash": "dot", "width": 2}})
        if e is not None:
            data.append({"type": "scatter", "mode": "lines", "x": grid, "y": e.predict(grid),
                         "name": f"fit n* = {e.C:.3g}·d<sup>{e.alpha:.2f}</sup> (α 95%: {e.low:.2f} – {e.high:.2f})",
                         "hoverinfo": "skip", "line": {"color": THRESHOLD_COLOR, "width": 3}})
        data.append({"type": "scatter", "mode": "markers", "x": d, "y": ns,
                     "name": "n* at 50% recovery (95% interval bars)",
                     "marker": {"size": 11, "color": THRESHOLD_COLOR, "line": {"color": "white", "width": 1}},
                     "error_y": {"type": "data", "symmetric": False, "array": hi - ns, "arrayminus": ns - lo,
                                 "color": THRESHOLD_COLOR, "thickness": 2, "width": 6},
                     "customdata": np.column_stack([lo, hi, ns / d**2]),
                     "hovertemplate": ("d = %{x}: n* = %{y:,.0f} (95%: %{customdata[0]:,.0f} – "
                                       "%{customdata[1]:,.0f}), n*/d² = %{customdata[2]:.2f}<extra></extra>")})
    else:
        data.append({"type": "scatter", "x": [], "y": [], "showlegend": False, "hoverinfo": "skip"})
    lay = figures.layout("input dimension d, log scale", "n* (samples for 50% recovery), log scale",
                         log_x=False, height=height, hovermode="closest",
                         margin={"l": 95, "r": 20, "t": 90, "b": 75})
    lay["xaxis"].update(type="log", tickvals=[ln.d for ln in fits] or None)
    lay["yaxis"].update(type="log", exponentformat="power")
    return {"data": data, "layout": lay}
