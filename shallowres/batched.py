"""Lean, batched iteration for sweeps: many trials advanced together, computing only
what a sweep's table needs.

A sweep judges a run by its final relative error ||W_T - W*||_F / ||W* + I||_F and
stops it by the rules of :class:`shallowres.solvers.Monitor` (converged, fixed
point, diverged, stalled, budget). Those rules read four numbers per iteration:
the error, the training loss, the relative error and, for the fixed-point rule,
the number of ReLUs that changed state. :func:`shallowres.solvers.iterate` also
computes the test loss, the flips against the teacher per neuron and rho_3 for
every record, which a sweep never reads; the runners here skip them.

- :class:`GDBatch`: T gradient-descent runs on problems of one size (n, d),
  stacked as (T, n, d) arrays, advanced in lockstep, eq. (1):

      vec(W^{t+1}) = vec(W^t) + (eta/n) B^{tT} (y - B^t vec(W^t + I))

  one batched product Z = X U per step gives the masks, the forward pass and the
  residual; one batched X^T (M * r) gives every gradient. A run leaves the batch
  when a rule stops it; the arrays are compacted so finished runs cost nothing.
  The arithmetic is that of ``iterate`` in the same order (NumPy's stacked matmul
  calls the same BLAS kernel per slice), so a batched run's iterates equal the
  unbatched ones bit for bit on one machine.
- :class:`AMRun`: one alternating-minimization run, eqs. (2)-(3), with the same
  lean records. AM's steps are not stacked: each is a least-squares solve whose
  cost (assembling and factoring B^T B, or CG) is BLAS-3 or matrix-free work per
  trial that batching would not shorten; only the per-iteration records are saved.

Both have ``advance(deadline, cancel)``: run until finished, a ``time.perf_counter``
deadline or ``cancel()`` returns True, then return; calling it again resumes, so a
sweep can be driven in time slices (the dashboard, a scheduler) without losing work.
"""
from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .interrupt import Cancelled
from .lsq import solve_am_step
from .problem import Problem
from .solvers import DIVERGENCE_FACTOR, Monitor, parse_eta, plan_run, theory_eta

# Stop-reason codes of StopRules (0: go on).
REASONS = (None, "diverged", "converged", "fixed_point", "stalled", "max_iters")
_DIVERGED, _CONVERGED, _FIXED, _STALLED, _MAX = range(1, 6)


