"""Pictures of the objects the paper reasons about, as Plotly figures (plain dicts).

Each builder is a pure function of the problem and one iterate W^t (d x d), so a page can
draw it for any t of a live run or a replay:

- :func:`weights_figure`: heatmaps of W^t, W* and W^t - W* on one colour scale centred at 0;
- :func:`mask_figure`: the masks P^t (which ReLUs are on, neurons x samples), the cells that
  disagree with the teacher's P* marked (what AM freezes at step t); :func:`mask_rows` picks
  the samples to show for a whole run, so they stay put while t moves;
- :func:`network_figure`: d inputs, d hidden ReLUs with the skip connection, the output with
  v*'s signs, each hidden unit showing its flips at t.

Flips are counted on ``X`` (default: the problem's training set, the records' batch
without fresh samples; with fresh samples pass the batch of step t).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shallowres import Problem
from shallowres.linear import masks

from . import glossary
from .figures import GRAY, INK, TICK, TITLE, layout

DIVERGING = [[0.0, "#2166ac"], [0.25, "#92c5de"], [0.5, "#f7f7f7"], [0.75, "#f4a582"], [1.0, "#b2182b"]]
MASK_COLORS = {0: "#ffffff", 1: "#bdbdbd", 2: "#D55E00", 3: "#0072B2"}
MASK_LABELS = {0: "off, as the teacher", 1: "on, as the teacher", 2: "on, teacher off (flip)",
               3: "off, teacher on (flip)"}
FLIP_SCALE = [[0.0, "#ffffff"], [0.15, "#fde0c5"], [0.5, "#f08a4b"], [1.0, "#67000d"]]
MAX_ROWS = 200
LABELS_UP_TO = 30           # node labels on the network diagram up to this d


def _axis(title: str, **kw) -> dict:
    ax = layout(title, "")["xaxis"]
    ax.update(kw)
    return ax


def _t_text(t: int | None) -> str:
    return "" if t is None else f" at t = {t:,}"


def flips_per_neuron(problem: Problem, W: np.ndarray, X: np.ndarray | None = None) -> np.ndarray:
    """Samples on which neuron q's state 1{x_i . (w_q + e_q) > 0} differs from the teacher's, per q (d,)."""
    X = problem.X if X is None else X
    return np.count_nonzero(masks(X, W + np.eye(problem.d)) != masks(X, problem.U_star), axis=0)


# ----- W^t, W*, W^t - W* ----------------------------------------------------------------------

def waiting_figure(height: int) -> dict:
    """An empty picture of ``height`` px that says the run has no iterate yet: it holds a picture's place
    (and its chart) from Run until the new run's first iterate."""
    return {"data": [], "layout": {"height": height, "xaxis": {"visible": False}, "yaxis": {"visible": False},
                                   "plot_bgcolor": "white", "margin": {"l": 20, "r": 20, "t": 20, "b": 20},
                                   "annotations": [{"text": "waiting for the run's first iterate", "x": 0.5, "y": 0.5,
                                                    "xref": "paper", "yref": "paper", "showarrow": False,
                                                    "font": {"size": TICK, "color": GRAY}}]}}


