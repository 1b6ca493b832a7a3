"""Plotly figures as plain dicts (no graph_objects: 4x faster to build).

The Train page's four run charts are *specs* for the live charts
(``dashboard.live_chart``): their traces name their data by reference,
``{"ref": column, "alg": "gd"}``, and the browser fills in the rows it holds. One
colour per algorithm on every chart and page (``COLORS``); fonts sized for a
projector; log axes where values span decades; titles with proper math.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

COLORS = {"gd": "#0072B2", "am": "#D55E00"}     # Okabe-Ito blue / vermillion: colour-blind safe
NAMES = {"gd": "GD", "am": "AM"}
GRAY = "#555555"
INK = "#262730"             # text colour (Streamlit's), not the theme's light grey
TICK = 16
AXIS_TITLE = 17
TITLE = 19
HEIGHT = 360                # two charts above the fold at 1280 x 800
MARKERS_UP_TO = 60          # draw markers on lines with at most this many points
FLOOR = 0.5                 # flips of 0 are drawn here on the log axis, labelled "0"
PIN_DASH = "dash"


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
           height: int = HEIGHT, x_top: float = 10, title: str = "", **kw) -> dict:
    """Common layout: the title top left, the legend in a row under it."""
    x_axis = _axis(x_title, log_x, **(log_ticks(x_top) if log_x else {}))
    out = {
        "font": {"size": TICK, "color": INK},
        "height": height,
        "margin": {"l": 90, "r": 20, "t": 82 if title else 50, "b": 62},
        "legend": {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.0, "yanchor": "bottom",
                   "font": {"size": TICK - 1, "color": INK}},
        "hovermode": "x unified",
        "hoverlabel": {"font": {"size": TICK}},
        "xaxis": x_axis,
        "yaxis": _axis(y_title, log_y),
        "plot_bgcolor": "white",
        "uirevision": "keep",          # a zoom survives the live updates
    }
    if title:
        out["title"] = {"text": title, "x": 0, "xanchor": "left", "y": 0.985, "yanchor": "top",
                        "font": {"size": TITLE, "color": INK}}
    out.update(kw)
    return out


def x_title(log_x: bool) -> str:
    return "iteration t (log scale)" if log_x else "iteration t"


def line(x, y, name: str, color: str, *, dash: str = "solid", width: float = 3,
         group: str | None = None, markers: bool = False, hover: str = "%{y:.3g}", **kw) -> dict:
    """A line trace (x, y: arrays or live references); markers when it has few points."""
    tr = {"type": "scatter", "x": x, "y": y, "name": name,
          "mode": "lines+markers" if markers else "lines",
          "line": {"color": color, "width": width, "dash": dash},
          "hovertemplate": hover, **kw}
    if markers:
        tr["marker"] = {"size": 8, "color": color}
    if group:
        tr["legendgroup"] = group
    return tr


def hline(y: float, x0: float, x1: float, name: str, color: str = GRAY, dash: str = "dot") -> dict:
    """A horizontal reference line (a two-point trace, so it works on log axes)."""
    return {"type": "scatter", "x": [x0, x1], "y": [y, y], "name": name, "mode": "lines",
            "line": {"color": color, "width": 2, "dash": dash}, "hoverinfo": "skip"}


def ref(column: str, alg: str, **kw) -> dict:
    """A live reference: the browser's rows of series ``{alg}.{column}`` (and the latest record)."""
    return {"ref": column, "alg": alg, **kw}