class StopRules:
    """The rules of :class:`shallowres.solvers.Monitor`, vectorized over a batch of runs
    that advance in lockstep (iteration t is the same for all).

    ``check(t, err, train_loss, rel_err, flips_prev)`` takes one value per run
    (arrays of length ``size``) and returns an int array of codes into
    :data:`REASONS` (0: go on). ``flips_prev`` is only read where the fixed-point
    rule can apply; pass -1 where it was not computed. ``keep(mask)`` drops runs.
    tests/test_batched.py checks that it and Monitor agree on random record streams.
    """

    def __init__(self, alg: str, iters: int, tol: float, resample: bool, size: int,
                 stall_window: int | None = None, stall_drop: float = Monitor.STALL_DROP):
        self.alg, self.iters, self.tol, self.resample = alg, iters, tol, resample
        self.window, self.drop = stall_window, stall_drop
        self.err0 = np.full(size, np.nan)
        self.prev_err = np.full(size, np.nan)
        self.prev_loss = np.full(size, np.nan)
        self.best = np.full(size, np.inf)
        self.bests = np.full((size, (stall_window or 0) + 1), np.inf)   # ring buffer of best-so-far
        self.seen = 0          # records checked so far (the same for every run)

    def check(self, t: int, err: np.ndarray, train_loss: np.ndarray, rel_err: np.ndarray,
              flips_prev: np.ndarray) -> np.ndarray:
        first = self.seen == 0
        if first:
            self.err0 = err.copy()
        np.fmin(self.best, rel_err, out=self.best)          # fmin: a NaN never becomes the best
        code = np.zeros(len(err), dtype=np.int8)
        with np.errstate(invalid="ignore", over="ignore"):
            rules = [
                (~np.isfinite(err)) | (~np.isfinite(train_loss)),
                (err > DIVERGENCE_FACTOR * np.maximum(self.err0, 1e-300)) & (t > 0),
                rel_err < self.tol,
            ]
            fixed = np.zeros(len(err), dtype=bool)
            if not self.resample and not first:
                fixed = flips_prev == 0
                if self.alg == "gd":
                    fixed &= (err == self.prev_err) & (train_loss == self.prev_loss)
            rules.append(fixed)
            stalled = np.zeros(len(err), dtype=bool)
            if self.window is not None:
                w1 = self.window + 1
                self.bests[:, self.seen % w1] = self.best
                if self.seen >= 2 * self.window:    # bests holds best-so-far at t - w ... t; the
                    # first window is Monitor's grace period
                    stalled = self.best > (1 - self.drop) * self.bests[:, (self.seen + 1) % w1]
            rules.append(stalled)
            rules.append(np.full(len(err), t >= self.iters))
        for c, hit in zip((_DIVERGED, _DIVERGED, _CONVERGED, _FIXED, _STALLED, _MAX), rules, strict=True):
            code[(code == 0) & hit] = c
        self.prev_err, self.prev_loss = err.copy(), train_loss.copy()
        self.seen += 1
        return code

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the runs where ``mask`` is True."""
        for name in ("err0", "prev_err", "prev_loss", "best", "bests"):
            setattr(self, name, getattr(self, name)[mask])


@dataclass(frozen=True)
class LeanResult:
    """How one run ended: what a sweep's table needs.

    ``seconds``: compute time attributed to this run; a batched step's time is
    shared equally among the runs it advanced.
    """

    rel_err: float
    n_iter: int
    stop_reason: str
    seconds: float


Cancel = Callable[[], bool]


def _out_of_time(deadline: float | None, cancel: Cancel | None) -> bool:
    return (deadline is not None and time.perf_counter() >= deadline) or (cancel is not None and cancel())


class GDBatch:
    """T gradient-descent runs on problems with the same (n, d), advanced together.

    ``problems``: the T problems (each its own W*, v*, X, y); ``W0s``: T initial
    points (d x d); ``eta``: as for :func:`shallowres.solvers.iterate` ("theory",
    "Kx" or a number), the theory step computed per run at its W^0 as ``iterate``
    does; ``iters``, ``tol``: the budget and the stopping tolerance on rel_err;
    ``stall_window``: the stalled rule's window (None: off). After ``advance``
    returns with ``finished``, ``results[k]`` is run k's :class:`LeanResult`.

    Memory: about 16 T n d bytes (the stacked X and one work array Z); the
    problems' own X are not kept.
    """

    def __init__(self, problems: Sequence[Problem], W0s: Sequence[np.ndarray], *, eta="theory",
                 iters: int, tol: float, resample: bool = False, stall_window: int | None = None):
        if not problems or len(problems) != len(W0s):
            raise ValueError(f"problems and W0s must be non-empty lists of one length; got "
                             f"{len(problems)} and {len(W0s)}")
        n, d = problems[0].n, problems[0].d
        if any((p.n, p.d) != (n, d) for p in problems):
            raise ValueError("problems must all have the same n and d in one batch")
        self.n, self.d, self.resample = n, d, resample
        self.eta_kind, self.eta_value = parse_eta(eta)
        T = len(problems)
        self.X = np.stack([p.X for p in problems])                    # (T, n, d)
        # The problems are kept for fresh batches (resample), which read only n, d, the seed
        # and the teacher: their X is replaced by a zero-stride stand-in, so the stack is the
        # only copy of the data once the caller drops its problems.
        stand_in = np.broadcast_to(np.float64(0.0), (n, d))
        self.problems = [replace(p, X=stand_in, y=stand_in[:, 0]) for p in problems]
        self.y = np.stack([p.y for p in problems])                    # (T, n)
        self.V = np.stack([p.v_star for p in problems])               # (T, d)
        self.W_star = np.stack([p.W_star for p in problems])
        self.scale = np.array([p.scale for p in problems])
        self.W = np.stack([np.array(W, dtype=float) for W in W0s])
        self.W_prev = self.W.copy()
        self.eta = np.full(T, np.nan)
        self.idx = np.arange(T)                   # which runs are still active, in stack order
        self.rules = StopRules("gd", iters, tol, resample, T, stall_window)
        self.t = 0
        self.results: list[LeanResult | None] = [None] * T
        self.seconds = np.zeros(T)
        self._I = np.eye(d)

    @property
    def finished(self) -> bool:
        return len(self.idx) == 0

    def advance(self, deadline: float | None = None, cancel: Cancel | None = None) -> bool:
        """Step until every run has stopped, the deadline passes or ``cancel()``; True when finished."""
        while not self.finished:
            start = time.perf_counter()
            self._step()
            self.seconds[self.idx_before] += (time.perf_counter() - start) / len(self.idx_before)
            if self.finished:
                self._close()
                return True
            if _out_of_time(deadline, cancel):
                return False
        return True

    def _close(self) -> None:
        for k, res in enumerate(self.results):
            self.results[k] = replace(res, seconds=float(self.seconds[k]))

    def _step(self) -> None:
        n, t = self.n, self.t
        self.idx_before = self.idx
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            U = self.W + self._I
            Z = np.matmul(self.X, U)                                   # the one n x d x d product per run
            np.maximum(Z, 0.0, out=Z)                                  # relu(X U); Z > 0 is the mask M
            r = self.y - np.matmul(Z, self.V[:, :, None])[:, :, 0]     # y - B^t vec(W^t + I)
            D = (self.W - self.W_star).reshape(len(self.idx), 1, -1)
            err = np.sqrt(np.matmul(D, D.transpose(0, 2, 1))[:, 0, 0])      # ||W - W*||_F, as np.linalg.norm
            loss = np.matmul(r[:, None, :], r[:, :, None])[:, 0, 0] / (2 * n)
            flips = self._flips_prev(Z, err, loss) if t > 0 and not self.resample else np.full(len(err), -1)
            code = self.rules.check(t, err, loss, err / self.scale, flips)
            if t == 0:
                self._set_eta(Z)
            stop = code > 0
            for j in np.flatnonzero(stop):
                self.results[self.idx[j]] = LeanResult(float(err[j] / self.scale[j]), t, REASONS[code[j]], 0.0)
            if stop.any():
                keep = ~stop
                self._keep(keep)
                Z, r = Z[keep], r[keep]
                if self.finished:
                    return
            self.W_prev = self.W
            # eq. (1): B^T r = X^T (M * r[:, None]), scaled by v per column, as in iterate
            np.greater(Z, 0.0, out=Z)                                  # M as 1.0 / 0.0, in place
            np.multiply(Z, r[:, :, None], out=Z)
            G = np.matmul(self.X.transpose(0, 2, 1), Z)
            self.W = self.W + (self.eta[:, None, None] / n) * (G * self.V[:, None, :])
        self.t += 1
        if self.resample:
            for j, k in enumerate(self.idx):
                self.X[j], self.y[j] = self.problems[k].batch(self.t, True)

    def _flips_prev(self, Z: np.ndarray, err: np.ndarray, loss: np.ndarray) -> np.ndarray:
        """ReLUs changed since the previous iterate, counted only where the fixed-point rule
        can fire (error and loss exactly unchanged); -1 elsewhere."""
        flips = np.full(len(err), -1)
        for j in np.flatnonzero((err == self.rules.prev_err) & (loss == self.rules.prev_loss)):
            M_prev = self.X[j] @ (self.W_prev[j] + self._I) > 0        # the same product as a step ago
            flips[j] = np.count_nonzero((Z[j] > 0) != M_prev)
        return flips

    def _set_eta(self, Z: np.ndarray) -> None:
        for j in range(len(self.idx)):
            if self.eta_kind == "theory":
                S = (Z[j] > 0) * self.V[j]                             # signed masks at W^0
                self.eta[j] = self.eta_value * theory_eta(self.X[j], S)
            else:
                self.eta[j] = self.eta_value

    def _keep(self, keep: np.ndarray) -> None:
        self.idx = self.idx[keep]
        self.rules.keep(keep)
        for name in ("X", "y", "V", "W_star", "scale", "W", "eta"):
            setattr(self, name, getattr(self, name)[keep])


class AMRun:
    """One alternating-minimization run, eqs. (2)-(3), with lean records.

    Each step: masks and residual from X U (eq. 2), then the exact least-squares
    solve of eq. (3) by the path ``plan_run`` picks (``am_solver``), the same
    arithmetic as :func:`shallowres.solvers.iterate`. Arguments as for
    :class:`GDBatch`; ``result`` is set once ``advance`` returns True.
    """

    def __init__(self, problem: Problem, W0: np.ndarray, *, iters: int, tol: float,
                 resample: bool = False, stall_window: int | None = None, am_solver: str = "auto",
                 memory_budget: int | None = None):
        kw = {} if memory_budget is None else {"memory_budget": memory_budget}
        self.path = plan_run(problem.n, problem.d, "am", resample=resample, am_solver=am_solver, **kw)
        self.problem, self.resample = problem, resample
        self.W = np.array(W0, dtype=float)
        self.X, self.y = problem.batch(0, resample)
        self.rules = StopRules("am", iters, tol, resample, 1, stall_window)
        self.t = 0
        self.M_prev: np.ndarray | None = None
        self.cache: dict = {}
        self.seconds = 0.0
        self.result: LeanResult | None = None

    @property
    def finished(self) -> bool:
        return self.result is not None

    def advance(self, deadline: float | None = None, cancel: Cancel | None = None) -> bool:
        while not self.finished:
            start = time.perf_counter()
            self._step()
            self.seconds += time.perf_counter() - start
            if self.finished:
                self.result = replace(self.result, seconds=self.seconds)
                return True
            if _out_of_time(deadline, cancel):
                return False
        return True

    def _step(self) -> None:
        p, d = self.problem, self.problem.d
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            U = self.W + np.eye(d)
            Z = self.X @ U
            M = Z > 0
            r = self.y - np.maximum(Z, 0.0, out=Z) @ p.v_star
            err = float(np.linalg.norm(self.W - p.W_star))
            flips = 0 if self.M_prev is None else int(np.count_nonzero(M != self.M_prev))
            before = copy.deepcopy(self.rules)
            code = self.rules.check(self.t, np.array([err]), np.array([float(r @ r) / (2 * p.n)]),
                                    np.array([err / p.scale]), np.array([flips]))[0]
            if code:
                self.result = LeanResult(err / p.scale, self.t, REASONS[code], 0.0)
                return
            try:
                self.W, _ = solve_am_step(self.path, self.X, M * p.v_star, self.y, self.W, self.cache)   # eq. (3)
            except Cancelled:
                self.rules = before         # the step starts over: its record must not count twice
                raise
        self.t += 1
        if self.resample:
            self.X, self.y = p.batch(self.t, True)
            self.M_prev = self.X @ U > 0              # W^t's masks on the new batch
        else:
            self.M_prev = M


def finite_or_inf(x: float) -> float:
    """A relative error for tables: NaN (a diverged run) reads as +inf."""
    return x if math.isfinite(x) else math.inf
