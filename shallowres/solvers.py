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

from .baselines import BASELINES, DEFAULT_BATCH, check_alg, default_iters, make_step, monitor_for
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
GREW_FACTOR = 2.0     # a run "grew" when its last error is more than this times its best


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

    Rank-deficient B (sigma_min = 0: n < d^2, a dead neuron, a zero feature, ...): the
    formula would give 2/sigma_max^2, exactly the stability edge, where GD's error along the
    top singular vector flips sign every step and does not shrink (at d = 10, n = 80,
    gamma = 0.5 the loss hovered at 1.4e-6 after 1000 steps). No step contracts along B's
    null space, so (4) promises nothing there whatever eta is; GD takes eta = 1/sigma_max^2,
    the middle of the stable range (0, 2/sigma_max^2): 1 - eta sigma^2 is in [0, 1) for every
    nonzero singular value, so no direction oscillates, the loss falls monotonically for
    fixed masks, and sigma_max^2 may grow 2x along the run before the step is too long.
    (The choice 2/(sigma_+^2 + sigma_max^2) with sigma_+ the smallest nonzero singular value
    sits within 1/kappa_+ of the edge: it oscillated in the same case.)
    """
    lo, hi = extreme_singular_values(X, S, method=method, rtol=ETA_SIGMA_MIN_RTOL)
    if hi == 0:   # B = 0: the gradient vanishes whatever the step; GD stops at a fixed point
        return 1.0
    if lo == 0:   # B rank deficient: the middle of the stable range (docstring)
        return 1.0 / (hi * hi)
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
    alg, am_solver = check_alg(alg), check("am_solver", am_solver)
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
        self.alg = check_alg(alg)
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

    stalled (only with ``stall_window`` = w, off by default): after at least 2w
    iterations, the lowest relative error of the whole run has fallen by less than
    ``stall_drop`` (a fraction, default 1%) during the last w iterations:

        min_{s <= t} rel_err_s  >  (1 - stall_drop) * min_{s <= t - w} rel_err_s,   t >= 2w

    A run that has settled at a floor (AM with label noise oscillating at ~0.03,
    GD below n = d^2 converging to a wrong interpolant) stops there; a linearly
    converging run never does, since its best error falls by the same factor
    every window. The first w iterations are a grace period: AM's error often
    rises for a step or two before it falls (at d = 40, n = 1.3 d^2 one run rose
    from 0.41 to 0.45 and passed 0.41 only at t = 7, then converged at t = 49).
    ``STALL_WINDOW`` holds the windows sweeps use (GD 100, AM 5 iterations): on
    the paper's grid every successful run's best error fell by at least 9% (GD)
    and 28% (AM) in every such window, against the 1% asked.
    Checks run in the order diverged, converged, fixed_point, stalled, max_iters.
    """

    STALL_WINDOW = {"gd": 100, "am": 5}
    STALL_DROP = 0.01

    def __init__(self, alg: str, iters: int, tol: float, resample: bool = False, *,
                 stall_window: int | None = None, stall_drop: float = STALL_DROP):
        self.alg, self.iters, self.tol, self.resample = alg, iters, tol, resample
        if stall_window is not None and (isinstance(stall_window, bool) or not isinstance(stall_window, int)
                                         or stall_window < 1):
            raise ValueError(f"stall_window must be an integer >= 1 or None; got {stall_window!r}")
        if not 0 < stall_drop < 1:
            raise ValueError(f"stall_drop must be a float in (0, 1); got {stall_drop!r}")
        self.stall_window, self.stall_drop = stall_window, stall_drop
        self.err0: float | None = None
        self.prev: IterRecord | None = None
        self.best = math.inf                      # lowest rel_err so far, and at which t
        self.best_t = 0
        self._bests: list[float] = []     # best-so-far at t - w, ..., t (w + 1 values at most)
        self._recent: list[float] = []    # rel_err at t - w, ..., t
        self._seen = 0                    # records checked

    def __call__(self, rec: IterRecord) -> str | None:
        prev, self.prev = self.prev, rec
        self._seen += 1
        if self.err0 is None:
            self.err0 = rec.err
        if rec.rel_err < self.best:
            self.best, self.best_t = rec.rel_err, rec.t
        if self.stall_window is not None:
            for kept, value in ((self._bests, self.best), (self._recent, rec.rel_err)):
                kept.append(value)
                if len(kept) > self.stall_window + 1:
                    del kept[0]
        if not math.isfinite(rec.err) or not math.isfinite(rec.train_loss):
            return "diverged"
        if rec.err > DIVERGENCE_FACTOR * max(self.err0, 1e-300) and rec.t > 0:
            return "diverged"
        if rec.rel_err < self.tol:
            return "converged"
        if not self.resample and prev is not None and rec.flips_prev == 0 and (
                self.alg == "am" or (rec.err == prev.err and rec.train_loss == prev.train_loss)):
            return "fixed_point"
        if (self.stall_window is not None and self._seen > 2 * self.stall_window
                and self.best > (1 - self.stall_drop) * self._bests[0]):
            return "stalled"
        if rec.t >= self.iters:
            return "max_iters"
        return None

    def message(self, reason: str, rec: IterRecord) -> str:
        """One sentence a student understands."""
        name = {"gd": "Gradient descent", "am": "Alternating minimization"}[self.alg]
        if reason in ("stalled", "max_iters") and self.grew(rec):
            return self._grew_message(name, reason, rec)
        if reason == "diverged" and rec.t == 0:
            return (f"{name} cannot start: the error or the loss at W⁰ is not a finite number, so the inputs "
                    "overflow in floating point (check the scale of W_star, v_star and X).")
        if reason == "converged":
            return (f"{name} converged: the relative error ‖W − W*‖_F / ‖W* + I‖_F fell "
                    f"below {self.tol:g} after {rec.t} iterations ({rec.rel_err:.2e}).")
        if reason == "fixed_point":
            why = ("no ReLU changed state, so the next least-squares solve would repeat the last one"
                   if self.alg == "am" else "the gradient is zero (W did not move), so every further "
                   "step would repeat the last")
            return (f"{name} reached a fixed point after {rec.t} iterations: {why} "
                    f"(relative error {rec.rel_err:.2e}).")
        if reason == "stalled":
            w = self.stall_window
            lo, hi = min(self._recent), max(self._recent)
            floor = f"{lo:.2e}" if f"{lo:.2e}" == f"{hi:.2e}" else f"between {lo:.2e} and {hi:.2e}"
            return (f"{name} stalled after {rec.t} iterations: over the last {w} iterations the relative "
                    f"error stayed {floor} and its best value, {self.best:.2e} (iteration {self.best_t}), "
                    f"improved by less than {self.stall_drop:.0%}. It has settled at this floor, above "
                    f"the tolerance {self.tol:g}; more iterations are unlikely to help.")
        if reason == "max_iters":
            return (f"{name} used all {rec.t} iterations before the relative error fell "
                    f"below {self.tol:g} (it is {rec.rel_err:.2e}).")
        if reason == "diverged":
            why = ("became infinite or NaN" if not math.isfinite(rec.err) else
                   f"grew more than {DIVERGENCE_FACTOR:.0e}-fold")
            hint = (" The step size η is too large for this problem." if self.alg == "gd"
                    and not rec.rel_err < 1 else "")
            return f"{name} diverged at iteration {rec.t}: the error {why}.{hint}"
        return f"{name} was stopped by the user after {rec.t} iterations (relative error {rec.rel_err:.2e})."

    # ----- a run whose error grew: say so, and where the best iterate was --------------

    def grew(self, rec: IterRecord) -> bool:
        """The relative error at ``rec`` is more than GREW_FACTOR times the lowest seen so far."""
        best = min(self.best, rec.rel_err)   # self.best is kept by __call__ (rec included)
        return math.isfinite(rec.rel_err) and rec.rel_err > GREW_FACTOR * best

    def _grew_message(self, name: str, reason: str, rec: IterRecord) -> str:
        start = " (the start)" if self.best_t == 0 else ""
        how = (f"stopped after {rec.t} iterations (no progress over the last {self.stall_window})"
               if reason == "stalled" else f"used all {rec.t} iterations")
        return (f"{name} {how}, and its error grew: the relative error is {rec.rel_err:.2e}, "
                f"{rec.rel_err / self.best:.3g} times its lowest value {self.best:.2e} at iteration "
                f"{self.best_t}{start}. That best iterate is returned too (W_best, best_t).")


