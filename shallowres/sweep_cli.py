"""``python -m shallowres sweep``: the phase-transition table from the command line.

Registered by cli.py (``add_sweep_parser``, ``cmd_sweep``). A progress bar goes to
stderr; the table (text, ``--csv F`` or ``--json``) to stdout. Ctrl-C cancels: the
batches already running finish, the partial table is printed and the exit status
is 130 (a second Ctrl-C stops waiting). ``--map d`` / ``--map gamma`` run the
sample-complexity maps of :mod:`shallowres.phase_map` and add the thresholds and
the fitted exponent to the output.
"""
from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import threading
import time

from .executors import EXECUTORS
from .phase_map import (
    MAP_D,
    MAP_GAMMA,
    MAP_GAMMA_N,
    MAP_RATIOS,
    MAP_TRIALS,
    PAPER_REL_GAMMA,
    analyze,
    format_analysis,
)
from .sweep import SWEEP_ETA, SweepResult, SweepSpec, check_axis_length, run_sweep

# Spec parameters the main CLI does not know as flags (cli.main names CONSTRAINTS' ones).
OWN_FLAGS = {"n_per_d2": "--n-per-d2", "rel_gamma": "--rel-gamma", "map": "--map"}


def parse_list(name: str, text: str, kind=float, ranges: bool = False) -> tuple:
    """"200,700,1200" -> (200, 700, 1200); with ``ranges`` also "100:2000:100" ->
    100, 200, ..., 2000 (start:stop:step, stop included, step >= 1)."""
    bad = ValueError(f"{name} must be a comma-separated list"
                     + (" or a range start:stop:step" if ranges else "") + f"; got {text!r}")
    text = text.strip()
    try:
        if not (ranges and ":" in text):
            return tuple(kind(p) if kind is not str else p.strip() for p in text.split(",") if p.strip())
        parts = [int(p) for p in text.split(":")]
    except ValueError:
        raise bad from None
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] < 1) or parts[1] < parts[0]:
        raise bad
    values = range(parts[0], parts[1] + 1, parts[2] if len(parts) == 3 else 1)
    check_axis_length(name, values)
    return tuple(values)


def add_sweep_parser(sub) -> argparse.ArgumentParser:
    """The ``sweep`` subcommand's flags."""
    s = sub.add_parser("sweep", help="probability of recovery vs n (the paper's Fig. 1(a))",
                       description="Run GD and AM on many random teachers and tabulate how often "
                                   "rel_err < threshold, with Wilson 95% intervals. Without grid flags "
                                   "this is the paper's setup (--paper).")
    g = s.add_argument_group("grid (default: the paper's)")
    g.add_argument("--paper", action="store_true",
                   help="the paper's setup: d=20, gamma=2, n=200,700,1200,1700, 10 trials, "
                        "GD and AM, identity and random init; other grid flags override it "
                        "(e.g. --paper --alg am)")
    g.add_argument("--n", help="list 200,700,1200,1700 or range 100:2000:100 (stop included)")
    g.add_argument("--d", help="input dimension = hidden units, list (default 20)")
    g.add_argument("--gamma", help="||W*||_F, list (default 2)")
    g.add_argument("--noise", help="label noise std in units of 1/sqrt(n), list (default 0)")
    g.add_argument("--trials", type=int, help="trials per cell (default 10)")
    g.add_argument("--alg", help="gd,am (default both)")
    g.add_argument("--init", help="identity,random (default both; also delta)")
    m = s.add_argument_group("sample-complexity maps")
    m.add_argument("--map", choices=("d", "gamma"),
                   help="d: recovery over (d, n/d^2), thresholds n*(d) and the exponent alpha in n* ~ C d^alpha "
                        f"(default d = {','.join(map(str, MAP_D))}, n/d^2 = {','.join(f'{r:g}' for r in MAP_RATIOS)}); "
                        f"gamma: recovery over (gamma, n) at one d (default gamma = "
                        f"{','.join(f'{g:g}' for g in MAP_GAMMA)}, n = {','.join(map(str, MAP_GAMMA_N))}, d = 20). "
                        f"Maps default to {MAP_TRIALS} trials, "
                        "AM from the identity")
    m.add_argument("--n-per-d2", dest="n_per_d2", help="--map d: the n/d^2 values, list")
    m.add_argument("--rel-gamma", dest="rel_gamma", type=float,
                   help=f"--map d: ||W*||_F / ||I||_F = gamma / sqrt(d) (default {PAPER_REL_GAMMA:.4f}, "
                        "the paper's gamma = 2 at d = 20)")
    r = s.add_argument_group("runs")
    r.add_argument("--seed", type=int, default=0, help="base seed; per-trial seeds derive from it")
    r.add_argument("--threshold", type=float, default=0.01, help="success: final rel_err < threshold")
    r.add_argument("--gd-iters", dest="gd_iters", type=int, default=3000, help="GD budget (default 3000)")
    r.add_argument("--am-iters", dest="am_iters", type=int, default=50, help="AM budget (default 50)")
    r.add_argument("--final-iterate", action="store_true",
                   help="run to the budget (tol 1e-8) instead of stopping once rel_err < threshold")
    r.add_argument("--eta", default=SWEEP_ETA,
                   help=f"GD step: theory | K x theory as 'Kx' | a number (default {SWEEP_ETA})")
    r.add_argument("--w-star", dest="w_star", default="balanced", help="balanced | gaussian")
    r.add_argument("--delta", type=float, default=0.8, help="radius of the delta-ball start (--init delta)")
    r.add_argument("--resample", action="store_true", help="a fresh batch of n samples every iteration")
    r.add_argument("--no-stall", dest="stall", action="store_false",
                   help="run hopeless trials to their budget instead of stopping them as stalled (their best "
                        "error fell by less than 1%% over the last 100 GD or 5 AM iterations)")
    e = s.add_argument_group("where it runs")
    e.add_argument("--executor", help=" | ".join(EXECUTORS) + " (default processes; dask with --scheduler)")
    e.add_argument("--workers", type=int, help="processes / LocalCluster workers (default: all cores)")
    e.add_argument("--scheduler", help="Dask: tcp://HOST:PORT or 'local' (default $DASK_SCHEDULER_ADDRESS); "
                                       "implies --executor dask")
    e.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar on stderr")
    o = s.add_mutually_exclusive_group()
    o.add_argument("--csv", metavar="F", help="write the table as CSV to F ('-' for stdout)")
    o.add_argument("--json", action="store_true", help="print spec, rows and timing as one JSON object")
    return s


