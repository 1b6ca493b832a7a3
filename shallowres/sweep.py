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

Stalled runs: with ``stall`` (default) a run also stops when it has stopped making
progress (``Monitor``'s stalled rule: from iteration 2w on, its best rel_err fell by
less than 1% over the last w = 100 GD or 5 AM iterations). On the paper's grid this
ends the hopeless n = 200 runs after 200 GD or 10-15 AM iterations instead of the
whole budget and changes no success: every run that recovers W* improves by at least
9% (GD) or 28% (AM) per window (tests/test_stall.py re-runs the stalled trials to
their budget and checks it). The table counts them.

Map grids: ``n_per_d2`` gives n as multiples of d^2 (n = round(r d^2) for each d)
and ``relative_gamma`` reads ``gamma`` as ||W*||_F / ||I||_F = ||W*||_F / sqrt(d),
so one spec covers a (d, n/d^2) map at a fixed relative teacher size
(:mod:`shallowres.phase_map`).

How trials run: :mod:`shallowres.sweep_batches` groups a cell's trials (all
initializations of a block of trials) into batches advanced together with lean
records (:mod:`shallowres.batched`); a batch's results equal those of
:func:`run_trial`, the unbatched reference, bit for bit. Every batch computes with
one BLAS thread in every executor, so the table is the same, bit for bit, from
serial, process and Dask execution on one machine (a cluster of other CPUs or BLAS
builds may differ in the last digits of the error medians).

