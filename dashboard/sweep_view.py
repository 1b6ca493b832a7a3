"""The Phase-transition page's figure, table, cache and shipped results
(``pages/2_Phase_transition.py``).

``phase_figure``: probability of recovery against n, one curve per (algorithm, init),
Wilson 95% error bars, colours from ``figures.COLORS`` (one per algorithm on every
page), init told apart by dash and marker. Also used for docs/phase_transition.png.
``shipped``: tables computed ahead of time and kept in docs/ (the paper's grid, the
maps), so a cold server shows them at once. ``echo``: show user input as a code span,
never as markdown (a link's value must not turn into an image or a link).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import streamlit as st

from shallowres.sweep import Row, SweepResult, rows_from_csv

from . import figures
from .state import echo  # noqa: F401  (the Phase page echoes link values with it)

DOCS = Path(__file__).resolve().parent.parent / "docs"
SHIPPED = {"paper": DOCS / "phase_transition.csv", "map_d": DOCS / "phase_map_d.csv",
           "map_gamma": DOCS / "phase_map_gamma.csv"}


@st.cache_data(max_entries=4, show_spinner=False)
def shipped(name: str) -> tuple[Row, ...]:
    """A table kept in docs/ (``SHIPPED``): rows, or () if the file is missing."""
    path = SHIPPED[name]
    return rows_from_csv(path.read_text(encoding="utf-8")) if path.exists() else ()

INIT_STYLE = {"identity": ("solid", "circle"), "random": ("dash", "square"), "delta": ("dot", "diamond")}
INIT_NAMES = {"identity": "identity init", "random": "random init", "delta": "δ-ball init"}
# Curves side by side so their error bars do not hide each other: neighbours are
# DODGE of the n range apart, at most DODGE_GAP of the smallest step between n values.
DODGE, DODGE_GAP = 0.012, 0.1
HEIGHT = 500


def _rows(rows: Iterable[Row | Mapping]) -> list[dict]:
    return [r.as_dict() if isinstance(r, Row) else dict(r) for r in rows]


def curves(rows: Iterable[Row | Mapping]) -> dict[tuple[str, str], list[dict]]:
    """(alg, init) -> its rows sorted by n, curves in the order they first appear."""
    out: dict[tuple[str, str], list[dict]] = {}
    for r in _rows(rows):
        out.setdefault((r["alg"], r["init"]), []).append(r)
    return {k: sorted(v, key=lambda r: r["n"]) for k, v in out.items()}


def phase_figure(rows: Iterable[Row | Mapping], n_grid: Sequence[int], d: int,
                 threshold: float = 0.01, height: int = HEIGHT) -> dict:
    """Success probability vs n with Wilson 95% intervals (asymmetric error bars).

    ``n_grid`` fixes the x axis (so a filling-in chart does not jump); a dotted
    vertical line marks n = d^2, below which AM's least-squares step is underdetermined.
    """
    n_grid = sorted(n_grid)
    lo_n, hi_n = n_grid[0], n_grid[-1]
    span = max(hi_n - lo_n, 1)
    gap = min(np.diff(n_grid), default=span)
    step = min(DODGE * span, DODGE_GAP * gap)
    groups = curves(rows)
    data = []
    for i, ((alg, init), rs) in enumerate(groups.items()):
        dash, symbol = INIT_STYLE.get(init, ("solid", "circle"))
        n = np.array([r["n"] for r in rs], dtype=float)
        p = np.array([r["probability"] for r in rs])
        lo = np.array([r["ci_low"] for r in rs])
        hi = np.array([r["ci_high"] for r in rs])
        offset = (i - (len(groups) - 1) / 2) * step
        color = figures.COLORS.get(alg, figures.GRAY)
        data.append({
            "type": "scatter", "mode": "lines+markers", "x": n + offset, "y": p,
            "name": f"{figures.NAMES.get(alg, alg)} · {INIT_NAMES.get(init, init)}",
            "line": {"color": color, "width": 3, "dash": dash},
            "marker": {"color": color, "size": 11, "symbol": symbol},
            "error_y": {"type": "data", "symmetric": False, "array": hi - p, "arrayminus": p - lo,
                        "color": color, "thickness": 2, "width": 6},
            "customdata": np.column_stack([n, [r["successes"] for r in rs], [r["trials"] for r in rs],
                                           lo, hi, [r["median_iters"] for r in rs]]),
            "hovertemplate": (f"<b>{figures.NAMES.get(alg, alg)} · {init}</b><br>n = %{{customdata[0]:,}}: "
                              "%{customdata[1]} of %{customdata[2]} recovered<br>"
                              "95% CI %{customdata[3]:.2f} – %{customdata[4]:.2f}<br>"
                              "median iterations %{customdata[5]:,}<extra></extra>"),
        })
    pad = 0.06 * span if span > 1 else 50
    if lo_n - pad <= d * d <= hi_n + pad:
        data.append({"type": "scatter", "mode": "lines", "x": [d * d, d * d], "y": [-0.05, 1.05],
                     "name": f"n = d² = {d * d}", "hoverinfo": "skip",
                     "line": {"color": figures.GRAY, "width": 2, "dash": "dot"}})
    if not data:    # Plotly refuses a figure without traces: draw the empty axes
        data.append({"type": "scatter", "x": [], "y": [], "showlegend": False, "hoverinfo": "skip"})
    lay = figures.layout("training samples n", f"P(relative error < {threshold:g})", height=height,
                         hovermode="closest", margin={"l": 95, "r": 20, "t": 70, "b": 70})
    lay["xaxis"]["range"] = [lo_n - pad, hi_n + pad]
    if len(n_grid) <= 10:
        lay["xaxis"].update(tickmode="array", tickvals=list(n_grid), ticktext=[f"{v:,}" for v in n_grid])
    lay["yaxis"].update(range=[-0.05, 1.05], tickvals=[0, 0.25, 0.5, 0.75, 1])
    return {"data": data, "layout": lay}


TABLE_COLUMNS = {"n": "n", "alg": "algorithm", "init": "init", "recovered": "recovered",
                 "probability": "P(success)", "ci": "95% interval", "stalled": "stalled",
                 "median_iters": "median iterations", "median_rel_err": "median rel. error",
                 "median_seconds": "median s / run"}


def table_rows(rows: Iterable[Row | Mapping]) -> list[dict]:
    """The table shown under the chart: one line per cell, readable numbers."""
    out = []
    for r in _rows(rows):
        out.append({
            "n": r["n"], "alg": figures.NAMES.get(r["alg"], r["alg"]), "init": r["init"],
            "recovered": f"{r['successes']} / {r['trials']}", "probability": round(r["probability"], 3),
            "ci": f"{r['ci_low']:.2f} – {r['ci_high']:.2f}", "stalled": r["stalled"],
            "median_iters": r["median_iters"],
            "median_rel_err": f"{r['median_rel_err']:.2e}", "median_seconds": round(r["median_seconds"], 3),
        })
    return out


# ----- cache: a finished sweep, shared across sessions (bounded) ------------------------

class _Miss(Exception):
    """Not in the cache (exceptions are never cached, so a miss stores nothing)."""


@st.cache_data(max_entries=16, show_spinner=False)
def _stored(key: str, _result: SweepResult | None = None) -> SweepResult:
    """A cache_data store: called with ``_result`` it keeps it under ``key`` (the
    argument with a leading underscore is not hashed); without, it returns the kept
    result or raises _Miss. The sweep itself runs outside, streaming to the page."""
    if _result is None:
        raise _Miss
    return _result


def cached(key: str) -> SweepResult | None:
    """The finished sweep with this ``SweepSpec.key()``, if any session ran it."""
    try:
        return _stored(key)
    except _Miss:
        return None


def remember(key: str, result: SweepResult) -> None:
    """Put a finished sweep in the cache, replacing an older run of the same spec
    (``cached(key)`` then returns a copy of this one: its times, not the first run's)."""
    _stored.clear(key)
    _stored(key, _result=result)
