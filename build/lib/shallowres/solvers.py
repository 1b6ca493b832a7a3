"""GD, eq. (1), and AM, eqs. (2)-(3), as iterators of per-iteration records.
(Table I's baselines, SGD and Adam, and inexact AM take their steps from ``baselines``.)

    GD: vec(W^{t+1}) = vec(W^t) + (eta/n) B^{tT} (y - B^t vec(W^t + I))          (1)
    AM: B^t from the masks at W^t                                                (2)
        vec(W^{t+1}) = argmin_W || B^t vec(W + I) - y ||                         (3)

``iterate`` yields an :class:`IterRecord` for t = 0 (the initial point), 1, 2, ...
lazily: the step to t + 1 is taken only when the next record is asked for.
``run`` collects records into a :class:`RunResult` with a ``stop_reason``.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from .baselines import BASELINES, DEFAULT_BATCH, default_iters, make_step, monitor_for
from .budget import choose_am_path, run_bytes
from .interrupt import Cancelled, cancellable, checkpoint
from .linear import B_rmatvec, signed_masks
from .lsq import SolveInfo, solve_am_step
from .problem import Problem, initial_point
from .spectrum import extreme_singular_values
from .threads import blas_limit
from .validation import GB, check, check_memory

DEFAULT_ITERS = {"gd": 3000, "am": 50, "sgd": 1000, "adam": 1000}   # SGD, Adam: epochs
DEFAULT_TOL = 1e-8
DIVERGENCE_FACTOR = 1e6


@dataclass(frozen=True, eq=False)
class IterRecord:
    """What one iterate W^t looks like, measured on the batch used at step t.

    flips_teacher: pairs (i, q) with 1{x_i . u^t_q > 0} != 1{x_i . u*_q > 0};
    flips_prev: pairs whose state changed since W^{t-1} (0 at t = 0);
    rho3: sum_q ||E_q|| / ||W^t - W*||_F, E_q = v_q (P^t_q - P*_q) X u*_q / sqrt(n)
    (Lemma 2; 0 when W^t = W*).
    """

    t: int
    err: float
    rel_err: float
    train_loss: float
    test_loss: float
    flips_teacher: int
    flips_teacher_per_neuron: np.ndarray
    flips_prev: int
    rho3: float
    seconds: float
    inner_iters: int = 0
    solver: str = ""
    underdetermined: bool = False
    W: np.ndarray | None = None


def parse_eta(eta) -> tuple[str, float]:
    """eta = "theory", "Kx" (K times the theory step) or a positive number."""
    if isinstance(eta, str):
        s = eta.strip().lower()
        if s == "theory":
            return "theory", 1.0
        if s.endswith("x"):
            try:
                k = float(s[:-1])
            except ValueError:
                k = float("nan")
            return "theory", check("eta_scale", k)
        try:
            eta = float(s)
        except ValueError:
            raise ValueError(
                f"eta must be 'theory', a multiple like '0.5x', or a float in (0, 10^12]; got {eta!r}"
            ) from None
    return "fixed", check("eta", eta)


ETA_SIGMA_MIN_RTOL = 0.05   # eta's relative sensitivity to sigma_min^2 is 1/(kappa + 1) <= 1/d


def theory_eta(X: np.ndarray, S: np.ndarray, method: str = "auto") -> float:
    """eta = 2 / (sigma_min^2 + sigma_max^2) of B/sqrt(n) (the proof of eq. (4)).

    ``method`` as in :func:`~shallowres.spectrum.extreme_singular_values`: exact with
    the dense spectrum; matrix-free, sigma_min^2 is taken to 5%, which moves eta by
    at most 0.05/(kappa + 1) (kappa > d here), and sigma_max exactly.
    """
    lo, hi = extreme_singular_values(X, S, method=method, rtol=ETA_SIGMA_MIN_RTOL)
    if hi == 0:   # B = 0: the gradient vanishes whatever the step; GD stops at a fixed point
        return 1.0
    return 2.0 / (lo * lo + hi * hi)


class _Batch:
    """One batch's data and teacher quantities, computed once per batch."""

    def __init__(self, problem: Problem, t: int, resample: bool):
        self.X, self.y = problem.batch(t, resample)
        Z_star = self.X @ problem.U_star
        self.M_star = Z_star > 0
        self.Z_star2 = np.square(Z_star, out=Z_star)   # (x_i . u*_q)^2, for rho_3


