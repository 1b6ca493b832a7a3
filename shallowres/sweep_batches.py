"""A sweep's unit of work: a batch of trials of one cell group, advanced together.

A batch holds trials that share (d, gamma, noise, n) and the algorithm: every
initialization of a block of consecutive trials. GD batches run as one
:class:`shallowres.batched.GDBatch` (stacked arrays, one batched product per
step); AM batches run their trials one after another as lean
:class:`shallowres.batched.AMRun`. Each trial's numbers equal those of
:func:`shallowres.sweep.run_trial`, the unbatched reference, so neither the
batch size nor the executor changes the table.

:func:`plan_batches` fixes the batches from the spec alone; :class:`BatchRunner`
advances one in time slices (``advance(deadline, cancel)``, resumable) and
:func:`run_batch` runs one to the end: the function executors call.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from .batched import AMRun, Cancel, GDBatch
from .budget import SEC_PER_MAC_BLAS3, SEC_PER_MAC_THIN, am_path_seconds, choose_am_path, run_bytes, spectrum_bytes
from .executors import one_blas_thread
from .problem import initial_point, problem_bytes
from .sweep import Cell, SweepSpec, TrialResult, trial_problem

Task = tuple[Cell, int]             # (cell, trial)
Batch = tuple[Task, ...]

MAX_BATCH_RUNS = 16                 # runs advanced together (GD) or run back to back (AM)
BATCH_BYTES = 64 * 2**20            # a GD batch's stacked arrays, at most
BATCH_SECONDS = 5.0                 # modelled compute of a batch, at most (one run at least): how
                                    # long a cancelled sweep waits for the batches in flight
AM_STEPS_GUESS = 8                  # AM steps of a typical run (4-15 on the paper's grid)


def gd_run_bytes(n: int, d: int) -> int:
    """Memory one run takes in a GD batch: its slice of X and of the work array Z
    (n x d each), y and the residual (n each)."""
    return 8 * (2 * n * d + 2 * n)


def run_seconds(spec: SweepSpec, alg: str, n: int, d: int) -> float:
    """Modelled compute of one run on one core (budget.py's cost model): GD a third of
    its budget of steps, two n x d x d products each; AM AM_STEPS_GUESS solves."""
    if alg == "gd":
        return spec.gd_iters / 3 * SEC_PER_MAC_THIN * 2 * n * d * d
    path = choose_am_path(n, d, spec.memory_budget) if spec.am_solver == "auto" else spec.am_solver
    step = am_path_seconds(path, n, d) if path in ("cholesky", "cg") and n >= d * d else \
        SEC_PER_MAC_BLAS3 * (n * n * d * d + n**3 / 3) + 1e-3
    return AM_STEPS_GUESS * (step if math.isfinite(step) else SEC_PER_MAC_BLAS3 * d**6)


def plan_batches(spec: SweepSpec, max_runs: int = MAX_BATCH_RUNS, max_bytes: int = BATCH_BYTES,
                 max_seconds: float = BATCH_SECONDS) -> tuple[Batch, ...]:
    """The sweep's batches, in the order they run.

    Each cell group (d, gamma, noise, n, alg) is cut into blocks of consecutive
    trials, all initializations of a trial in the same batch, blocks of even size
    with at most ``max_runs`` runs, (GD) ``max_bytes`` of stacked arrays and
    ``max_seconds`` of modelled compute (:func:`run_seconds`) per batch, but one
    trial at least. Block-major order: the first block of every group, then the
    second, ... so a partial table covers the whole grid early. Depends on the spec
    and these bounds only; no number in the table depends on them.
    """
    inits = spec.inits
    groups: list[tuple[tuple, int]] = []        # (group key, trials per block)
    for c in spec.cells():
        key = (c.d, c.gamma, c.noise, c.n, c.alg)
        if groups and groups[-1][0] == key:
            continue
        cap = min(max_runs, int(max_seconds // max(run_seconds(spec, c.alg, c.n, c.d), 1e-9)))
        if c.alg == "gd":
            cap = min(cap, max_bytes // gd_run_bytes(c.n, c.d))
        per_block = max(1, cap // len(inits))
        blocks = math.ceil(spec.trials / per_block)
        groups.append((key, math.ceil(spec.trials / blocks)))
    batches: list[Batch] = []
    most = max(math.ceil(spec.trials / size) for _, size in groups)
    for b in range(most):
        for (d, gamma, noise, n, alg), size in groups:
            trials = range(b * size, min(spec.trials, (b + 1) * size))
            if len(trials):
                batches.append(tuple((Cell(d, gamma, noise, n, alg, init), k) for k in trials for init in inits))
    return tuple(batches)


class BatchRunner:
    """One batch, advanced in slices: ``advance(deadline, cancel)`` returns True once
    every trial has finished, False when time ran out or ``cancel()`` said so (call
    again to resume). ``results()`` gives the TrialResults in batch order.

    The problems are generated when the runner is made (one per trial, shared by
    its initializations); ``nbytes`` estimates what the runner holds.
    """

    def __init__(self, spec: SweepSpec, batch: Sequence[Task]):
        if not batch:
            raise ValueError("batch must hold at least one (cell, trial) task")
        self.spec, self.batch = spec, tuple(batch)
        first = self.batch[0][0]
        self.alg, self.n, self.d = first.alg, first.n, first.d
        problems, self.seeds = {}, {}
        for cell, k in self.batch:
            if k not in problems:
                self.seeds[k], problems[k] = trial_problem(spec, cell, k)
        W0s = [initial_point(problems[k], cell.init, spec.delta) for cell, k in self.batch]
        window = spec.stall_window(self.alg)
        if self.alg == "gd":
            self.runners = [GDBatch([problems[k] for _, k in self.batch], W0s, eta=spec.eta,
                                    iters=spec.gd_iters, tol=spec.tol, resample=spec.resample,
                                    stall_window=window)]
        else:
            self.runners = [AMRun(problems[k], W0, iters=spec.am_iters, tol=spec.tol, resample=spec.resample,
                                  stall_window=window, am_solver=spec.am_solver,
                                  memory_budget=spec.memory_budget)
                            for (_, k), W0 in zip(self.batch, W0s, strict=True)]
        self.nbytes = (gd_run_bytes(self.n, self.d) * len(self.batch) if self.alg == "gd"
                       else 8 * (self.n + 1) * (self.d + 1) * len(problems))

    @property
    def finished(self) -> bool:
        return all(r.finished for r in self.runners)

    def advance(self, deadline: float | None = None, cancel: Cancel | None = None) -> bool:
        with one_blas_thread():
            for r in self.runners:
                if not r.finished and not r.advance(deadline, cancel):
                    return False
        return True

    def results(self) -> tuple[TrialResult, ...]:
        if not self.finished:
            raise RuntimeError("the batch has not finished")
        lean = self.runners[0].results if self.alg == "gd" else [r.result for r in self.runners]
        return tuple(TrialResult(cell, k, self.seeds[k], r.rel_err, r.n_iter, r.seconds, r.stop_reason,
                                 bool(r.rel_err < self.spec.threshold))
                     for (cell, k), r in zip(self.batch, lean, strict=True))


def run_batch(spec: SweepSpec, batch: Sequence[Task]) -> tuple[TrialResult, ...]:
    """Run one batch to the end (what an executor's worker calls)."""
    runner = BatchRunner(spec, batch)
    runner.advance()
    return runner.results()


def batch_bytes(spec: SweepSpec, batch: Sequence[Task]) -> int:
    """Memory a batch needs at its peak (estimate, for admission): its problems (made
    before the GD stack, so counted twice for GD) plus, for GD, the stacked arrays and one
    theory-step spectrum at a time; for AM, one run's working set at a time."""
    cell = batch[0][0]
    n, d = cell.n, cell.d
    trials = len({k for _, k in batch})
    problems = trials * problem_bytes(n, d, 1)
    if cell.alg == "gd":
        return 2 * problems + gd_run_bytes(n, d) * len(batch) + spectrum_bytes(n, d)
    path = choose_am_path(n, d, spec.memory_budget) if spec.am_solver == "auto" else spec.am_solver
    return problems + run_bytes(n, d, "am", path, 0, False, spec.resample, 1)


def batch_cost(spec: SweepSpec, batch: Sequence[Task]) -> float:
    """A batch's modelled compute (:func:`run_seconds` per run), for progress estimates:
    only ratios of costs are used, so the model's scale does not matter."""
    cell = batch[0][0]
    return len(batch) * run_seconds(spec, cell.alg, cell.n, cell.d)


