"""What streaming to the browser costs the solver, on the dashboard's default run.

    python benchmarks/dashboard_stream.py [--repeat 3]

Default run: GD and AM side by side, d = 20, n = 1700, gamma = 2, identity init,
GD up to 1000 iterations, AM up to 50 (AM converges in 7).

(a) solver alone: shallowres.iterate + Monitor for both algorithms, nothing drawn;
(b) the streaming path outside Streamlit: dashboard.stream.RunState.play with a redraw
    that builds the four Plotly figures and serializes them the way st.plotly_chart
    does (validate, to_json), plus the final redraw;
(c) the real page in AppTest: click Run on app.py; the RunState it leaves in the
    session counts the seconds spent in redraws (st.plotly_chart included).

Prints seconds (the fastest of --repeat: the least disturbed by other processes) and
the streaming overhead in percent of (a).
Figures only: nothing is asserted.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import plotly.io as pio  # noqa: E402
import plotly.tools  # noqa: E402

from dashboard import figures  # noqa: E402
from dashboard.state import defaults  # noqa: E402
from dashboard.stream import ALGS, THROTTLE, RunState, build_problem, iterator_for  # noqa: E402
from shallowres import Monitor  # noqa: E402


def solver_alone(settings) -> float:
    """(a) Both algorithms to their stop, with the dashboard's settings, nothing drawn."""
    start = time.perf_counter()
    problem = build_problem(settings)
    for alg in ALGS[settings["alg"]]:
        iters = settings["gd_iters"] if alg == "gd" else settings["am_iters"]
        monitor = Monitor(alg, iters, settings["tol"], settings["resample"])
        for rec in iterator_for(problem, alg, settings):
            if monitor(rec):
                break
    return time.perf_counter() - start


def serialize(fig: dict) -> str:
    """What st.plotly_chart does with a figure before sending it."""
    return pio.to_json(plotly.tools.return_figure_from_figure_or_data(fig, validate_figure=True),
                       validate=False)


def redraw(run: RunState, live: bool = True) -> int:
    """The page's redraw: the four figures (thinned while live), serialized."""
    hist = figures.thin(run.histories()) if live else run.histories()
    figs = [figures.rel_err_figure(hist, run.settings["tol"]), figures.flips_figure(hist),
            figures.loss_figure(hist), figures.heatmap_figure(hist)]
    return sum(len(serialize(f)) for f in figs)


def streamed(settings) -> tuple[float, float, float, int, int]:
    """(b) RunState.play with figure building + serialization, then the final redraw;
    (total s, solver s, drawing s, draws, bytes of the final figures)."""
    start = time.perf_counter()
    run = RunState.start(settings)
    run.play(redraw)
    run.draw(lambda r: redraw(r, live=False))
    total = time.perf_counter() - start
    return total, run.compute_seconds, run.draw_seconds, run.draws, redraw(run, live=False)


def apptest(settings) -> tuple[float, float, float, int]:
    """(c) Click Run on the real page; (click-to-done s, solver s, drawing s, draws)."""
    from streamlit.testing.v1 import AppTest

    from dashboard.state import encode

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.query_params.update(encode(settings))
    at.run()
    start = time.perf_counter()
    at.button(key="run_btn").click().run()
    total = time.perf_counter() - start
    run = at.session_state["run"]
    return total, run.compute_seconds, run.draw_seconds, run.draws


CONFIGS = {
    "default run (GD 1000 iterations, AM to convergence)": {},
    "long run (GD 5000 iterations, AM to convergence)": {"gd_iters": 5000},
}


def bench(settings, repeat: int) -> None:
    solver_alone(settings)                         # warm up imports and BLAS
    a_s, b_s, b_solver, b_draw, c_s, c_solver, c_draw = [], [], [], [], [], [], []
    for _ in range(repeat):
        a_s.append(solver_alone(settings))
        total, solver, drawing, draws, size = streamed(settings)
        b_s.append(total)
        b_solver.append(solver)
        b_draw.append(drawing)
        total, solver, drawing, c_draws = apptest(settings)
        c_s.append(total)
        c_solver.append(solver)
        c_draw.append(drawing)
    med = min     # the fastest repeat: timing noise only ever adds
    print(f"(a) solver alone                          {med(a_s):7.3f} s")
    print(f"(b) RunState.play + figures + JSON        {med(b_s):7.3f} s   solver {med(b_solver):.3f} s, "
          f"drawing {med(b_draw):.3f} s in {draws} draws incl. the final one "
          f"({size / 1e3:,.0f} kB of JSON for the final four figures)")
    ratio = [d / s for d, s in zip(b_draw, b_solver, strict=True)]
    print(f"    streaming overhead: drawing / solver  {100 * statistics.median(ratio):7.1f} %   "
          "(same run, median; the headline figure)")
    print(f"    wall clock (b - a) / a                {100 * (med(b_s) - med(a_s)) / med(a_s):7.1f} %   "
          "(separate runs: noisy on a shared machine)")
    print(f"(c) AppTest: click Run to done            {med(c_s):7.3f} s   solver {med(c_solver):.3f} s, "
          f"drawing in st.plotly_chart {med(c_draw):.3f} s in {c_draws} live draws")
    print(f"    live drawing / solver time            {100 * med(c_draw) / med(c_solver):7.1f} %   "
          "(the final draw, after the solver, is not counted)")
    print(f"    (c) total vs (a) solver alone         {100 * (med(c_s) - med(a_s)) / med(a_s):7.1f} % "
          "(includes the page's sidebar, panel and final draw)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args(argv)
    print(f"d = 20, n = 1700, gamma = 2, both algorithms; redraws at least {THROTTLE} s apart; "
          f"fastest of {a.repeat} repeats")
    for name, change in CONFIGS.items():
        print(f"\n{name}")
        bench({**defaults(), **change}, a.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