def plan_run(n: int, d: int, alg: str, *, iters: int = 0, keep_W: bool = False,
             resample: bool = False, am_solver: str = "auto", memory_budget: int = GB,
             am_inner: int | None = None) -> str | None:
    """Check that a run fits the memory budget before anything is allocated.

    Returns AM's solver path (None for GD, SGD and Adam; "inexact" with ``am_inner``);
    raises MemoryBudgetError with a message naming the configuration, or ValueError
    for a bad parameter.
    """
    alg, am_solver = check("alg", alg), check("am_solver", am_solver)
    memory_budget = check("memory_budget", memory_budget)
    path = None
    if alg == "am" and am_inner is not None:
        path = "inexact"
    elif alg == "am":
        path = choose_am_path(n, d, memory_budget) if am_solver == "auto" else am_solver
    what = (f"{iters} iterations of " if iters else "") + f"{alg.upper()} with n = {n}, d = {d}"
    what += (f" ({path} solver)" if path else "") + (" keeping every W^t" if keep_W else "")
    check_memory(run_bytes(n, d, alg, path, iters, keep_W, resample), memory_budget, what)
    return path


def iterate(problem: Problem, alg: str = "gd", W0: np.ndarray | None = None, *,
            init: str = "identity", delta: float = 0.8, eta="theory",
            resample: bool = False, keep_W: bool = False, am_solver: str = "auto",
            memory_budget: int = GB, am_inner: int | None = None, batch_size: int = DEFAULT_BATCH,
            lr_decay: float = 0.0) -> Iterator[IterRecord]:
    """Yield records for t = 0, 1, 2, ... of GD (eq. 1) or AM (eqs. 2-3) (or a baseline:
    ``alg`` "sgd" / "adam", ``am_inner``; see :mod:`shallowres.baselines`). Endless:
    stop by leaving the loop, or use :func:`run`. A thin loop over :class:`Stepper`."""
    stepper = Stepper(problem, alg, W0, init=init, delta=delta, eta=eta, resample=resample,
                      keep_W=keep_W, am_solver=am_solver, memory_budget=memory_budget, am_inner=am_inner,
                      batch_size=batch_size, lr_decay=lr_decay)
    return _records(stepper)


def _records(stepper: Stepper) -> Iterator[IterRecord]:
    yield stepper.record
    while math.isfinite(stepper.record.err):
        yield stepper.step()


# eta's dense spectrum stays below ~0.3 s (d <= 40), so a stop is heard during it too;
# above, the matrix-free sigma_min^2 to 5% moves eta by at most 0.05/(kappa + 1) < 0.05/d.
ETA_DENSE_MAX_COLS = 1600


