"""Plotly figures of the Theory page (plain dicts, like ``figures``): per-step contraction
against the bounds, kappa_t and rho_3 along the runs, T_GD/T_AM against eps, kappa against n.

Every axis is titled with its unit; values that span decades are on log axes.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from shallowres.ladder import FLOOR, iterations_superlinear, iterations_to
from shallowres.theory_path import TheoryPath

from .figures import COLORS, GRAY, INK, NAMES, TICK, hline, layout, line

BOUND_COLORS = {"paper": "#6A3D9A", "tight": "#009E73", "local": "#E69F00", "start": "#555555"}
MARGIN = {"l": 95, "r": 20, "t": 24, "b": 70}   # top: Plotly widens it to fit the legend rows above the plot


def _tick_text(v: float) -> str:
    if v >= 1e5 or v < 1e-3:
        return f"{v:.0e}".replace("e-0", "e-").replace("e+0", "e")
    if v >= 1:
        return f"{v:,.0f}"
    return f"{v:.4f}".rstrip("0")


def log_ticks_y(axis: dict, lo: float, hi: float) -> None:
    """Labelled ticks on a log axis from lo to hi: 1-2-5 steps when they are few, decades
    (and every other one, if need be) when the range is wide. Values as plain numbers."""
    if not (lo > 0 and hi > lo and math.isfinite(hi)):
        return
    k0, k1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    for mults in ((1, 2, 5), (1, 3), (1,)):
        vals = [m * 10.0**k for k in range(k0, k1 + 1) for m in mults if lo <= m * 10.0**k <= hi]
        if len(vals) <= 7:
            break
    while len(vals) > 7:
        vals = vals[::2]
    if len(vals) < 2:
        return
    axis.update(tickmode="array", tickvals=vals, ticktext=[_tick_text(v) for v in vals])


def _x(n_steps: int) -> tuple[np.ndarray, bool]:
    """Steps t -> t + 1 plotted at t + 1; a log axis when there are many."""
    return np.arange(1, n_steps + 1), n_steps > 40


def _promise(b: np.ndarray) -> np.ndarray:
    """Digits a bound b promises per step, log10(1/b); NaN (a gap) where b >= 1 or undefined."""
    b = np.asarray(b, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = -np.log10(b)
    out[~(b < 1) | np.isnan(b)] = np.nan
    out[b <= 0] = np.nan
    return out


def steps_figure(path: TheoryPath, start_rate: float, local_rate: float | None, height: int = 440) -> dict:
    """Digits of accuracy gained per step, log10(e_t / e_{t+1}), measured against what each
    bound promises, log10(1/bound), where the bound is < 1. A bound holds at a step when the
    measured value is on or above its line. Steps that made no progress (factor >= 1) sit on
    the bottom edge, steps that landed on W* on the top edge."""
    alg = path.alg
    e = path.err
    floor = FLOOR * path.scale
    T = len(e) - 1
    x, log_x = _x(T)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.log10(e[:-1] / e[1:])
    active = e[:-1] > floor
    landed = active & (e[1:] <= floor)
    stuck = active & ~landed & ~(g > 0)
    ok = active & ~landed & (g > 0)
    promised = {k: _promise(path.bound(k)) for k in ("paper", "tight")}
    # the y-range follows the measured steps and the constant rates; a bound promising far fewer
    # digits (a factor within 1e-4 of 1, say) runs off the bottom instead of squashing the chart
    anchors = np.concatenate([g[ok], [v for v in (_promise(np.array([start_rate]))[0],
                                                  _promise(np.array([local_rate]))[0] if local_rate is not None
                                                  else np.nan) if np.isfinite(v)]])
    tops = np.concatenate([anchors, *[v[np.isfinite(v)] for v in promised.values()]])
    if len(anchors):
        lo, hi = float(np.min(anchors)) / 3, float(np.max(tops)) * 3
    elif len(tops):
        lo, hi = float(np.min(tops)) / 3, float(np.max(tops)) * 3
    else:
        lo, hi = 0.01, 10.0
    data = []
    ym = np.where(ok, g, np.nan)
    data.append(line(x, ym, f"{NAMES[alg]} measured", COLORS[alg]))
    names = {"gd": ("(4) at each Wᵗ", "tightened, at each Wᵗ"), "am": ("(5) at each Wᵗ", "tightened, at each Wᵗ")}[alg]
    for (kind, p), name, dash in zip(promised.items(), names, ("dash", "solid"), strict=True):
        if np.isfinite(p).any():
            tr = line(x, p, name, BOUND_COLORS[kind], dash=dash, width=2.5)
            tr["connectgaps"] = False
            data.append(tr)
    label = "(4)" if alg == "gd" else "(5)"
    p0 = _promise(np.array([start_rate]))[0]
    if np.isfinite(p0):
        data.append(hline(p0, 1, max(T, 1), f"theorem: {label} at W⁰, every step", BOUND_COLORS["start"], "dot"))
    if local_rate is not None:
        pl = _promise(np.array([local_rate]))[0]
        if np.isfinite(pl):
            data.append(hline(pl, 1, max(T, 1), "local model at W*", BOUND_COLORS["local"], "dashdot"))
    if stuck.any():
        data.append({"type": "scatter", "x": x[stuck], "y": np.full(stuck.sum(), lo * 1.15),
                     "mode": "markers", "name": "no progress (factor ≥ 1)",
                     "marker": {"symbol": "x-thin", "size": 9, "line": {"width": 2, "color": COLORS[alg]}},
                     "hovertemplate": "step %{x}: factor ≥ 1<extra></extra>"})
    if landed.any():
        data.append({"type": "scatter", "x": x[landed], "y": np.full(landed.sum(), hi / 1.15),
                     "mode": "markers", "name": "landed on W* (error → round-off)",
                     "marker": {"symbol": "star", "size": 14, "color": COLORS[alg]},
                     "hovertemplate": "step %{x}: landed exactly<extra></extra>"})
    lay = layout("step t → t + 1 (plotted at t + 1" + (", log scale)" if log_x else ")"),
                 "digits gained per step (log scale)", log_x=log_x, log_y=True, height=height, x_top=T,
                 margin=MARGIN)
    lay["yaxis"]["range"] = [math.log10(lo), math.log10(hi)]
    log_ticks_y(lay["yaxis"], lo, hi)
    if not log_x and T <= 15:
        lay["xaxis"]["dtick"] = 1
    lay["hovermode"] = "closest"
    lay["showlegend"] = True
    return {"data": data, "layout": lay}


def _iter_x(path: TheoryPath) -> tuple[np.ndarray, bool]:
    T = len(path.err)
    return np.arange(1, T + 1), T > 40


def kappa_path_figure(paths: Mapping[str, TheoryPath], kappa_inf: float | None, kappa_star: float,
                      height: int = 400) -> dict:
    """kappa_t = sigma_max,t^2 / sigma_min,t^2 of B^t/sqrt(n) along each run (iterate t plotted at
    t + 1, log axes), with kappa at W* on this data and the n -> infinity limit at W^0."""
    data, top, ys = [], 1, []
    log_x = False
    for alg, p in paths.items():
        x, lx = _iter_x(p)
        log_x |= lx
        top = max(top, len(x))
        data.append(line(x, p.kappa, f"{NAMES[alg]}: κₜ", COLORS[alg]))
        ys.append(p.kappa[np.isfinite(p.kappa)])
    if math.isfinite(kappa_star):
        data.append(hline(kappa_star, 1, top, f"κ at W* (this n) = {kappa_star:.3g}", GRAY, "dash"))
    if kappa_inf is not None and math.isfinite(kappa_inf):
        data.append(hline(kappa_inf, 1, top, f"κ<sub>∞</sub> at W⁰ (n → ∞) = {kappa_inf:.3g}",
                          BOUND_COLORS["local"], "dot"))
    lay = layout("iterate t (plotted at t + 1" + (", log scale)" if log_x else ")"), "κ (log scale)",
                 log_x=log_x, log_y=True, height=height, x_top=top, margin=MARGIN)
    vals = np.concatenate([*ys, [v for v in (kappa_inf, kappa_star) if v is not None and math.isfinite(v)]])
    if len(vals):
        log_ticks_y(lay["yaxis"], float(vals.min()), float(vals.max()))
    return {"data": data, "layout": lay}


def rho3_path_figure(paths: Mapping[str, TheoryPath], n: int, height: int = 400) -> dict:
    """The three forms of rho_3 along each run, in the lemmas' N(0, 1) units (times sqrt(n)),
    log axes, with Corollary 1's sqrt(0.14)."""
    data, top, log_x, ys = [], 1, False, []
    sq = math.sqrt(n)
    for alg, p in paths.items():
        x, lx = _iter_x(p)
        log_x |= lx
        top = max(top, len(x))
        for key, name, dash, width in (("rho3_sum", "Σ‖E‖", "solid", 3), ("rho3_rss", "√Σ‖E‖²", "dot", 2.5),
                                       ("rho3_norm_of_sum", "‖ΣE‖", "dash", 2.5)):
            y = sq * getattr(p, key)
            y = np.where(y > 0, y, np.nan)
            ys.append(y[np.isfinite(y)])
            data.append(line(x, y, f"{NAMES[alg]}: {name}", COLORS[alg], dash=dash, width=width, group=alg))
    data.append(hline(math.sqrt(0.14), 1, top, "Corollary 1: √0.14", GRAY, "dashdot"))
    lay = layout("iterate t (plotted at t + 1" + (", log scale)" if log_x else ")"),
                 "ρ₃ in N(0, 1) units: √n × form / ‖Wᵗ − W*‖_F", log_x=log_x, log_y=True, height=height,
                 x_top=top, margin=MARGIN)
    lay["yaxis"]["title"]["text"] = "ρ₃ (N(0, 1) units, log scale)"
    vals = np.concatenate([*ys, [math.sqrt(0.14)]])
    log_ticks_y(lay["yaxis"], float(vals.min()), float(vals.max()))
    return {"data": data, "layout": lay}