def spec_from_args(a) -> SweepSpec:
    if a.paper and a.map:
        raise ValueError("map cannot be combined with --paper: a map has its own grid (d or gamma by n)")
    for name in ("n_per_d2", "rel_gamma"):
        if getattr(a, name) is not None and a.map != "d":
            raise ValueError(f"{name} is only used with --map d")
    if a.map == "d" and (a.n is not None or a.gamma is not None):
        raise ValueError(f"{'n' if a.n is not None else 'gamma'} cannot be combined with --map d, which sets "
                         "n by --n-per-d2 and the teacher's size by --rel-gamma")
    grid = {}
    if a.n is not None:
        grid["n"] = parse_list("n", a.n, int, ranges=True)
    if a.d is not None:
        grid["d"] = parse_list("d", a.d, int, ranges=True)
    for name in ("gamma", "noise"):
        if getattr(a, name) is not None:
            grid[name] = parse_list(name, getattr(a, name))
    if a.alg is not None:
        grid["algs"] = parse_list("alg", a.alg, str)
    if a.init is not None:
        grid["inits"] = parse_list("init", a.init, str)
    if a.trials is not None:
        grid["trials"] = a.trials
    if a.map:
        grid = {"trials": MAP_TRIALS, "algs": ("am",), "inits": ("identity",), **grid}
    if a.map == "d":
        grid.setdefault("d", MAP_D)
        grid["n_per_d2"] = parse_list("n_per_d2", a.n_per_d2) if a.n_per_d2 is not None else MAP_RATIOS
        grid["gamma"] = (PAPER_REL_GAMMA if a.rel_gamma is None else a.rel_gamma,)
        grid["relative_gamma"] = True
    elif a.map == "gamma":
        grid.setdefault("d", (20,))
        grid.setdefault("gamma", MAP_GAMMA)
        grid.setdefault("n", MAP_GAMMA_N)
    return SweepSpec(**grid, seed=a.seed, threshold=a.threshold, gd_iters=a.gd_iters,
                     am_iters=a.am_iters, stop_at_threshold=not a.final_iterate, eta=a.eta,
                     w_star=a.w_star, delta=a.delta, resample=a.resample, stall=a.stall)


def flagged(e: ValueError) -> ValueError:
    """A spec error about a parameter only this subcommand has, with its flag named."""
    name = str(e).split(" ", 1)[0]
    if name in OWN_FLAGS:
        return ValueError(f"argument {OWN_FLAGS[name]}: {e}")
    return e


