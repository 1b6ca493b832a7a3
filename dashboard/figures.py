"""Plotly figures of a run, as plain dicts (no graph_objects: 4x faster to build).

Every figure takes ``hist``: algorithm ("gd" | "am") -> per-iteration arrays, as
made by ``stream.Trace.history``. One colour per algorithm on every chart and page
(``COLORS``); fonts sized for a projector; log axes where values span decades.
Arrays stay NumPy so Plotly sends them compactly (base64).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

COLORS = {"gd": "#0072B2", "am": "#D55E00"}     # Okabe-Ito blue / vermillion: colour-blind safe
NAMES = {"gd": "GD", "am": "AM"}
GRAY = "#555555"
INK = "#262730"             # text colour (Streamlit's), not the theme's light grey
TICK = 16
AXIS_TITLE = 18
HEIGHT = 420
MARKERS_UP_TO = 60          # draw markers on lines with at most this many points
LIVE_POINTS = 600           # iterations per algorithm in a live redraw (``thin``)

Hist = Mapping[str, Mapping[str, np.ndarray]]


def thin(hist: Hist, max_points: int = LIVE_POINTS, log_x: bool = True) -> Hist:
    """A copy of ``hist`` with at most about ``max_points`` iterations per algorithm, for
    live redraws (the final draw shows every iteration): log-spaced iterations on a log
    axis, evenly spaced otherwise; the first and the last are kept."""
    out = {}
    for a, h in hist.items():
        T = len(h["t"])
        if T <= max_points:
            out[a] = h
            continue
        if log_x:
            idx = np.round(np.logspace(0, np.log10(T - 1), max_points)).astype(int)
        else:
            idx = np.round(np.linspace(0, T - 1, max_points)).astype(int)
        idx = np.unique(np.r_[0, idx, T - 1])
        out[a] = {k: np.asarray(v)[idx] for k, v in h.items()}
    return out


def _axis(title: str, log: bool = False, **kw) -> dict:
    ax = {"title": {"text": title, "font": {"size": AXIS_TITLE, "color": INK}}, "type": "log" if log else "linear",
          "tickfont": {"size": TICK, "color": INK}, "showgrid": True, "gridcolor": "#dddddd",
          "zeroline": False, "showline": True, "linecolor": GRAY, "ticks": "outside"}
    if log:
        ax["exponentformat"] = "power"
    ax.update(kw)
    return ax


def log_ticks(top: float) -> dict:
    """Tick positions for a log iteration axis: 1, 10, 100, ... (and 2, 5 on short ranges)."""
    vals = [m * 10**e for e in range(7) for m in ((1, 2, 5) if top < 50 else (1,))]
    vals = [v for v in vals if v <= max(top, 1) * 1.5]
    return {"tickmode": "array", "tickvals": vals, "ticktext": [f"{v:,}" for v in vals]}


def layout(x_title: str, y_title: str, *, log_x: bool = False, log_y: bool = False,
           height: int = HEIGHT, x_top: float = 10, **kw) -> dict:
    """Common layout: no title (the page puts it above the chart), legend in a row on top."""
    x_axis = _axis(x_title, log_x, **(log_ticks(x_top) if log_x else {}))
    out = {
        "font": {"size": TICK, "color": INK},
        "height": height,
        "margin": {"l": 95, "r": 20, "t": 50, "b": 70},
        "legend": {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom",
                   "font": {"size": TICK, "color": INK}},
        "hovermode": "x unified",
        "hoverlabel": {"font": {"size": TICK}},
        "xaxis": x_axis,
        "yaxis": _axis(y_title, log_y),
        "plot_bgcolor": "white",
    }
    out.update(kw)
    return out


def x_title(log_x: bool) -> str:
    return "iteration t (log scale)" if log_x else "iteration t"


def line(x, y, name: str, color: str, *, dash: str = "solid", width: float = 3,
         group: str | None = None) -> dict:
    """A line trace; markers too when it has few points (AM's iterations stay visible)."""
    few = len(x) <= MARKERS_UP_TO
    tr = {"type": "scatter", "x": x, "y": y, "name": name,
          "mode": "lines+markers" if few else "lines",
          "line": {"color": color, "width": width, "dash": dash},
          "hovertemplate": "%{y:.3g}"}
    if few:
        tr["marker"] = {"size": 8, "color": color}
    if group:
        tr["legendgroup"] = group
    return tr


def hline(y: float, x0: float, x1: float, name: str, color: str = GRAY, dash: str = "dot") -> dict:
    """A horizontal reference line (a two-point trace, so it works on log axes)."""
    return {"type": "scatter", "x": [x0, x1], "y": [y, y], "name": name, "mode": "lines",
            "line": {"color": color, "width": 2, "dash": dash}, "hoverinfo": "skip"}


def last_t(hist: Hist) -> int:
    return max((int(h["t"][-1]) for h in hist.values() if len(h["t"])), default=1)


def _t_range(hist: Hist, log_x: bool) -> tuple[float, float]:
    return (1 if log_x else 0), max(last_t(hist), 1)


def rel_err_figure(hist: Hist, tol: float, log_x: bool = True) -> dict:
    """||W^t - W*||_F / ||W* + I||_F per iteration, log y, one line per algorithm."""
    data = [line(h["t"], h["rel_err"], NAMES[a], COLORS[a]) for a, h in hist.items()]
    data.append(hline(tol, *_t_range(hist, log_x), f"tolerance {tol:g}"))
    return {"data": data, "layout": layout(
        x_title(log_x), "‖Wᵗ − W*‖<sub>F</sub> / ‖W* + I‖<sub>F</sub>", log_x=log_x, log_y=True,
        x_top=last_t(hist))}


def flips_figure(hist: Hist, log_x: bool = True) -> dict:
    """ReLU states (pairs sample i, neuron q) mismatched with the teacher, and changed since t - 1."""
    data = []
    for a, h in hist.items():
        data.append(line(h["t"], h["flips_teacher"], f"{NAMES[a]} vs teacher", COLORS[a], group=a))
        data.append(line(h["t"], h["flips_prev"], f"{NAMES[a]} since t − 1", COLORS[a],
                         dash="dot", width=2.5, group=a))
    lay = layout(x_title(log_x), "(sample, neuron) pairs", log_x=log_x, log_y=True, x_top=last_t(hist))
    lay["yaxis"]["dtick"] = 1       # decades only: 1, 10, 100, 1000
    return {"data": data, "layout": lay}


def loss_figure(hist: Hist, log_x: bool = True) -> dict:
    """Training loss (solid) and test loss (dotted), log y: the paper's Fig. 1(b)."""
    data = []
    for a, h in hist.items():
        data.append(line(h["t"], h["train_loss"], f"{NAMES[a]} train", COLORS[a], group=a))
        data.append(line(h["t"], h["test_loss"], f"{NAMES[a]} test", COLORS[a], dash="dot",
                         width=2.5, group=a))
    return {"data": data, "layout": layout(
        x_title(log_x), "loss ‖y − f(X)‖² / 2n", log_x=log_x, log_y=True, x_top=last_t(hist))}


def heatmap_figure(hist: Hist, height: int = HEIGHT) -> dict:
    """Neurons x iterations: samples on which neuron q's state differs from the teacher's.

    One panel per algorithm, stacked (each with its own iteration axis), sharing one
    colour scale on log10(1 + count) so that 1, 10, 100 samples are all visible.
    """
    algs = list(hist)
    top = max((int(np.max(h["flips_per_neuron"])) for h in hist.values()
               if np.size(h["flips_per_neuron"])), default=1)
    ticks = [10**k for k in range(0, 7) if 10**k <= max(top, 1)]
    gap = 0.22 if len(algs) > 1 else 0.0
    panel = (1 - gap * (len(algs) - 1)) / len(algs)
    lay = layout("", "", height=height, hovermode="closest", showlegend=False,
                 margin={"l": 95, "r": 20, "t": 20, "b": 60})
    lay["coloraxis"] = {
        "colorscale": [[0, "#ffffff"], [0.15, "#fde0c5"], [0.5, "#f08a4b"], [1, "#67000d"]],
        "cmin": 0, "cmax": float(np.log10(1 + max(top, 1))),
        "colorbar": {"title": {"text": "samples", "font": {"size": TICK, "color": INK}},
                     "tickfont": {"size": TICK, "color": INK}, "thickness": 16,
                     "tickvals": [0] + [float(np.log10(1 + v)) for v in ticks],
                     "ticktext": ["0"] + [f"{v:,}" for v in ticks]},
    }
    data = []
    for i, a in enumerate(algs):
        h = hist[a]
        counts = np.asarray(h["flips_per_neuron"]).T            # (d, T + 1)
        suffix = "" if i == 0 else str(i + 1)
        d = counts.shape[0]
        # Compact arrays (sent base64): float32 colours, counts in the smallest integer type.
        small = np.uint16 if top < 2**16 else np.uint32
        data.append({"type": "heatmap", "x": np.asarray(h["t"], dtype=np.int32), "y": np.arange(1, d + 1),
                     "z": np.log10(1.0 + counts).astype(np.float32), "customdata": counts.astype(small),
                     "coloraxis": "coloraxis",
                     "name": NAMES[a], "xaxis": f"x{suffix}", "yaxis": f"y{suffix}",
                     "hovertemplate": f"{NAMES[a]}: t = %{{x}}, neuron %{{y}}: "
                                      "%{customdata} samples<extra></extra>"})
        y1 = 1 - i * (panel + gap)
        lay[f"xaxis{suffix}"] = _axis(f"{NAMES[a]}: iteration t", anchor=f"y{suffix}", showgrid=False)
        lay[f"xaxis{suffix}"]["title"]["font"]["color"] = COLORS[a]
        lay[f"xaxis{suffix}"]["title"]["standoff"] = 4
        lay[f"yaxis{suffix}"] = _axis("neuron q", anchor=f"x{suffix}", showgrid=False,
                                      autorange="reversed", domain=[y1 - panel, y1])
    return {"data": data, "layout": lay}


def contraction_figure(alg: str, factors: np.ndarray, bounds: Mapping[str, float],
                       height: int = 420) -> dict:
    """Measured ||W^{t+1} - W*|| / ||W^t - W*|| per iteration against predicted bounds, log y."""
    f = np.asarray(factors, dtype=float)
    t = np.arange(1, len(f) + 1)
    data = [line(t, f, f"{NAMES[alg]} measured", COLORS[alg])]
    x1 = max(len(f), 1)
    styles = ["dash", "dashdot", "longdash"]
    for i, (name, value) in enumerate(bounds.items()):
        if value is not None and np.isfinite(value) and value > 0:
            data.append(hline(value, 1, x1, name, COLORS[alg], styles[i % len(styles)]))
    data.append(hline(1.0, 1, x1, "1: no contraction", GRAY, "dot"))
    lay = layout("step t → t + 1 (plotted at t + 1)", "‖Wᵗ⁺¹ − W*‖ / ‖Wᵗ − W*‖", log_y=True,
                 height=height, margin={"l": 95, "r": 20, "t": 80, "b": 70})
    if len(f) <= 15:
        lay["xaxis"]["dtick"] = 1       # whole steps only
    return {"data": data, "layout": lay}


def singular_values_figure(s: np.ndarray, height: int = 340) -> dict:
    """Singular values sigma_1 >= ... >= sigma_k of W* + I (Lemma 1)."""
    q = np.arange(1, len(s) + 1)
    return {"data": [{"type": "bar", "x": q, "y": np.asarray(s), "marker": {"color": GRAY},
                      "name": "σ_q(W* + I)", "hovertemplate": "σ_%{x} = %{y:.3f}<extra></extra>"}],
            "layout": layout("q", "σ_q(W* + I)", height=height, showlegend=False, hovermode="closest",
                             margin={"l": 95, "r": 20, "t": 20, "b": 70})}
