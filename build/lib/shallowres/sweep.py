"""Phase-transition sweeps: the probability of recovering W* against n (the paper's Fig. 1(a)).

A grid has cells (d, gamma, noise, n, alg, init). Each cell runs ``trials`` trials;
trial k succeeds when its final relative error

    rel_err = ||W_T - W*||_F / ||W* + I||_F  <  threshold          (paper: 0.01)

Budgets: at most ``gd_iters`` GD steps (default 3000) or
``am_iters`` AM steps (default 50); AM also stops at a fixed point. With
``stop_at_threshold`` (default) a run also stops as soon as rel_err < threshold
(tol = threshold): success then means "reached the threshold within the budget",
the same as the final-iterate test whenever the error does not climb back, which
linear convergence gives, and it saves most of the time. Without it runs go on to
tol = 1e-8 and the final iterate is judged.

GD's step: the paper's experiments use "a constant step size chosen by
inspection"; sweeps default to 0.9 x the theory step 2 / (sigma_min^2 + sigma_max^2)
(``eta="0.9x"``). The theory step itself sits at the edge of stability (the top
direction of B^T B is multiplied by about -(kappa - 1)/(kappa + 1) each step) and
ReLU flips keep some runs hovering just above 0.01: at the paper's setting it
recovers only 4-6 of 10 teachers at n = 1700 against 9 of 10 at n = 1200, while
0.9 x recovers 10 of 10 for every n >= 700. ``eta="theory"`` shows that effect.

Seeds: trial k of cell (d, gamma, noise, n, ...) uses the integer seed

    SeedSequence(seed, spawn_key=(d, n, bits(gamma), bits(noise), k)).generate_state(1, uint64)[0] >> 1

(bits = the IEEE-754 bits of the float), so a table does not depend on execution
order or executor, a finer grid holding n = 700 repeats the coarse grid's trials at
n = 700, and more trials extend the old ones. The algorithm and initialization do
not enter the seed: all (alg, init) curves see the same teachers, data and random
W^0 (a paired comparison, as with the paper's "10 trials, each with a new X").

Each cell's row: successes, trials, probability, Wilson 95% interval, and medians
of iterations, final rel_err and solver seconds over all its trials.
"""
from __future__ import annotations

import concurrent.futures as cf
import csv
import io
import json
import math
import numbers
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields

import numpy as np

from .executors import open_executor, parallelism
from .problem import make_problem
from .solvers import DEFAULT_ITERS, DEFAULT_TOL, parse_eta, plan_run, run
from .validation import CONSTRAINTS, GB, check