class ProgressBar:
    """``[#####.....]  37/160 trials  12 s`` on a terminal (redrawn in place);
    one line per tenth of the work otherwise (logs of cluster jobs)."""

    def __init__(self, stream, enabled: bool = True, width: int = 30):
        self.stream, self.enabled, self.width = stream, enabled, width
        self.tty = enabled and hasattr(stream, "isatty") and stream.isatty()
        self.start = time.perf_counter()
        self.shown_tenth = -1

    def __call__(self, done: int, total: int, _trial=None) -> None:
        if not self.enabled:
            return
        secs = time.perf_counter() - self.start
        fill = int(self.width * done / total)
        line = f"[{'#' * fill}{'.' * (self.width - fill)}] {done:>{len(str(total))}}/{total} trials  {secs:.0f} s"
        if self.tty:
            self.stream.write("\r" + line + ("\n" if done == total else ""))
            self.stream.flush()
        elif (tenth := 10 * done // total) > self.shown_tenth:
            self.shown_tenth = tenth
            self.stream.write(line + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")


def _safe(x):
    return None if isinstance(x, float) and not math.isfinite(x) else x


def _safe_tree(x):
    """JSON-ready: non-finite floats become null, tuples lists."""
    if isinstance(x, dict):
        return {k: _safe_tree(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_safe_tree(v) for v in x]
    return _safe(x)


def format_table(res: SweepResult) -> str:
    """A fixed-width table, one line per cell."""
    sp = res.spec
    head = (f"{'d':>3} {'gamma':>6} {'noise':>5} {'n':>6} {'alg':>3} {'init':>8} {'success':>8} "
            f"{'prob':>5} {'95% CI':>13} {'stalled':>7} {'med_iters':>9} {'med_rel_err':>11} {'med_s':>7}")
    lines = [f"Phase transition: success = final rel_err < {sp.threshold:g}; budgets GD {sp.gd_iters} "
             f"(eta = {sp.eta}), AM {sp.am_iters}"
             + ("; runs stop once below the threshold" if sp.stop_at_threshold else ""),
             head]
    for r in res.rows:
        lines.append(f"{r.d:>3} {r.gamma:>6.4g} {r.noise:>5g} {r.n:>6} {r.alg:>3} {r.init:>8} "
                     f"{f'{r.successes}/{r.trials}':>8} {r.probability:>5.2f} "
                     f"{f'[{r.ci_low:.2f}, {r.ci_high:.2f}]':>13} {r.stalled:>7} {r.median_iters:>9g} "
                     f"{r.median_rel_err:>11.2e} {r.median_seconds:>7.3f}")
    state = "cancelled after" if res.cancelled else "all"
    lines.append(f"{state} {res.done}/{res.total} trials in {res.seconds:.1f} s "
                 f"({res.executor}, {res.workers} worker{'s' * (res.workers != 1)}); "
                 f"{res.stalled} stopped as stalled" + ("" if sp.stall else " (stall rule off)"))
    if res.lost or res.retried:
        lines.append(f"{res.retried} batch(es) re-run after their worker died; {res.lost} trial(s) lost "
                     "and missing from the table")
    return "\n".join(lines) + "\n"


def executor_from_args(a) -> str:
    """--executor, else dask when --scheduler is given, else processes."""
    if a.executor is None:
        return "dask" if a.scheduler else "processes"
    if a.scheduler and a.executor != "dask":
        raise ValueError(f"scheduler is only used with --executor dask; got --executor {a.executor}")
    return a.executor


def cmd_sweep(a, out) -> int:
    try:
        spec = spec_from_args(a)
    except ValueError as e:
        raise flagged(e) from None
    executor = executor_from_args(a)
    bar = ProgressBar(sys.stderr, a.progress)
    interrupted = threading.Event()
    restore = None
    if threading.current_thread() is threading.main_thread():
        def on_sigint(signum, frame):   # first Ctrl-C: cancel gracefully; a second one aborts
            interrupted.set()
            signal.signal(signal.SIGINT, restore)
        restore = signal.signal(signal.SIGINT, on_sigint)
    try:
        res = run_sweep(spec, executor, workers=a.workers, scheduler=a.scheduler,
                        progress=lambda done, total, r: bar(done, total), cancel=interrupted.is_set)
    except KeyboardInterrupt:            # a second Ctrl-C while the running batches drained
        sys.stderr.write("\ninterrupted again: stopped without waiting for the running trials; no table\n")
        return 130
    finally:
        if restore is not None:
            signal.signal(signal.SIGINT, restore)
    if res.cancelled:
        bar.close()
    analysis = analyze(res.rows, a.map) if a.map and res.rows else None
    if a.json:
        d = res.as_dict()
        d["rows"] = [{k: _safe(v) for k, v in row.items()} for row in d["rows"]]
        if analysis is not None:
            d["map"] = _safe_tree(analysis.as_dict())
        out.write(json.dumps(d) + "\n")
    elif a.csv == "-":
        out.write(res.to_csv())
    else:
        out.write(format_table(res))
        if analysis is not None:
            out.write("\n" + format_analysis(analysis))
        if a.csv:
            try:
                with open(a.csv, "w", encoding="utf-8") as f:
                    f.write(res.to_csv())
            except OSError as e:
                raise ValueError(f"csv file {a.csv!r} could not be written ({e.strerror})") from None
            out.write(f"table written to {a.csv}\n")
    return 130 if interrupted.is_set() else 0