Each cell's row: successes, trials, probability, Wilson 95% interval, the number of
stalled runs, and medians of iterations, final rel_err and solver seconds over all
its trials.
"""
from __future__ import annotations

import concurrent.futures as cf
import csv
import io
import json
import math
import numbers
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields

import numpy as np

from .executors import one_blas_thread, open_executor
from .problem import initial_point, make_problem
from .solvers import DEFAULT_ITERS, DEFAULT_TOL, Monitor, iterate, parse_eta, plan_run
from .validation import CONSTRAINTS, GB, Interval, check

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


# Map grids (SweepSpec.n_per_d2, relative_gamma): n / d^2 and ||W*||_F / ||I||_F.
N_PER_D2 = Interval(0, 1000, low_open=True)
REL_GAMMA = Interval(0, 10)


def _n_for(ratio: float, d: int) -> int:
    """n = round(ratio d^2), at least 1 (Python's round: halves to even)."""
    return max(1, round(ratio * d * d))


def _axis(name: str, values, numeric: bool = True, constraint=None) -> tuple:
    """A grid axis: a non-empty list of allowed values (sorted and unique if numeric)."""
    if isinstance(values, str | numbers.Number):
        values = (values,)
    check_axis_length(name, values)
    try:
        values = tuple(values)
    except TypeError:
        values = None
    if not values:
        c = constraint or CONSTRAINTS[name]
        raise ValueError(f"{name} must be a non-empty list, each {c.describe()}; "
                         f"got {values if values is not None else 'nothing'!r}")
    out = [check(name, v, constraint) for v in values]
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
    stall: bool = True
    n_per_d2: tuple[float, ...] = ()
    relative_gamma: bool = False

    def __post_init__(self):
        empty = not isinstance(self.n_per_d2, str | numbers.Number) and len(tuple(self.n_per_d2)) == 0
        ratios = () if empty else _axis("n_per_d2", self.n_per_d2, constraint=N_PER_D2)
        norm = {
            "n": _axis("n", self.n) if not ratios else (), "d": _axis("d", self.d),
            "gamma": _axis("gamma", self.gamma, constraint=REL_GAMMA if self.relative_gamma else None),
            "noise": _axis("noise", self.noise),
            "algs": _axis("alg", self.algs, numeric=False),
            "inits": _axis("init", self.inits, numeric=False),
            "trials": check("trials", self.trials), "seed": check("seed", self.seed),
            "threshold": check("threshold", self.threshold),
            "gd_iters": check("gd_iters", self.gd_iters), "am_iters": check("am_iters", self.am_iters),
            "stop_at_threshold": bool(self.stop_at_threshold),
            "delta": check("delta", self.delta), "resample": bool(self.resample),
            "w_star": check("w_star", self.w_star), "am_solver": check("am_solver", self.am_solver),
            "memory_budget": check("memory_budget", self.memory_budget),
            "stall": bool(self.stall), "n_per_d2": ratios, "relative_gamma": bool(self.relative_gamma),
        }
        for d in norm["d"]:      # the n and gamma a map grid gives each d must be allowed values
            for r in ratios:
                check("n", _n_for(r, d))
            for g in norm["gamma"] if norm["relative_gamma"] else ():
                check("gamma", g * math.sqrt(d))
        n_count = len(ratios) if ratios else len(norm["n"])
        cells = n_count * math.prod(len(norm[k]) for k in ("d", "gamma", "noise", "algs", "inits"))
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

    def n_values(self, d: int) -> tuple[int, ...]:
        """The sample sizes at dimension d: ``n``, or round(r d^2) for r in ``n_per_d2``."""
        if not self.n_per_d2:
            return self.n
        return tuple(sorted({_n_for(r, d) for r in self.n_per_d2}))

    def gamma_values(self, d: int) -> tuple[float, ...]:
        """||W*||_F at dimension d: ``gamma``, or gamma * sqrt(d) with ``relative_gamma``."""
        return tuple(g * math.sqrt(d) for g in self.gamma) if self.relative_gamma else self.gamma

    def cells(self) -> tuple[Cell, ...]:
        """All cells in table order: d, gamma, noise, n, then alg, init."""
        return tuple(Cell(d, g, s, n, a, i) for d in self.d for g in self.gamma_values(d) for s in self.noise
                     for n in self.n_values(d) for a in self.algs for i in self.inits)

    @property
    def max_n(self) -> int:
        return max(max(self.n_values(d)) for d in self.d)

    def stall_window(self, alg: str) -> int | None:
        """The stalled rule's window for ``alg`` (None with ``stall`` off)."""
        return Monitor.STALL_WINDOW[alg] if self.stall else None

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
            for d in self.d:
                plan_run(max(self.n_values(d)), d, alg, iters=self.iters(alg), resample=self.resample,
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


def trial_problem(spec: SweepSpec, cell: Cell, trial: int):
    """(seed, problem) of trial ``trial`` at ``cell``'s (d, gamma, noise, n)."""
    seed = trial_seed(spec.seed, cell.d, cell.n, cell.gamma, cell.noise, trial)
    return seed, make_problem(cell.d, cell.n, cell.gamma, cell.noise, seed, w_star=spec.w_star,
                              n_test=SWEEP_N_TEST, memory_budget=spec.memory_budget)


def run_trial(spec: SweepSpec, cell: Cell, trial: int) -> TrialResult:
    """One trial, unbatched, with full records: the reference the batched runners
    (:mod:`shallowres.sweep_batches`) are tested against. ``iterate`` and
    ``Monitor`` (with the spec's stalled rule), one BLAS thread."""
    seed, problem = trial_problem(spec, cell, trial)
    with one_blas_thread():
        W0 = initial_point(problem, cell.init, spec.delta)
        it = iterate(problem, cell.alg, W0, eta=spec.eta, resample=spec.resample, am_solver=spec.am_solver,
                     memory_budget=spec.memory_budget)
        monitor = Monitor(cell.alg, spec.iters(cell.alg), spec.tol, spec.resample,
                          stall_window=spec.stall_window(cell.alg))
        for rec in it:
            reason = monitor(rec)
            if reason is not None:
                break
    return TrialResult(cell, trial, seed, rec.rel_err, rec.t, rec.seconds, reason,
                       bool(rec.rel_err < spec.threshold))


@dataclass(frozen=True)
class Row(Cell):
    """One line of the table: a cell and its statistics."""

    trials: int
    successes: int
    probability: float
    ci_low: float
    ci_high: float
    stalled: int
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
                        sum(r.stop_reason == "stalled" for r in rs),
                        float(np.median([r.n_iter for r in rs])),
                        float(np.median([r.rel_err for r in rs])),
                        float(np.median([r.seconds for r in rs]))))
    return tuple(rows)