class Stepper:
    """One GD (eq. 1) or AM (eqs. 2-3) run, one iteration at a time.

    ``record`` describes the current iterate W^t; ``step(cancel)`` moves to
    W^{t+1} and returns its record. A step cut short by ``cancel`` (checked between
    CG/LSQR/LOBPCG iterations and row chunks of B^T B) raises
    :class:`~shallowres.interrupt.Cancelled` and leaves the stepper at W^t, so it can
    be stepped again later. ``W0``, ``t0``, ``eta`` (GD's step, once known) and
    ``seconds0`` (compute time so far) restart a run from a saved iterate: the same
    numbers as the uninterrupted run, bit for bit for GD (AM's cached B^T B is
    rebuilt, so its iterates agree to rounding).

    The baselines (``alg`` "sgd" or "adam": one record per epoch of mini-batches of
    ``batch_size``, step eta / (1 + lr_decay t); ``alg`` "am" with ``am_inner`` = K: K CG
    iterations per step) take their steps from :func:`shallowres.baselines.make_step`.

    Raises ValueError (MemoryBudgetError) for a bad parameter or a run past the budget.
    """

    def __init__(self, problem: Problem, alg: str = "gd", W0: np.ndarray | None = None, *,
                 init: str = "identity", delta: float = 0.8, eta="theory", resample: bool = False,
                 keep_W: bool = False, am_solver: str = "auto", memory_budget: int = GB, t0: int = 0,
                 seconds0: float = 0.0, am_inner: int | None = None, batch_size: int = DEFAULT_BATCH,
                 lr_decay: float = 0.0):
        init, delta = check("init", init), check("delta", delta)
        self.path = plan_run(problem.n, problem.d, alg, resample=resample, am_solver=am_solver,
                             memory_budget=memory_budget, am_inner=am_inner)
        self.alg = check("alg", alg)
        self._baseline = make_step(self.alg, problem, eta=eta, batch_size=batch_size, lr_decay=lr_decay,
                                   am_inner=am_inner)
        kind, value = parse_eta(eta) if self.alg == "gd" else ("fixed", 1.0)
        self.eta_kind, self.eta_value = kind, value
        self.eta: float | None = value if kind == "fixed" and self.alg == "gd" else None
        d = problem.d
        if W0 is None:
            W0 = initial_point(problem, init, delta)
        W = np.array(W0, dtype=float)
        if W.shape != (d, d) or not np.all(np.isfinite(W)):
            raise ValueError(f"W0 must be a finite {d} x {d} array; got shape {W.shape}")
        self.problem, self.resample, self.keep_W = problem, resample, keep_W
        self.W, self.t, self.elapsed = W, int(t0), float(seconds0)
        self._I = np.eye(d)
        self._cache: dict = {}          # the Cholesky path's B^T B, updated from step to step
        self._info = SolveInfo("", 0, False, False)
        self._M_prev = None
        start = time.perf_counter()
        with self._limit():
            self._batch = _Batch(problem, self.t, resample)
        self.record = self._measure(start)

    def _limit(self):
        return blas_limit(self.problem.n, self.problem.d)

    def step(self, cancel: Callable[[], bool] | None = None) -> IterRecord:
        """Move to W^{t+1} (eq. 1 or eqs. 2-3) and return its record.

        Raises Cancelled (the stepper stays at W^t) when ``cancel()`` turns true
        midway, and ValueError once the error is no longer finite (nothing to step from).
        """
        if not math.isfinite(self.record.err):
            raise ValueError("the run diverged: there is no finite iterate to step from")
        start = time.perf_counter()
        try:
            with cancellable(cancel), np.errstate(over="ignore", invalid="ignore"), self._limit():
                checkpoint()
                S = signed_masks(self._M, self.problem.v_star)
                if self._baseline is not None:
                    W, info = self._baseline(self.W, self._batch.X, self._batch.y, S, self.t)
                    self.eta = self._baseline.eta
                elif self.alg == "gd":
                    if self.eta is None:
                        method = "dense" if min(self.problem.n, self.problem.d ** 2) <= ETA_DENSE_MAX_COLS \
                            else "matrix_free"
                        self.eta = self.eta_value * theory_eta(self._batch.X, S, method)
                    # eq. (1); B^T r = X^T (S * r) with S = M diag(v), so the v scaling
                    # is applied to the d x d result instead of an n x d array
                    W = self.W + (self.eta / self.problem.n) * (B_rmatvec(self._batch.X, self._M, self._r)
                                                               * self.problem.v_star)
                    info = self._info
                else:
                    W, info = solve_am_step(self.path, self._batch.X, S, self._batch.y, self.W,
                                            self._cache)   # eq. (3)
        except Cancelled:
            self.elapsed += time.perf_counter() - start
            raise
        start2 = time.perf_counter()
        self.elapsed += start2 - start
        self.W, self._info, self.t = W, info, self.t + 1
        if self.resample:
            with self._limit():
                self._batch = _Batch(self.problem, self.t, True)
                self._M_prev = self._batch.X @ self._U > 0     # W^t's masks on the new batch
        else:
            self._M_prev = self._M
        self.record = self._measure(start2)
        return self.record

    def _measure(self, start: float) -> IterRecord:
        """The record of W^t on the current batch; keeps its masks and residual for the next step."""
        p, b, n = self.problem, self._batch, self.problem.n
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"), self._limit():
            U = self.W + self._I
            Z = b.X @ U                                     # the one n x d x d product
            M = Z > 0
            r = b.y - np.maximum(Z, 0.0, out=Z) @ p.v_star  # y - B^t vec(W^t + I)
            del Z
            mismatch = M != b.M_star
            per_neuron = np.count_nonzero(mismatch, axis=0)
            err = float(np.linalg.norm(self.W - p.W_star))
            E = np.sqrt(np.einsum("iq,iq->q", b.Z_star2, mismatch) / n)
            test_r = p.y_test - np.maximum(p.X_test @ U, 0.0) @ p.v_star
            self.elapsed += time.perf_counter() - start
            rec = IterRecord(
                t=self.t, err=err, rel_err=err / p.scale,
                train_loss=float(r @ r) / (2 * n),
                test_loss=float(test_r @ test_r) / (2 * len(test_r)),
                flips_teacher=int(per_neuron.sum()),
                flips_teacher_per_neuron=per_neuron,
                flips_prev=0 if self._M_prev is None else int(np.count_nonzero(M != self._M_prev)),
                rho3=float(E.sum() / err) if err > 0 else 0.0,
                seconds=self.elapsed,
                inner_iters=self._info.inner_iters, solver=self._info.solver,
                underdetermined=self._info.underdetermined,
                W=self.W.copy() if self.keep_W else None,
            )
        self._U, self._M, self._r = U, M, r
        return rec


