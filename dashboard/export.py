"""Downloads of a run: the per-iteration history as CSV; config + history + final W as JSON.

Non-finite numbers (a diverged run) become empty CSV cells and JSON ``null``.
"""
from __future__ import annotations

import csv
import io
import json
import math
from urllib.parse import urlencode

import numpy as np

from .state import encode
from .stream import RunState

CSV_COLUMNS = ("alg", "t", "err", "rel_err", "train_loss", "test_loss", "flips_teacher", "flips_prev",
               "rho3", "inner_iters", "seconds")


def _clean(x):
    """A JSON/CSV-safe Python scalar or nested list (inf and NaN -> None)."""
    if isinstance(x, np.ndarray):
        return [_clean(v) for v in x.tolist()]
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def history_csv(run: RunState) -> str:
    """One row per (algorithm, iteration); ``seconds`` is cumulative compute time."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for alg, h in run.histories().items():
        for i in range(len(h["t"])):
            row = [alg] + [_clean(h[c][i]) for c in CSV_COLUMNS[1:]]
            w.writerow(["" if v is None else v for v in row])
    return out.getvalue()


def run_json(run: RunState) -> str:
    """Settings (and the URL query that reproduces them), per-algorithm history,
    flips per neuron, stop reason and message, final W; plus the teacher W*, v*."""
    algs = {}
    for alg, tr in run.traces.items():
        h = tr.history()
        algs[alg] = {
            "stop_reason": tr.stop_reason, "message": tr.message, "n_iter": tr.n_iter,
            "history": {c: _clean(h[c]) for c in CSV_COLUMNS[1:]},
            "flips_per_neuron": _clean(h["flips_per_neuron"]),
            "W": _clean(tr.W),
        }
    doc = {"config": dict(run.settings), "query": "?" + urlencode(encode(run.settings)),
           "W_star": _clean(run.problem.W_star), "v_star": _clean(run.problem.v_star),
           "algorithms": algs}
    return json.dumps(doc, allow_nan=False)