PAPER_N = (200, 700, 1200, 1700)
SWEEP_ETA = "0.9x"   # GD step for sweeps (module doc)
FINE_N = tuple(range(100, 2001, 100))
Z95 = 1.959963984540054   # Phi^{-1}(0.975)
# The sweep reports no test loss; a one-sample test set keeps the per-iteration test
# evaluation cheap. Training data and W* come from their own random streams, so the
# problem is the same as make_problem(d, n, gamma, noise, seed) with its default test set.
SWEEP_N_TEST = 1


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion p_hat = k / m:

        center = (p_hat + z^2 / (2m)) / (1 + z^2 / m)
        half   = z / (1 + z^2 / m) * sqrt(p_hat (1 - p_hat) / m + z^2 / (4 m^2))

    returns (center - half, center + half); z = 1.96 for 95%. Round-off is clipped
    so that 0 <= low <= p_hat <= high <= 1 (exactly 1 at k = m, 0 at k = 0).
    """
    k, m = int(successes), int(trials)
    if m < 1 or not 0 <= k <= m:
        raise ValueError(f"successes must be an integer in [0, trials] with trials >= 1; got {k}/{m}")
    p = k / m
    denom = 1 + z * z / m
    center = (p + z * z / (2 * m)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / m + z * z / (4 * m * m))
    return max(0.0, min(p, center - half)), min(1.0, max(p, center + half))


def _float_bits(x: float) -> int:
    return int(np.float64(x + 0.0).view(np.uint64))   # + 0.0 maps -0.0 to 0.0


def trial_seed(seed: int, d: int, n: int, gamma: float, noise: float, trial: int) -> int:
    """The integer seed of one trial (module doc): independent of alg, init and order."""
    ss = np.random.SeedSequence(seed, spawn_key=(d, n, _float_bits(gamma), _float_bits(noise), trial))
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


MAX_AXIS = 10_000          # values on one grid axis
MAX_RUNS = 1_000_000       # trials x grid cells in one sweep (the task list is held in memory)


def check_axis_length(name: str, values) -> None:
    """Refuse an axis of more than MAX_AXIS values before it is materialized (a range is lazy)."""
    if hasattr(values, "__len__") and len(values) > MAX_AXIS:
        raise ValueError(f"{name} must be a list of at most {MAX_AXIS:,} values; got {len(values):,}")


def _axis(name: str, values, numeric: bool = True) -> tuple:
    """A grid axis: a non-empty list of allowed values (sorted and unique if numeric)."""
    if isinstance(values, str | numbers.Number):
        values = (values,)
    check_axis_length(name, values)
    try:
        values = tuple(values)
    except TypeError:
        values = None
    if not values:
        raise ValueError(f"{name} must be a non-empty list, each {CONSTRAINTS[name].describe()}; "
                         f"got {values if values is not None else 'nothing'!r}")
    out = [check(name, v) for v in values]
    if numeric:
        return tuple(sorted(set(out)))
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class Cell:
    """One grid cell: the problem (d, gamma, noise, n) and the method (alg, init)."""

    d: int
    gamma: float
    noise: float
    n: int
    alg: str
    init: str


@dataclass(frozen=True)
class SweepSpec:
    """A grid and how to run it; the defaults are the paper's setup (d = 20,
    gamma = 2, n in {200, 700, 1200, 1700}, 10 trials, GD and AM, identity and
    random initialization). Lists are validated and sorted on construction."""

    n: tuple[int, ...] = PAPER_N
    d: tuple[int, ...] = (20,)
    gamma: tuple[float, ...] = (2.0,)
    noise: tuple[float, ...] = (0.0,)
    algs: tuple[str, ...] = ("gd", "am")
    inits: tuple[str, ...] = ("identity", "random")
    trials: int = 10
    seed: int = 0
    threshold: float = 0.01
    gd_iters: int = DEFAULT_ITERS["gd"]
    am_iters: int = DEFAULT_ITERS["am"]
    stop_at_threshold: bool = True
    eta: str | float = SWEEP_ETA
    delta: float = 0.8
    resample: bool = False
    w_star: str = "balanced"
    am_solver: str = "auto"
    memory_budget: int = GB

    def __post_init__(self):
        norm = {
            "n": _axis("n", self.n), "d": _axis("d", self.d),
            "gamma": _axis("gamma", self.gamma), "noise": _axis("noise", self.noise),
            "algs": _axis("alg", self.algs, numeric=False),
            "inits": _axis("init", self.inits, numeric=False),
            "trials": check("trials", self.trials), "seed": check("seed", self.seed),
            "threshold": check("threshold", self.threshold),
            "gd_iters": check("gd_iters", self.gd_iters), "am_iters": check("am_iters", self.am_iters),
            "stop_at_threshold": bool(self.stop_at_threshold),
            "delta": check("delta", self.delta), "resample": bool(self.resample),
            "w_star": check("w_star", self.w_star), "am_solver": check("am_solver", self.am_solver),
            "memory_budget": check("memory_budget", self.memory_budget),
        }
        cells = math.prod(len(norm[k]) for k in ("n", "d", "gamma", "noise", "algs", "inits"))
        if cells * norm["trials"] > MAX_RUNS:
            raise ValueError(f"trials x grid cells must be at most {MAX_RUNS:,}; got {norm['trials']:,} x "
                             f"{cells:,} = {cells * norm['trials']:,}")
        if "gd" in norm["algs"]:
            parse_eta(self.eta)
        for k, v in norm.items():
            object.__setattr__(self, k, v)

    @property
    def tol(self) -> float:
        """Each run's stopping tolerance on rel_err (module doc)."""
        return self.threshold if self.stop_at_threshold else DEFAULT_TOL

    def iters(self, alg: str) -> int:
        return self.gd_iters if alg == "gd" else self.am_iters

    def cells(self) -> tuple[Cell, ...]:
        """All cells in table order: d, gamma, noise, n, then alg, init."""
        return tuple(Cell(d, g, s, n, a, i) for d in self.d for g in self.gamma for s in self.noise
                     for n in self.n for a in self.algs for i in self.inits)

    def tasks(self) -> list[tuple[Cell, int]]:
        """(cell, trial) pairs, trial-major: trial 0 of every cell first, so a
        partial table covers the whole grid early and evenly."""
        cells = self.cells()
        return [(c, k) for k in range(self.trials) for c in cells]

    @property
    def total(self) -> int:
        return len(self.cells()) * self.trials

    def as_dict(self) -> dict:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in fields(self)}

    def key(self) -> str:
        """A stable string naming this sweep (for caches)."""
        return json.dumps(self.as_dict(), sort_keys=True)

    def check_memory(self) -> None:
        """Refuse, before anything runs, a grid whose largest run passes the memory budget."""
        for alg in self.algs:
            plan_run(max(self.n), max(self.d), alg, iters=self.iters(alg), resample=self.resample,
                     am_solver=self.am_solver, memory_budget=self.memory_budget)