HISTORY_FIELDS = ("t", "err", "rel_err", "train_loss", "test_loss", "flips_teacher",
                  "flips_prev", "rho3", "seconds", "inner_iters")


@dataclass(frozen=True, eq=False)
class RunResult:
    """A finished run: history arrays, final W, n_iter, config and stop_reason.

    ``W_best`` is the iterate of lowest relative error (at iteration ``best_t``): the
    same as ``W`` unless the error rose at the end (the message then says so).
    """

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
    best_t: int = 0
    W_best: np.ndarray | None = None

    @property
    def rel_err(self) -> float:
        return float(self.history["rel_err"][-1])

    @property
    def best_rel_err(self) -> float:
        """The lowest relative error of the run (at iteration ``best_t``)."""
        return float(self.history["rel_err"][self.best_t])

    def summary(self) -> dict:
        return dict(alg=self.alg, stop_reason=self.stop_reason, n_iter=self.n_iter,
                    rel_err=self.rel_err, seconds=self.seconds, message=self.message,
                    best_t=self.best_t, best_rel_err=self.best_rel_err)


def collect(alg: str, records: list[IterRecord], W: np.ndarray, reason: str,
            message: str, config: dict, best_t: int | None = None,
            W_best: np.ndarray | None = None) -> RunResult:
    """Bundle records into a RunResult (history arrays, one per field)."""
    hist = {f: np.array([getattr(r, f) for r in records]) for f in HISTORY_FIELDS}
    flips = np.array([r.flips_teacher_per_neuron for r in records])
    if best_t is None:
        best_t = int(np.argmin(np.where(np.isfinite(hist["rel_err"]), hist["rel_err"], np.inf)))
    return RunResult(alg, hist, flips, W, records[-1].t, reason, message,
                     records[-1].seconds, config, tuple(records), best_t,
                     W if W_best is None else W_best)


