"""Small charts of finished runs for the Lesson page (and the baselines' colours and names).

Colours: GD and AM as everywhere (``figures.COLORS``); the baselines of Table I in the
other Okabe-Ito colours (colour-blind safe). Runs are given as plain dicts of history arrays
(``t``, ``rel_err``, ``seconds``, ``train_loss``, ``test_loss``), e.g. ``RunResult.history``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .figures import COLORS, GRAY, hline, layout, line, log_ticks

ALG_COLORS = {**COLORS, "sgd": "#009E73", "adam": "#CC79A7", "am_inexact": "#E69F00"}
ALG_NAMES = {"gd": "GD", "am": "AM", "sgd": "SGD", "adam": "Adam", "am_inexact": "inexact AM"}
DASHES = ("solid", "dash", "dot", "dashdot")


def style(key: str) -> tuple[str, str]:
    """(colour, dash) of a run key such as "gd", "am", "gd:0.9x" (the part before ':' is the algorithm)."""
    alg = key.split(":", 1)[0]
    return ALG_COLORS.get(alg, GRAY), "solid"


def error_figure(runs: Mapping[str, Mapping[str, np.ndarray]], labels: Mapping[str, str] | None = None,
                 x: str = "t", tol: float | None = None, log_x: bool = True, height: int = 380,
                 title: str = "Relative error ‖W<sup>t</sup> − W*‖<sub>F</sub> / ‖W* + I‖<sub>F</sub>",
                 dashes: Mapping[str, str] | None = None, symbols: Mapping[str, str] | None = None) -> dict:
    """rel_err of each run against iteration t (``x="t"``, log axis; t = 0 drawn at 0.5) or compute
    seconds (``x="seconds"``), log y. ``runs``: key -> history; ``labels``: key -> legend text;
    ``dashes``, ``symbols``: key -> line dash, marker symbol (to tell apart runs of one algorithm)."""
    traces, top = [], 1.0
    for key, h in runs.items():
        color, dash = style(key)
        dash = (dashes or {}).get(key, dash)
        xs = np.asarray(h[x], dtype=float)
        if x == "t" and log_x:
            xs = np.maximum(xs, 0.5)       # t = 0 sits on the axis' left edge
        y = np.asarray(h["rel_err"], dtype=float)
        top = max(top, float(np.max(h["t"])))
        hover = "t = %{customdata:,}: %{y:.3g}" if x == "t" else "%{x:.3g} s: %{y:.3g}"
        tr = line(xs, y, (labels or {}).get(key, key), color, dash=dash, markers=len(y) <= 30,
                  customdata=np.asarray(h["t"]), hover=hover + "<extra>%{fullData.name}</extra>")
        if symbols and key in symbols:
            tr["mode"] = "lines+markers"
            tr["marker"] = {"size": 11, "color": color, "symbol": symbols[key], "line": {"width": 2, "color": color}}
        traces.append(tr)
    if tol is not None:
        x1 = top if x == "t" else max(float(np.max(h["seconds"])) for h in runs.values())
        m, e = f"{tol:.0e}".split("e")
        traces.append(hline(tol, 0.5 if (x == "t" and log_x) else 0, max(x1, 1e-3), f"tolerance {m}e{int(e)}"))
    if x == "t":
        lay = layout("iteration t (log scale)" if log_x else "iteration t", "relative error", log_x=log_x, log_y=True,
                     x_top=top, height=height, title=title, hovermode="closest")
    else:
        lay = layout("compute time (seconds, log scale)", "relative error", log_x=True, log_y=True, height=height,
                     title=title, hovermode="closest")
        vals = [10.0**k for k in range(-5, 4)]          # a tick at every decade, in seconds
        lay["xaxis"].update(tickmode="array", tickvals=vals, ticktext=[f"{v:g}" for v in vals])
    return {"data": traces, "layout": lay}


def success_figure(n_values: Sequence[int], rates: Mapping[str, Sequence[float]], d: int, trials: int,
                   height: int = 380) -> dict:
    """Fraction of trials recovering W* (rel_err < 0.01) against n, one line per method; a dotted
    vertical line at n = d^2 (where AM's least-squares step stops being underdetermined)."""
    traces = []
    for key, r in rates.items():
        color, _ = style(key)
        alg = key.split(":", 1)[0]
        traces.append(line(np.asarray(n_values), np.asarray(r), ALG_NAMES.get(alg, key), color, markers=True,
                           hover="n = %{x:,}: %{y:.0%}<extra>%{fullData.name}</extra>"))
    traces.append({"type": "scatter", "x": [d * d, d * d], "y": [0, 1], "mode": "lines", "name": f"n = d² = {d * d}",
                   "line": {"color": GRAY, "dash": "dot", "width": 2}, "hoverinfo": "skip"})
    lay = layout("training samples n", f"recovered (of {trials} trials)", height=height, hovermode="closest",
                 title="Phase transition: how often W* is recovered (relative error < 0.01)")
    lay["yaxis"].update(range=[-0.05, 1.05], tickformat=".0%")
    return {"data": traces, "layout": lay}


__all__ = ["ALG_COLORS", "ALG_NAMES", "DASHES", "error_figure", "success_figure", "style", "log_ticks"]