@dataclass(frozen=True)
class TrialResult:
    """One finished trial (small: safe to send back from a worker)."""

    cell: Cell
    trial: int
    seed: int
    rel_err: float
    n_iter: int
    seconds: float          # the solver's own time (RunResult.seconds)
    stop_reason: str
    success: bool


def run_trial(spec: SweepSpec, cell: Cell, trial: int) -> TrialResult:
    """Generate trial ``trial``'s problem for ``cell`` and run its algorithm once."""
    seed = trial_seed(spec.seed, cell.d, cell.n, cell.gamma, cell.noise, trial)
    problem = make_problem(cell.d, cell.n, cell.gamma, cell.noise, seed, w_star=spec.w_star,
                           n_test=SWEEP_N_TEST, memory_budget=spec.memory_budget)
    res = run(problem, cell.alg, init=cell.init, delta=spec.delta, eta=spec.eta,
              resample=spec.resample, iters=spec.iters(cell.alg), tol=spec.tol,
              am_solver=spec.am_solver, memory_budget=spec.memory_budget)
    rel = res.rel_err
    return TrialResult(cell, trial, seed, rel, res.n_iter, res.seconds, res.stop_reason,
                       bool(rel < spec.threshold))


@dataclass(frozen=True)
class Row(Cell):
    """One line of the table: a cell and its statistics."""

    trials: int
    successes: int
    probability: float
    ci_low: float
    ci_high: float
    median_iters: float
    median_rel_err: float
    median_seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


COLUMNS = tuple(f.name for f in fields(Row))
# Every column but the wall-clock one is a function of the spec alone.
DETERMINISTIC_COLUMNS = tuple(c for c in COLUMNS if c != "median_seconds")


def rows_from_csv(text: str) -> tuple[Row, ...]:
    """Read back a table written by :meth:`SweepResult.to_csv` (e.g. from a cluster run)."""
    kinds = {f.name: f.type for f in fields(Row)}
    conv = {"int": int, "float": float, "str": str}
    return tuple(Row(**{k: conv[kinds[k]](v) for k, v in rec.items()})
                 for rec in csv.DictReader(io.StringIO(text)))


def summarize(spec: SweepSpec, results: Iterable[TrialResult]) -> tuple[Row, ...]:
    """One row per cell with at least one finished trial, in table order."""
    by_cell: dict[Cell, list[TrialResult]] = {}
    for r in results:
        by_cell.setdefault(r.cell, []).append(r)
    rows = []
    for c in spec.cells():
        rs = by_cell.get(c)
        if not rs:
            continue
        k, m = sum(r.success for r in rs), len(rs)
        lo, hi = wilson_interval(k, m)
        rows.append(Row(c.d, c.gamma, c.noise, c.n, c.alg, c.init, m, k, k / m, lo, hi,
                        float(np.median([r.n_iter for r in rs])),
                        float(np.median([r.rel_err for r in rs])),
                        float(np.median([r.seconds for r in rs]))))
    return tuple(rows)