def eps_grid(eps: float) -> np.ndarray:
    """Decades from 10^-1 down to eps (and eps itself)."""
    k = int(math.floor(-math.log10(eps) + 1e-9))
    return np.unique(np.r_[10.0 ** -np.arange(1, k + 1), eps])[::-1]


def ratio_vs_eps_figure(rel_gd: np.ndarray, rel_am: np.ndarray, eps: float, th, height: int = 400) -> dict:
    """T_GD/T_AM to reach each eps' >= eps: measured (from the runs), the local model (c) and the
    paper's bounds (a), counted like for like (iterations to eps')."""
    grid = eps_grid(eps)
    start = float(rel_gd[0])

    def count(rel, e):
        hit = np.flatnonzero(np.asarray(rel) < e)
        return float(hit[0]) if len(hit) else math.inf

    meas, local, paper = [], [], []
    for e in grid:
        g, a = count(rel_gd, e), count(rel_am, e)
        meas.append(g / a if math.isfinite(g) and math.isfinite(a) and a > 0 else np.nan)
        tg = iterations_to(th.rho_gd_local, start, e)
        if th.am_local_constant is not None:
            ta = iterations_superlinear(th.am_local_constant, 1.5, start, e)
        else:
            ta = math.inf
        local.append(tg / ta if math.isfinite(tg) and math.isfinite(ta) and ta > 0 else np.nan)
        pg, pa = iterations_to(th.rho_gd, start, e), iterations_to(th.rho_am, start, e)
        paper.append(pg / pa if math.isfinite(pg) and math.isfinite(pa) and pa > 0 else np.nan)
    data = [{"type": "scatter", "x": grid, "y": np.array(meas), "name": "measured", "mode": "lines+markers",
             "line": {"color": INK, "width": 3}, "marker": {"size": 10, "color": INK},
             "hovertemplate": "ε = %{x:.0e}: %{y:.3g}<extra>measured</extra>"}]
    for y, name, color, dash in ((local, "(c) local model", BOUND_COLORS["local"], "dashdot"),
                                 (paper, "(a) paper's bounds", BOUND_COLORS["paper"], "dash")):
        y = np.array(y)
        if np.isfinite(y).any():
            tr = line(grid, y, name, color, dash=dash, width=2.5)
            tr["hovertemplate"] = "ε = %{x:.0e}: %{y:.3g}<extra>" + name + "</extra>"
            data.append(tr)
    lay = layout("target ε (relative error, log scale, smaller to the right)",
                 "T<sub>GD</sub> / T<sub>AM</sub> (log scale)", log_y=True, height=height, margin=MARGIN)
    lay["xaxis"].update(type="log", autorange="reversed", exponentformat="power", dtick=1)
    lay["hovermode"] = "closest"
    lay["showlegend"] = True
    ys = np.concatenate([np.asarray(v, dtype=float) for v in (meas, local, paper)])
    ys = ys[np.isfinite(ys) & (ys > 0)]
    if len(ys):
        log_ticks_y(lay["yaxis"], float(ys.min()), float(ys.max()))
    return {"data": data, "layout": lay}