def enlarge(fig: dict, factor: float) -> dict:
    """The same figure for a lecture hall: every font size, line width, marker size, the
    height and the margins multiplied by ``factor`` (a new dict; ``fig`` is unchanged)."""
    def walk(x, key=None):
        if isinstance(x, dict):
            if key == "margin":
                return {k: v * factor for k, v in x.items()}
            return {k: walk(v, k) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        if key in ("size", "width", "height") and isinstance(x, int | float) and not isinstance(x, bool):
            return x * factor
        return x
    return walk(fig)


# ----- the Train page's run charts (live specs) -----------------------------------------

def _pin_traces(pins: Sequence[tuple[str, str]], y: str, log_x: bool, **kw) -> list[dict]:
    """Pinned runs, drawn thin and dashed in their algorithm's colour; ``pins`` holds
    (series prefix such as "pin1.gd", legend label)."""
    out = []
    for prefix, label in pins:
        alg = prefix.rsplit(".", 1)[1]
        out.append(line(ref("t", prefix), ref(y, prefix, **kw), label, COLORS[alg], dash=PIN_DASH, width=2,
                        opacity=0.55, group=prefix))
    return out


def rel_err_spec(algs: Sequence[str], T: Mapping[str, int], tol: float, log_x: bool,
                 pins: Sequence[tuple[str, str]] = ()) -> dict:
    """||W^t - W*||_F / ||W* + I||_F per iteration, log y, one line per algorithm."""
    top = max([1, *T.values()])
    traces = [line(ref("t", a), ref("rel_err", a), NAMES[a], COLORS[a], markers=T[a] <= MARKERS_UP_TO,
                   group=a) for a in algs]
    traces += _pin_traces(pins, "rel_err", log_x)
    traces.append(hline(tol, 1 if log_x else 0, max(top, 2), f"tolerance {tol:g}"))
    return {"traces": traces, "layout": layout(
        x_title(log_x), "relative error", log_x=log_x, log_y=True, x_top=top,
        title="Relative error ‖W<sup>t</sup> − W*‖<sub>F</sub> / ‖W* + I‖<sub>F</sub>")}


def loss_spec(algs: Sequence[str], T: Mapping[str, int], log_x: bool,
              pins: Sequence[tuple[str, str]] = ()) -> dict:
    """Training loss (solid) and test loss (dotted), log y: the paper's Fig. 1(b)."""
    traces = []
    for a in algs:
        few = T[a] <= MARKERS_UP_TO
        traces.append(line(ref("t", a), ref("train_loss", a), f"{NAMES[a]} train", COLORS[a], group=a,
                           markers=few))
        traces.append(line(ref("t", a), ref("test_loss", a), f"{NAMES[a]} test", COLORS[a], dash="dot",
                           width=2.5, group=a))
    traces += _pin_traces(pins, "train_loss", log_x)
    return {"traces": traces, "layout": layout(
        x_title(log_x), "loss", log_x=log_x, log_y=True, x_top=max([1, *T.values()]),
        title="Loss ‖y − f(X)‖² / 2n: train (solid), test (dotted)")}


def flips_ticks(top: float) -> dict:
    """A log axis whose bottom tick, at FLOOR, reads 0: flips falling to zero stay visible."""
    vals = [FLOOR] + [10**k for k in range(0, 8) if 10**k <= max(top, 1) * 1.5]
    return {"tickmode": "array", "tickvals": vals, "ticktext": ["0"] + [f"{v:,}" for v in vals[1:]],
            "range": [np.log10(FLOOR) - 0.15, np.log10(max(top, 10)) + 0.15]}


def flips_spec(algs: Sequence[str], T: Mapping[str, int], top: float, log_x: bool,
               pins: Sequence[tuple[str, str]] = ()) -> dict:
    """(sample, neuron) pairs whose ReLU state differs from the teacher's (solid) and from
    the last step's (dotted); 0 is drawn on the axis' bottom tick."""
    traces = []
    for a in algs:
        few = T[a] <= MARKERS_UP_TO
        traces.append(line(ref("t", a), ref("flips_teacher", a, floor=FLOOR), f"{NAMES[a]} vs teacher",
                           COLORS[a], group=a, markers=few, customdata=ref("flips_teacher", a),
                           hover="%{customdata:,}"))
        traces.append(line(ref("t", a), ref("flips_prev", a, floor=FLOOR), f"{NAMES[a]} since t − 1",
                           COLORS[a], dash="dot", width=2.5, group=a, customdata=ref("flips_prev", a),
                           hover="%{customdata:,}"))
    traces += _pin_traces(pins, "flips_teacher", log_x, floor=FLOOR)
    lay = layout(x_title(log_x), "(sample, neuron) pairs", log_x=log_x, log_y=True,
                 x_top=max([1, *T.values()]), title="ReLU flips: vs the teacher (solid), since t − 1 (dotted)")
    lay["yaxis"].update(flips_ticks(top))
    return {"traces": traces, "layout": lay}


def heatmap_spec(algs: Sequence[str], d: int, top: float, T: Mapping[str, int] | None = None) -> dict:
    """Neurons x iterations: samples on which neuron q's state differs from the teacher's.

    One panel per algorithm, stacked, sharing one colour scale on log10(1 + count) that
    starts at 0 (white), so that 1, 10, 100 samples are all visible. ``T``: each algorithm's
    last iteration drawn; up to 10 iterations the x axis ticks whole iterations only (one
    column would otherwise read -0.4 ... 0.4).
    """
    ticks = [10**k for k in range(0, 7) if 10**k <= max(top, 1)]
    gap = 0.2 if len(algs) > 1 else 0.0
    panel = (1 - gap * (len(algs) - 1)) / len(algs)
    lay = layout("", "", hovermode="closest", showlegend=False,
                 title="Mismatches with the teacher, per neuron",
                 margin={"l": 90, "r": 20, "t": 56, "b": 56})
    lay["coloraxis"] = {
        "colorscale": [[0, "#ffffff"], [0.15, "#fde0c5"], [0.5, "#f08a4b"], [1, "#67000d"]],
        "cmin": 0, "cmax": float(np.log10(1 + max(top, 1))),
        "colorbar": {"title": {"text": "samples", "font": {"size": TICK, "color": INK}},
                     "tickfont": {"size": TICK, "color": INK}, "thickness": 16,
                     "tickvals": [0] + [float(np.log10(1 + v)) for v in ticks],
                     "ticktext": ["0"] + [f"{v:,}" for v in ticks]},
    }
    traces = []
    for i, a in enumerate(algs):
        suffix = "" if i == 0 else str(i + 1)
        traces.append({"type": "heatmap", "x": ref("heat_t", a, tref="heat_t"), "y": list(range(1, d + 1)),
                       "z": ref("heat", a, tref="heat_t", log1p=True), "customdata": ref("heat", a, tref="heat_t"),
                       "coloraxis": "coloraxis", "name": NAMES[a], "xaxis": f"x{suffix}", "yaxis": f"y{suffix}",
                       "hovertemplate": f"{NAMES[a]}: t = %{{x}}, neuron %{{y}}: %{{customdata:,}} samples"
                                        "<extra></extra>"})
        y1 = 1 - i * (panel + gap)
        lay[f"xaxis{suffix}"] = _axis(f"{NAMES[a]}: iteration t", anchor=f"y{suffix}", showgrid=False)
        lay[f"xaxis{suffix}"]["title"]["font"]["color"] = COLORS[a]
        lay[f"xaxis{suffix}"]["title"]["standoff"] = 4
        if (T or {}).get(a, 0) <= 10:
            lay[f"xaxis{suffix}"].update(tickmode="linear", tick0=0, dtick=1)
        lay[f"yaxis{suffix}"] = _axis("neuron q", anchor=f"x{suffix}", showgrid=False,
                                      autorange="reversed", domain=[y1 - panel, y1])
    return {"traces": traces, "layout": lay}


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