@dataclass(frozen=True, eq=False)
class SweepResult:
    """A finished (or cancelled) sweep: its trials, its table and how it ran."""

    spec: SweepSpec
    trials: tuple[TrialResult, ...]     # in task order
    rows: tuple[Row, ...]
    cancelled: bool
    seconds: float                      # wall time
    executor: str
    workers: int

    @property
    def done(self) -> int:
        return len(self.trials)

    @property
    def total(self) -> int:
        return self.spec.total

    def table(self, columns: Iterable[str] = COLUMNS) -> list[dict]:
        columns = tuple(columns)
        return [{c: getattr(r, c) for c in columns} for r in self.rows]

    def to_csv(self) -> str:
        """The table as CSV, full float precision."""
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(self.table())
        return buf.getvalue()

    def as_dict(self) -> dict:
        """JSON-ready: spec, rows, and how the sweep ran."""
        return dict(spec=self.spec.as_dict(), rows=self.table(), done=self.done, total=self.total,
                    cancelled=self.cancelled, seconds=self.seconds, executor=self.executor,
                    workers=self.workers)


Progress = Callable[[int, int, TrialResult], "bool | None"]


def run_sweep(spec: SweepSpec, executor: str | cf.Executor = "processes", *,
              workers: int | None = None, scheduler: str | None = None,
              progress: Progress | None = None) -> SweepResult:
    """Run every trial of ``spec`` and tabulate.

    ``executor``: "serial", "processes" (default, all cores), "dask" (``scheduler``
    = tcp://HOST:PORT, "local", or $DASK_SCHEDULER_ADDRESS), or any open
    ``concurrent.futures.Executor``. ``progress(done, total, trial)`` is called as
    each trial finishes; returning True cancels the sweep.

    With "processes" (a ``spawn`` pool) a script must start the sweep under
    ``if __name__ == "__main__":``, as with any spawn-based pool; notebooks need nothing.

    At most one trial per worker is in flight. Cancelling (progress returning True,
    or an exception such as KeyboardInterrupt in the caller) submits nothing more
    and waits for the trials already running, so nothing is left running when this
    returns or raises; the result holds the trials that finished.
    """
    if not isinstance(spec, SweepSpec):
        raise ValueError(f"spec must be a SweepSpec; got {type(spec).__name__}")
    spec.check_memory()
    if isinstance(executor, str):
        kind = check("executor", executor)
        with open_executor(kind, workers, scheduler) as ex:
            return _drive(spec, ex, progress, kind)
    return _drive(spec, executor, progress, type(executor).__name__)


def _drive(spec: SweepSpec, executor: cf.Executor, progress: Progress | None, name: str) -> SweepResult:
    start = time.perf_counter()
    window = parallelism(executor)
    todo = iter(spec.tasks())
    total = spec.total
    pending: dict[cf.Future, int] = {}
    results: list[TrialResult] = []
    order: dict[tuple[Cell, int], int] = {}
    cancelled = False

    def submit_more():
        while len(pending) < window and not cancelled:
            task = next(todo, None)
            if task is None:
                return
            order[task] = len(order)
            pending[executor.submit(run_trial, spec, *task)] = order[task]

    try:
        submit_more()
        while pending:
            done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for f in done:
                del pending[f]
                r = f.result()
                results.append(r)
                if progress is not None and progress(len(results), total, r):
                    cancelled = True
            submit_more()
    finally:
        # Only trials already handed to a free worker are pending: let them finish
        # (a Dask future's cancel() would not stop a running task, only forget it).
        cf.wait(pending)
    results.sort(key=lambda r: order[(r.cell, r.trial)])
    return SweepResult(spec, tuple(results), summarize(spec, results), cancelled or len(results) < total,
                       time.perf_counter() - start, name, window)
