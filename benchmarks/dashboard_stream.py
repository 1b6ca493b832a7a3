"""What the live charts cost, on the dashboard's default run and on a long GD run.

    python benchmarks/dashboard_stream.py [--repeat 3]

(a) solver alone: a RunJob driven to its end in this thread, nothing drawn;
(b) the same run on a worker thread of the admission controller while this thread plays
    the page's live fragment every 0.25 s (snapshot of the histories on the fixed grid,
    figure specs, the Feed's payload of recent rows, JSON as Streamlit sends it).

Prints the seconds spent in the solvers (the fastest of --repeat), the payload building
time per update, the bytes per update, and the solvers' slowdown in percent of (a). Figures only: nothing is
asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard import run_view  # noqa: E402
from dashboard.admission import Controller, Limits  # noqa: E402
from dashboard.live_chart import Feed  # noqa: E402
from dashboard.runs import RunJob  # noqa: E402
from dashboard.state import defaults  # noqa: E402
from shallowres.threads import single_threaded_blas  # noqa: E402

TICK = 0.25
CASES = {"default run (GD and AM, d = 20, n = 1700)": {},
         "long GD run (d = 20, n = 1700, 20000 iterations)": dict(alg="gd", gd_iters=20000, tol=1e-15)}


def compute(job: RunJob) -> float:
    """Seconds the run spent in its solvers (both algorithms)."""
    return sum(r.seconds for r in job.runs.values())


def solver_alone(settings) -> float:
    job = RunJob(settings)
    job.request("run")
    while job.active:
        job.run_slice(time.perf_counter() + 10)
    return compute(job)


def payload(job: RunJob, feed: Feed) -> dict:
    """The live fragment's work for one update (app.py's live view)."""
    series, head, figs, _ = run_view.chart_data(job, job.settings, None)
    return feed.payload(job.token, series, head, figs)


def streamed(settings) -> tuple[float, list[float], list[int]]:
    ctl = Controller(Limits(workers=1))
    job, feed = RunJob(settings, "bench"), Feed()
    job.request("run")
    ctl.submit(job)
    costs, sizes = [], []
    while job.active:
        t = time.perf_counter()
        sizes.append(len(json.dumps(payload(job, feed))))
        costs.append(time.perf_counter() - t)
        time.sleep(max(0.0, TICK - costs[-1]))
    ctl.close()
    return compute(job), costs, sizes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    single_threaded_blas()
    print(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name, extra in CASES.items():
        settings = {**defaults(), **extra}
        alone = min(solver_alone(settings) for _ in range(args.repeat))
        runs = [streamed(settings) for _ in range(args.repeat)]
        wall, costs, sizes = min(runs, key=lambda r: r[0])
        print(f"{name}:\n  (a) solver alone: {alone:.3f} s in the solvers\n  (b) on a worker, live updates "
              f"every {TICK} s: {wall:.3f} s in the solvers ({100 * (wall - alone) / alone:+.1f}%), "
              f"{len(costs)} updates, building one "
              f"{1000 * statistics.median(costs):.2f} ms (median), {statistics.median(sizes) / 1024:.1f} kB "
              f"(median; the first {sizes[0] / 1024:.1f} kB)")


if __name__ == "__main__":
    main()
