"""Table I's baselines beside GD and AM, and the loss landscape's time, at the paper's setting.

    python benchmarks/baselines.py              # d = 20, n = 1700, gamma = 2, seed 0, one BLAS thread
    python benchmarks/baselines.py --seeds 3    # median over seeds 0, 1, 2

Prints, per method, iterations (epochs for SGD and Adam) to relative error 1e-8 (or the
stop reason), the final relative error and the solver's compute time; then the loss
landscape at its default grid (plane and filter modes), wall and CPU time. One BLAS thread:
on a shared machine more threads measure the neighbours. Figures are printed, never asserted.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from shallowres import make_problem, run  # noqa: E402
from shallowres.landscape import grid_size, landscape  # noqa: E402

METHODS = [
    ("GD, theory step", "gd", dict(iters=3000)),
    ("GD, 0.9 x theory step", "gd", dict(iters=3000, eta="0.9x")),
    ("AM (exact)", "am", {}),
    ("inexact AM, K = 1", "am", dict(am_inner=1)),
    ("inexact AM, K = 3", "am", dict(am_inner=3)),
    ("inexact AM, K = 10", "am", dict(am_inner=10)),
    ("SGD, b = 64, identity start", "sgd", {}),
    ("SGD, b = 64, random start", "sgd", dict(init="random")),
    ("Adam, b = 64, random start", "adam", dict(init="random")),
]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--d", type=int, default=20)
    ap.add_argument("--n", type=int, default=1700)
    a = ap.parse_args(argv)
    with threadpool_limits(1):
        print(f"d = {a.d}, n = {a.n}, gamma = 2, tol 1e-8, seeds 0..{a.seeds - 1} (medians), one BLAS thread")
        print(f"{'method':<30} {'iterations':>10} {'rel_err':>10} {'seconds':>8}  stop")
        for name, alg, kw in METHODS:
            rows = []
            for seed in range(a.seeds):
                p = make_problem(d=a.d, n=a.n, seed=seed)
                r = run(p, alg, **kw)
                rows.append((r.n_iter, r.rel_err, r.seconds, r.stop_reason))
            it = statistics.median(x[0] for x in rows)
            err = statistics.median(x[1] for x in rows)
            sec = statistics.median(x[2] for x in rows)
            print(f"{name:<30} {it:>10,.0f} {err:>10.2e} {sec:>8.3f}  {', '.join(sorted({x[3] for x in rows}))}")
        p = make_problem(d=a.d, n=a.n, seed=0)
        gd = run(p, "gd", iters=1000, keep_W=True)
        am = run(p, "am", keep_W=True)
        paths = {"gd": np.array([r.W for r in gd.records]), "am": np.array([r.W for r in am.records])}
        g = grid_size(p.n, p.d)
        for mode in ("plane", "filter"):
            times = []
            for _ in range(3):
                c, w = time.process_time(), time.perf_counter()
                landscape(p, mode, paths=paths)
                times.append((time.perf_counter() - w, time.process_time() - c))
            wall, cpu = min(times)
            print(f"landscape, {mode:<6} {g} x {g} grid: {wall:.3f} s wall, {cpu:.3f} s CPU (best of 3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