def kappa_n_figure(curve: Mapping, n: int, height: int = 400) -> dict:
    """kappa(B/sqrt(n)) against n at W^0 and at W* (one seed, nested samples), log axes, with
    the n -> infinity limits and the current n."""
    d = curve["d"]
    x = np.asarray(curve["n"])
    data = [line(x, curve["start"], "κ at W⁰", COLORS["gd"]), line(x, curve["star"], "κ at W*", COLORS["am"])]
    x0, x1 = float(x[0]), float(x[-1])
    for key, name, color in (("start_inf", "κ<sub>∞</sub> at W⁰ (n → ∞)", COLORS["gd"]),
                             ("star_inf", "κ<sub>∞</sub> at W* (n → ∞)", COLORS["am"])):
        if math.isfinite(curve[key]):
            data.append(hline(curve[key], x0, x1, f"{name} = {curve[key]:.3g}", color, "dot"))
    ys = np.concatenate([curve["start"], curve["star"], [curve["start_inf"], curve["star_inf"]]])
    ys = ys[np.isfinite(ys)]
    lay = layout(f"n: training samples (log scale; d² = {d * d:,})", "κ (log scale)", log_y=True, height=height,
                 margin=MARGIN)
    lay["xaxis"].update(type="log", exponentformat="power", dtick=1 if x1 / x0 > 30 else "D2")
    log_ticks_y(lay["yaxis"], float(ys.min()), float(ys.max()))
    lay["hovermode"] = "closest"
    if x0 <= n <= x1 * 1.5:
        data.append({"type": "scatter", "x": [n, n], "y": [float(ys.min()) * 0.8, float(ys.max()) * 1.25],
                     "mode": "lines", "name": f"this n = {n:,}", "line": {"color": GRAY, "width": 2, "dash": "dash"},
                     "hoverinfo": "skip"})
    lay["legend"]["font"] = {"size": TICK}
    return {"data": data, "layout": lay}
