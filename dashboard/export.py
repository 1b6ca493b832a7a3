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

from shallowres import make_problem

from .runs import RunJob
from .state import encode

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


def history_csv(job: RunJob) -> str:
    """One row per (algorithm, iteration); ``seconds`` is cumulative compute time."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for alg, r in job.runs.items():
        h = r.history.columns()
        for i in range(len(h["t"])):
            row = [alg] + [_clean(h[c][i]) for c in CSV_COLUMNS[1:]]
            w.writerow(["" if v is None else v for v in row])
    return out.getvalue()


def run_json(job: RunJob) -> str:
    """Settings (and the URL query that reproduces them), per-algorithm history, flips per
    neuron (at the iterations listed in ``flips_per_neuron_t``), stop reason and message,
    final W; plus the teacher W*, v*."""
    s = job.settings
    teacher = make_problem(d=s["d"], n=1, gamma=s["gamma"], seed=s["seed"], n_test=1)  # same W*, v*
    algs = {}
    for alg, r in job.runs.items():
        h = r.history.columns()
        heat_t, heat = r.history.heatmap()
        algs[alg] = {
            "stop_reason": r.stop_reason, "message": r.message, "n_iter": r.t,
            "history": {c: _clean(h[c]) for c in CSV_COLUMNS[1:]},
            "flips_per_neuron_t": _clean(heat_t), "flips_per_neuron": _clean(heat),
            "W": _clean(r.W),
        }
    doc = {"config": dict(s), "query": "?" + urlencode(encode(s)),
           "W_star": _clean(teacher.W_star), "v_star": _clean(teacher.v_star), "algorithms": algs}
    return json.dumps(doc, allow_nan=False)