@dataclass(frozen=True, eq=False)
class SweepResult:
    """A finished (or cancelled) sweep: its trials, its table and how it ran.

    ``lost``: trials whose worker died and that could not be run again (a
    process pool that broke twice, a Dask task its cluster gave up on); they are
    missing from ``trials`` and the rows, and ``cancelled`` is True.
    """

    spec: SweepSpec
    trials: tuple[TrialResult, ...]     # in task order
    rows: tuple[Row, ...]
    cancelled: bool
    seconds: float                      # wall time
    executor: str
    workers: int
    lost: int = 0
    retried: int = 0                    # batches run again after their worker died

    @property
    def done(self) -> int:
        return len(self.trials)

    @property
    def total(self) -> int:
        return self.spec.total

    @property
    def stalled(self) -> int:
        return sum(r.stop_reason == "stalled" for r in self.trials)

    def table(self, columns: Iterable[str] = COLUMNS) -> list[dict]:
        columns = tuple(columns)
        return [{c: getattr(r, c) for c in columns} for r in self.rows]

    def to_csv(self) -> str:
        """The table as CSV, full float precision."""
        return rows_to_csv(self.rows)

    def as_dict(self) -> dict:
        """JSON-ready: spec, rows, and how the sweep ran."""
        return dict(spec=self.spec.as_dict(), rows=self.table(), done=self.done, total=self.total,
                    cancelled=self.cancelled, seconds=self.seconds, executor=self.executor,
                    workers=self.workers, stalled=self.stalled, lost=self.lost, retried=self.retried)


def rows_to_csv(rows: Iterable[Row]) -> str:
    """Rows as CSV (header COLUMNS), full float precision; :func:`rows_from_csv` reads it back."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(r.as_dict() for r in rows)
    return buf.getvalue()


Progress = Callable[[int, int, TrialResult], "bool | None"]


def run_sweep(spec: SweepSpec, executor: str | cf.Executor = "processes", *,
              workers: int | None = None, scheduler: str | None = None,
              progress: Progress | None = None, cancel: Callable[[], bool] | None = None) -> SweepResult:
    """Run every trial of ``spec`` and tabulate.

    ``executor``: "serial", "processes" (default, all cores), "dask" (``scheduler``
    = tcp://HOST:PORT, "local", or $DASK_SCHEDULER_ADDRESS), or any open
    ``concurrent.futures.Executor``. ``progress(done, total, trial)`` is called as
    each trial finishes (a batch's trials one after another when the batch ends);
    returning True cancels the sweep, as does ``cancel()`` returning True (polled:
    between GD steps and AM solves when serial, every half second otherwise).

    With "processes" (a ``spawn`` pool) a script must start the sweep under
    ``if __name__ == "__main__":``, as with any spawn-based pool; notebooks need nothing.

    Work goes out in batches (:func:`shallowres.sweep_batches.plan_batches`), at most
    one per worker in flight. Cancelling (progress returning True, or an exception
    such as KeyboardInterrupt in the caller) submits nothing more and waits for the
    batches already running, so nothing is left running when this returns or
    raises; the result holds the trials that finished. A process-pool worker that
    dies (killed, out of memory) breaks the pool: a pool opened here is reopened and
    the lost batches run again (once each); with a pool you passed, or if it breaks
    again, the finished trials are kept and the rest reported as ``lost``.
    """
    from .sweep_job import SweepJob

    if not isinstance(spec, SweepSpec):
        raise ValueError(f"spec must be a SweepSpec; got {type(spec).__name__}")
    spec.check_memory()
    job = SweepJob(spec)
    if isinstance(executor, str):
        kind = check("executor", executor)
        if kind == "serial":
            return job.run_inline(progress, cancel)
        return job.run_on(lambda: open_executor(kind, workers, scheduler), progress, kind, cancel)
    return job.run_on(executor, progress, type(executor).__name__, cancel)