def weights_figure(problem: Problem, W: np.ndarray, t: int | None = None, height: int = 440) -> dict:
    """Heatmaps of W^t, W* and W^t - W* side by side (rows: input j, columns: neuron q, so
    column q is w_q), one diverging colour scale centred at 0 whose range is the largest |entry|
    of the three. Panel titles give each matrix's Frobenius norm."""
    W = np.asarray(W, dtype=float)
    d = problem.d
    E = W - problem.W_star
    mats = [("W<sup>t</sup>" if t is None else f"W<sup>{t}</sup>", W), ("W*", problem.W_star),
            ("W<sup>t</sup> − W*" if t is None else f"W<sup>{t}</sup> − W*", E)]
    m = max(float(np.max(np.abs(A))) for _, A in mats) or 1.0
    lay = layout("", "", height=height, hovermode="closest", showlegend=False,
                 margin={"l": 70, "r": 10, "t": 110, "b": 60},
                 title=f"Weights{_t_text(t)}: one colour scale, 0 = white")
    lay["coloraxis"] = {"colorscale": DIVERGING, "cmin": -m, "cmax": m, "cmid": 0.0,
                        "colorbar": {"title": {"text": "weight", "font": {"size": TICK, "color": INK}},
                                     "tickfont": {"size": TICK - 2, "color": INK}, "thickness": 14,
                                     "tickformat": ".2g"}}
    gap = 0.03
    width = (1 - 2 * gap) / 3
    traces, notes = [], []
    ticks = list(range(1, d + 1, max(1, d // 5)))
    for i, (name, A) in enumerate(mats):
        sfx = "" if i == 0 else str(i + 1)
        x0 = i * (width + gap)
        norm = float(np.linalg.norm(A))
        # three lines each, so that the norms share a line and "relative" has the third to itself
        # (staggered titles put one panel's norm beside the next one's "relative" on narrow screens)
        extra = f"<br>relative {norm / problem.scale:.2g}" if i == 2 else "<br>\u00a0"
        traces.append({"type": "heatmap", "z": A, "x": list(range(1, d + 1)), "y": list(range(1, d + 1)),
                       "coloraxis": "coloraxis", "xaxis": f"x{sfx}", "yaxis": f"y{sfx}", "name": name,
                       "hovertemplate": f"{name}[j = %{{y}}, q = %{{x}}] = %{{z:.3g}}<extra></extra>"})
        lay[f"xaxis{sfx}"] = _axis("neuron q", domain=[x0, x0 + width], anchor=f"y{sfx}", showgrid=False,
                                   tickvals=ticks, constrain="domain")
        lay[f"yaxis{sfx}"] = _axis("input j" if i == 0 else "", anchor=f"x{sfx}", showgrid=False,
                                   autorange="reversed", tickvals=ticks, scaleanchor=f"x{sfx}", constrain="domain",
                                   showticklabels=i == 0)
        # centred on the panel as drawn ("x domain": a square panel is narrower than its slot)
        notes.append({"text": f"<b>{name}</b><br>‖·‖<sub>F</sub> = {norm:.2g}{extra}", "x": 0.5, "y": 1.0,
                      "xref": f"x{sfx} domain", "yref": f"y{sfx} domain", "yanchor": "bottom", "showarrow": False,
                      "font": {"size": TICK - 2, "color": INK}})
    lay["annotations"] = notes
    return {"data": traces, "layout": lay}


# ----- the masks P^t ---------------------------------------------------------------------------

def mask_states(problem: Problem, W: np.ndarray, X: np.ndarray | None = None) -> np.ndarray:
    """Per (sample, neuron): 0 off and 1 on as the teacher; 2 on but the teacher off; 3 off but
    the teacher on (n, d) int8."""
    X = problem.X if X is None else X
    M = masks(X, np.asarray(W, dtype=float) + np.eye(problem.d))
    Ms = masks(X, problem.U_star)
    out = M.astype(np.int8)
    out[M & ~Ms] = 2
    out[~M & Ms] = 3
    return out


def _even(candidates: np.ndarray, k: int) -> np.ndarray:
    if k <= 0 or not len(candidates):
        return candidates[:0]
    if len(candidates) <= k:
        return candidates
    return candidates[np.round(np.linspace(0, len(candidates) - 1, k)).astype(int)]


def mask_rows(problem: Problem, Ws: Sequence[np.ndarray] | np.ndarray, max_rows: int = MAX_ROWS,
              X: np.ndarray | None = None) -> np.ndarray:
    """Samples to show for a whole run (iterates ``Ws``), the same at every t: up to half of
    ``max_rows`` from the samples with a flip at some iterate (those flipping latest first), the
    rest evenly spaced among the others (samples are i.i.d., so that is an unbiased sample);
    all of them when n <= max_rows. Sorted by sample index."""
    X = problem.X if X is None else X
    n = len(X)
    if n <= max_rows:
        return np.arange(n)
    last = np.full(n, -1)
    for t, W in enumerate(Ws):
        last[np.any(mask_states(problem, W, X) >= 2, axis=1)] = t
    flipping = np.flatnonzero(last >= 0)
    flipping = flipping[np.argsort(-last[flipping], kind="stable")][: max_rows // 2]
    rest = np.setdiff1d(np.arange(n), flipping)
    return np.sort(np.concatenate([flipping, _even(rest, max_rows - len(flipping))]))


def mask_figure(problem: Problem, W: np.ndarray, t: int | None = None, rows: np.ndarray | None = None,
                max_rows: int = MAX_ROWS, X: np.ndarray | None = None, height: int = 330) -> dict:
    """The masks P^t as a neurons x samples heatmap in four colours (on / off as the teacher,
    and the two kinds of flip). ``rows``: the samples to show (:func:`mask_rows` for a run);
    default: up to half of ``max_rows`` from the samples with a flip at this W, the rest evenly
    spaced. The title counts the flips over all n samples."""
    X = problem.X if X is None else X
    n, d = X.shape
    states = mask_states(problem, W, X)
    flips = int(np.count_nonzero(states >= 2))
    if rows is None:
        rows = mask_rows(problem, [W], max_rows, X)
    rows = np.asarray(rows, dtype=int)
    z = states[rows].T                                       # (d, shown)
    scale = []
    for k in range(4):                                       # a discrete scale on the values 0..3
        scale += [[k / 4, MASK_COLORS[k]], [(k + 1) / 4, MASK_COLORS[k]]]
    label = np.array([MASK_LABELS[k] for k in range(4)], dtype=object)[z]
    custom = np.stack([np.broadcast_to(rows + 1, z.shape), label], axis=-1)
    shown = f"all {n:,} samples" if len(rows) == n else f"{len(rows):,} of {n:,} samples shown"
    trace = {"type": "heatmap", "z": z, "x": list(range(len(rows))), "y": list(range(1, d + 1)),
             "zmin": -0.5, "zmax": 3.5, "colorscale": scale,
             "customdata": custom, "xgap": 0, "ygap": 1 if d <= 40 else 0, "name": "P",
             "hovertemplate": "sample %{customdata[0]}, neuron %{y}: %{customdata[1]}<extra></extra>",
             "colorbar": {"tickvals": [0, 1, 2, 3], "ticktext": [MASK_LABELS[k] for k in range(4)],
                          "tickfont": {"size": TICK - 3, "color": INK}, "thickness": 14, "len": 0.9,
                          "outlinewidth": 1, "outlinecolor": GRAY}}
    lay = layout(f"sample ({shown})", "neuron q", height=height, hovermode="closest", showlegend=False,
                 margin={"l": 80, "r": 20, "t": 82, "b": 62},
                 title=f"Masks P<sup>t</sup>{_t_text(t)}: {flips:,} flips in {n * d:,} ReLU states")
    lay["xaxis"].update(showgrid=False, showticklabels=False, ticks="")
    lay["yaxis"].update(showgrid=False, autorange="reversed")
    return {"data": [trace], "layout": lay}


# ----- the network -----------------------------------------------------------------------------

def network_figure(problem: Problem, W: np.ndarray, t: int | None = None, X: np.ndarray | None = None,
                   edges: int | None = None, height: int = 460) -> dict:
    """The residual network y = relu(X (W + I)) v*: d inputs (left), d hidden ReLUs (middle) with
    the skip connection e_q (grey, input q -> neuron q), the ``edges`` largest |W_jq| (default 2d;
    red positive, blue negative, width by size), the output y (right) with v*'s signs; each hidden
    unit is coloured by, and labelled with, its flips at t (:func:`flips_per_neuron`)."""
    W = np.asarray(W, dtype=float)
    d = problem.d
    counts = flips_per_neuron(problem, W, X)
    n = len(problem.X if X is None else X)
    y_pos = np.linspace(1.0, 0.0, d) if d > 1 else np.array([0.5])
    xin, xh, xout = 0.0, 1.0, 2.0
    data: list[dict] = []

    def segments(pairs):
        xs, ys = [], []
        for (x0, y0), (x1, y1) in pairs:
            xs += [x0, x1, None]
            ys += [y0, y1, None]
        return xs, ys

    xs, ys = segments(((xin, y_pos[q]), (xh, y_pos[q])) for q in range(d))
    data.append({"type": "scatter", "x": xs, "y": ys, "mode": "lines", "name": "skip connection e<sub>q</sub>",
                 "line": {"color": "#9e9e9e", "width": 2, "dash": "dot"}, "hoverinfo": "skip"})
    k = min(d * d, 2 * d if edges is None else edges)
    order = np.argsort(-np.abs(W), axis=None, kind="stable")[:k]
    top = float(np.max(np.abs(W))) or 1.0
    for sign, color, name in ((1, "#b2182b", "W<sub>jq</sub> > 0"), (-1, "#2166ac", "W<sub>jq</sub> < 0")):
        idx = np.array([i for i in order if np.sign(W.flat[i]) == sign], dtype=int)
        size = np.ceil(4 * np.abs(W.flat[idx]) / top).clip(1, 4)     # four line widths, one trace each
        first = True
        for level in (4, 3, 2, 1):
            j, q = np.unravel_index(idx[size == level], W.shape)
            if not len(j):
                continue
            xs, ys = segments(((xin, y_pos[a]), (xh, y_pos[b])) for a, b in zip(j, q, strict=True))
            data.append({"type": "scatter", "x": xs, "y": ys, "mode": "lines", "name": name, "legendgroup": name,
                         "showlegend": first, "line": {"color": color, "width": 0.5 + 1.2 * level},
                         "opacity": 0.75, "hoverinfo": "skip"})
            first = False
    for sign, dash, name in ((1, "solid", "v*<sub>q</sub> = +1"), (-1, "dash", "v*<sub>q</sub> = −1")):
        qs = np.flatnonzero(problem.v_star == sign)
        if len(qs):
            xs, ys = segments(((xh, y_pos[q]), (xout, 0.5)) for q in qs)
            data.append({"type": "scatter", "x": xs, "y": ys, "mode": "lines", "name": name,
                         "line": {"color": INK, "width": 1.6, "dash": dash}, "opacity": 0.6, "hoverinfo": "skip"})
    labels = d <= LABELS_UP_TO
    size = int(np.clip(360 / d, 9, 24))
    data.append({"type": "scatter", "x": [xin] * d, "y": y_pos, "mode": "markers+text" if labels else "markers",
                 "text": [f"x<sub>{j + 1}</sub>" for j in range(d)], "textposition": "middle left",
                 "textfont": {"size": TICK - 3, "color": INK}, "name": "inputs", "showlegend": False,
                 "marker": {"size": size * 0.7, "color": "#e0e0e0", "line": {"color": GRAY, "width": 1}},
                 "hovertemplate": "input x<sub>%{customdata}</sub><extra></extra>", "customdata": np.arange(1, d + 1)})
    err = np.linalg.norm(W - problem.W_star, axis=0)
    custom = np.stack([np.arange(1, d + 1), problem.v_star, counts, err], axis=1)
    flip_hover = glossary.hover("flips")
    data.append({"type": "scatter", "x": [xh] * d, "y": y_pos, "mode": "markers+text" if labels else "markers",
                 "text": [f"{c:,}" for c in counts], "textposition": "middle right",
                 "textfont": {"size": TICK - 2, "color": INK}, "name": "hidden ReLUs", "showlegend": False,
                 "customdata": custom, "hoverlabel": {"bgcolor": "white", "font": {"color": INK}, "align": "left"},
                 "marker": {"size": size, "color": counts, "cmin": 0, "cmax": max(1, int(counts.max())),
                            "colorscale": FLIP_SCALE, "line": {"color": INK, "width": 1.5},
                            "colorbar": {"title": {"text": "flips", "font": {"size": TICK, "color": INK}},
                                         "tickfont": {"size": TICK - 2, "color": INK}, "thickness": 14,
                                         "len": 0.6, "y": 0.45,
                                         **({"dtick": 1} if counts.max() <= 5 else {})}},   # counts: whole ticks
                 "hovertemplate": "neuron %{customdata[0]}: v*<sub>q</sub> = %{customdata[1]:+d}, "
                                  f"%{{customdata[2]:,}} of {n:,} samples flipped" + _t_text(t) +
                                  ", ‖w<sub>q</sub> − w*<sub>q</sub>‖ = %{customdata[3]:.2g}<br><br>"
                                  + flip_hover + "<extra></extra>"})
    data.append({"type": "scatter", "x": [xout], "y": [0.5], "mode": "markers+text", "text": ["y"],
                 "textposition": "middle right", "textfont": {"size": TICK, "color": INK}, "showlegend": False,
                 "name": "output", "marker": {"size": size * 1.2, "color": "#e0e0e0",
                                              "line": {"color": INK, "width": 1.5}},
                 "hovertemplate": "output y = Σ<sub>q</sub> v*<sub>q</sub> relu(x · (w<sub>q</sub> + e<sub>q</sub>))"
                                  "<extra></extra>"})
    total = int(counts.sum())
    lay = layout("", "", height=height, hovermode="closest", margin={"l": 20, "r": 20, "t": 90, "b": 20},
                 title=f"The network{_t_text(t)}: {total:,} flips, per hidden ReLU")
    lay["xaxis"] = {"visible": False, "range": [-0.35, 2.35]}
    lay["yaxis"] = {"visible": False, "range": [-0.14, 1.06]}
    lay["legend"] = {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom",
                     "font": {"size": TICK - 3, "color": INK}}
    lay["annotations"] = [
        {"text": t_, "x": x_, "y": -0.06, "xref": "x", "yref": "y", "showarrow": False, "yanchor": "top",
         "font": {"size": TICK - 2, "color": GRAY}}
        for t_, x_ in (("inputs x", xin), ("hidden ReLUs", xh), ("output", xout))]
    lay["title"]["font"] = {"size": TITLE, "color": INK}
    return {"data": data, "layout": lay}