def gd(problem: Problem, W0=None, **kw) -> Iterator[IterRecord]:
    """Gradient descent, eq. (1): records for t = 0, 1, ... (see :func:`iterate`)."""
    return iterate(problem, "gd", W0, **kw)


def am(problem: Problem, W0=None, **kw) -> Iterator[IterRecord]:
    """Alternating minimization, eqs. (2)-(3): records for t = 0, 1, ..."""
    return iterate(problem, "am", W0, **kw)


class Monitor:
    """Decides, record by record, whether a run should stop, and says why.

    converged: rel_err < tol; fixed_point: on a fixed batch, AM's activation
    pattern did not change (the next solve would repeat the last), or GD did not
    move (a zero gradient, e.g. no ReLU active); diverged: non-finite error or
    error grown DIVERGENCE_FACTOR-fold; max_iters.
    """

    def __init__(self, alg: str, iters: int, tol: float, resample: bool = False):
        self.alg, self.iters, self.tol, self.resample = alg, iters, tol, resample
        self.err0: float | None = None
        self.prev: IterRecord | None = None

    def __call__(self, rec: IterRecord) -> str | None:
        prev, self.prev = self.prev, rec
        if self.err0 is None:
            self.err0 = rec.err
        if not math.isfinite(rec.err) or not math.isfinite(rec.train_loss):
            return "diverged"
        if rec.err > DIVERGENCE_FACTOR * max(self.err0, 1e-300) and rec.t > 0:
            return "diverged"
        if rec.rel_err < self.tol:
            return "converged"
        if not self.resample and prev is not None and rec.flips_prev == 0 and (
                self.alg == "am" or (rec.err == prev.err and rec.train_loss == prev.train_loss)):
            return "fixed_point"
        if rec.t >= self.iters:
            return "max_iters"
        return None

    def message(self, reason: str, rec: IterRecord) -> str:
        """One sentence a student understands."""
        name = {"gd": "Gradient descent", "am": "Alternating minimization"}[self.alg]
        if reason == "converged":
            return (f"{name} converged: the relative error ||W - W*||_F / ||W* + I||_F fell "
                    f"below {self.tol:g} after {rec.t} iterations ({rec.rel_err:.2e}).")
        if reason == "fixed_point":
            why = ("no ReLU changed state, so the next least-squares solve would repeat the last one"
                   if self.alg == "am" else "the gradient is zero (W did not move), so every further "
                   "step would repeat the last")
            return (f"{name} reached a fixed point after {rec.t} iterations: {why} "
                    f"(relative error {rec.rel_err:.2e}).")
        if reason == "max_iters":
            return (f"{name} used all {rec.t} iterations before the relative error fell "
                    f"below {self.tol:g} (it is {rec.rel_err:.2e}).")
        if reason == "diverged":
            why = ("became infinite or NaN" if not math.isfinite(rec.err) else
                   f"grew more than {DIVERGENCE_FACTOR:.0e}-fold")
            hint = " The step size eta is too large for this problem." if self.alg == "gd" else ""
            return f"{name} diverged at iteration {rec.t}: the error {why}.{hint}"
        return f"{name} was stopped by the user after {rec.t} iterations (relative error {rec.rel_err:.2e})."