def run(problem: Problem, alg: str = "gd", W0=None, *, init: str = "identity",
        delta: float = 0.8, eta="theory", resample: bool = False, iters: int | None = None,
        tol: float = DEFAULT_TOL, keep_W: bool = False, am_solver: str = "auto",
        memory_budget: int = GB, stall_window: int | str | None = "auto",
        callback: Callable[[IterRecord], bool | None] | None = None, am_inner: int | None = None,
        batch_size: int = DEFAULT_BATCH, lr_decay: float = 0.0) -> RunResult:
    """Run GD or AM (or a baseline: ``alg`` "sgd" / "adam", ``am_inner``; see
    :mod:`shallowres.baselines`) until converged, fixed point, stalled, diverged or ``iters`` steps.

    ``stall_window``: the "stalled" stop of :class:`Monitor` (no 1% progress of the best
    error over a window of w iterations, from t = 2w): "auto" uses ``Monitor.STALL_WINDOW``
    (GD 100, AM 5), None turns it off. The result keeps the best iterate too (``W_best``,
    ``best_t``); when the error ended more than ``GREW_FACTOR`` times above its best, the
    message says so. ``callback(record)`` sees every record; returning True stops the run
    (stop_reason "stopped").

    Raises ValueError for a bad parameter (also when ``resample`` needs more fresh rows
    than a user's X holds), MemoryBudgetError past ``memory_budget``.
    """
    alg = check_alg(alg)
    inexact = alg == "am" and am_inner is not None
    iters = check("iters", default_iters(alg, am_inner) if iters is None else iters)
    tol = check("tol", tol)
    if stall_window == "auto":
        stall_window = Monitor.STALL_WINDOW["am" if alg == "am" and not inexact else "gd"]
    path = plan_run(problem.n, problem.d, alg, iters=iters, keep_W=keep_W, resample=resample,
                    am_solver=am_solver, memory_budget=memory_budget, am_inner=am_inner)
    if resample:
        problem.check_batches(iters)
    stepper = Stepper(problem, alg, W0, init=init, delta=delta, eta=eta, resample=resample,
                      keep_W=True, am_solver=am_solver, memory_budget=memory_budget, am_inner=am_inner,
                      batch_size=batch_size, lr_decay=lr_decay)
    monitor = monitor_for(alg, iters, tol, resample, am_inner, stall_window=stall_window)
    records: list[IterRecord] = []
    W_last = W_best = None
    for rec in _records(stepper):
        W_last = rec.W
        records.append(rec if keep_W else _without_W(rec))
        wants_stop = callback is not None and callback(rec)
        reason = monitor(rec) or ("stopped" if wants_stop else None)
        if monitor.best_t == rec.t:
            W_best = rec.W
        if reason is not None:
            break
    config = dict(problem.config, alg=alg, init=init if W0 is None else "given", delta=delta,
                  eta=eta, resample=resample, iters=iters, tol=tol, am_solver=path)
    if inexact:
        config["am_inner"] = am_inner
    elif alg in BASELINES:
        config.update(batch_size=batch_size, lr_decay=lr_decay)
    message = monitor.message(reason, rec)
    if alg == "gd" and reason == "fixed_point":
        message = _gd_stuck_message(stepper, rec) or message
    return collect(alg, records, W_last, reason, message, config, monitor.best_t, W_best)


def _gd_stuck_message(stepper: Stepper, rec: IterRecord) -> str | None:
    """When GD's W stopped changing although the gradient is not zero, the step was too
    small to move W in floating point: say that instead of "the gradient is zero"."""
    p = stepper.problem
    grad = B_rmatvec(stepper._batch.X, stepper._M, stepper._r) * p.v_star / p.n
    g = float(np.linalg.norm(grad))
    if not g > 0 or stepper.eta is None:
        return None
    steps = f"{rec.t} iteration{'s' if rec.t != 1 else ''}"
    return (f"Gradient descent stopped after {steps}: W no longer changes in floating point although "
            f"the gradient is not zero (‖∇L‖_F = {g:.2e}). The step η = {stepper.eta:.3g} is too small: "
            f"η ‖∇L‖_F = {stepper.eta * g:.2e} is below the rounding of W (‖W + I‖_F = "
            f"{float(np.linalg.norm(stepper.W + np.eye(p.d))):.3g}). Use a larger η, e.g. 'theory' "
            f"(relative error {rec.rel_err:.2e}).")


def _without_W(rec: IterRecord) -> IterRecord:
    return replace(rec, W=None)