HISTORY_FIELDS = ("t", "err", "rel_err", "train_loss", "test_loss", "flips_teacher",
                  "flips_prev", "rho3", "seconds", "inner_iters")


@dataclass(frozen=True, eq=False)
class RunResult:
    """A finished run: history arrays, final W, n_iter, config and stop_reason."""

    alg: str
    history: dict[str, np.ndarray]
    flips_per_neuron: np.ndarray        # (n_iter + 1, d)
    W: np.ndarray
    n_iter: int
    stop_reason: str
    message: str
    seconds: float
    config: dict
    records: tuple[IterRecord, ...]

    @property
    def rel_err(self) -> float:
        return float(self.history["rel_err"][-1])

    def summary(self) -> dict:
        return dict(alg=self.alg, stop_reason=self.stop_reason, n_iter=self.n_iter,
                    rel_err=self.rel_err, seconds=self.seconds, message=self.message)


def collect(alg: str, records: list[IterRecord], W: np.ndarray, reason: str,
            message: str, config: dict) -> RunResult:
    """Bundle records into a RunResult (history arrays, one per field)."""
    hist = {f: np.array([getattr(r, f) for r in records]) for f in HISTORY_FIELDS}
    flips = np.array([r.flips_teacher_per_neuron for r in records])
    return RunResult(alg, hist, flips, W, records[-1].t, reason, message,
                     records[-1].seconds, config, tuple(records))


def run(problem: Problem, alg: str = "gd", W0=None, *, init: str = "identity",
        delta: float = 0.8, eta="theory", resample: bool = False, iters: int | None = None,
        tol: float = DEFAULT_TOL, keep_W: bool = False, am_solver: str = "auto",
        memory_budget: int = GB,
        callback: Callable[[IterRecord], bool | None] | None = None, am_inner: int | None = None,
        batch_size: int = DEFAULT_BATCH, lr_decay: float = 0.0) -> RunResult:
    """Run GD or AM (or a baseline: ``alg`` "sgd" / "adam", ``am_inner``; see
    :mod:`shallowres.baselines`) until converged, fixed point, diverged or ``iters`` steps.

    ``callback(record)`` sees every record; returning True stops the run
    (stop_reason "stopped").
    """
    alg = check("alg", alg)
    inexact = alg == "am" and am_inner is not None
    iters = check("iters", default_iters(alg, am_inner) if iters is None else iters)
    tol = check("tol", tol)
    path = plan_run(problem.n, problem.d, alg, iters=iters, keep_W=keep_W, resample=resample,
                    am_solver=am_solver, memory_budget=memory_budget, am_inner=am_inner)
    it = iterate(problem, alg, W0, init=init, delta=delta, eta=eta, resample=resample,
                 keep_W=True, am_solver=am_solver, memory_budget=memory_budget, am_inner=am_inner,
                 batch_size=batch_size, lr_decay=lr_decay)
    monitor = monitor_for(alg, iters, tol, resample, am_inner)
    records: list[IterRecord] = []
    W_last = None
    for rec in it:
        W_last = rec.W
        records.append(rec if keep_W else _without_W(rec))
        wants_stop = callback is not None and callback(rec)
        reason = monitor(rec) or ("stopped" if wants_stop else None)
        if reason is not None:
            break
    config = dict(problem.config, alg=alg, init=init if W0 is None else "given", delta=delta,
                  eta=eta, resample=resample, iters=iters, tol=tol, am_solver=path)
    if inexact:
        config["am_inner"] = am_inner
    elif alg in BASELINES:
        config.update(batch_size=batch_size, lr_decay=lr_decay)
    return collect(alg, records, W_last, reason, monitor.message(reason, rec), config)


def _without_W(rec: IterRecord) -> IterRecord:
    return replace(rec, W=None)
