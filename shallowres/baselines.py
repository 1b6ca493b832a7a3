"""Table I's baselines on the same teacher and data, and inexact AM.

The paper (Jagatap & Hegde, ISIT 2019, Table I) compares GD and AM with prior
methods; two of them run here on the same problem, plus the AM a practitioner would
run at scale. All three fit :class:`~shallowres.solvers.Stepper` (one record per
*outer* iteration, measured on the whole batch like GD's and AM's):

- ``sgd``: mini-batch SGD on L(W) = 1/(2n) ||y - relu(X (W + I)) v*||^2 (row [1],
  Li & Yuan 2017: SGD from a random start; pass ``init="random"`` for their setting).
  One iteration t is one *epoch*: the batch's n samples in a random order (drawn from
  the problem's seed and t), cut into ceil(n / b) mini-batches S of ``batch_size`` b (64);
  for each, W <- W + (eta_t / |S|) B_S^T (y_S - B_S vec(W + I)), whose expectation over
  a uniformly drawn S is GD's step (1) with the same eta. Step schedule:
  eta_t = eta / (1 + lr_decay * t) (constant by default). ``eta="theory"`` is the step
  of Ma, Bassily & Belkin (ICML 2018, Theorem 2) for mini-batch SGD on an
  interpolating least-squares model, b / (beta + (b - 1) lambda_1), with
  beta = max_i ||b_i||^2 (rows of B) and lambda_1 = sigma_max^2 of B / sqrt(n), both
  at W^0: noiseless labels interpolate (every per-sample residual vanishes at W*), so
  a constant step converges linearly.
- ``adam``: Adam (Kingma & Ba, ICLR 2015) on the same mini-batches and epochs, the
  practitioners' reference: beta_1 = 0.9, beta_2 = 0.999, eps = 1e-8, rate
  eta_t = eta / (1 + lr_decay * t), ``eta="theory"`` meaning the usual default 1e-3
  (``"Kx"``: K times it). Restarting from a saved iterate starts the moments afresh.
- inexact AM (``alg="am", am_inner=K``): AM's masks (2), then K iterations of
  flexible preconditioned CG on the normal equations of (3), warm-started at W^t,
  instead of the exact solve (the exact CG path's preconditioner; it stops early if
  CG has converged). With K large it is exact AM.
"""
from __future__ import annotations

import math

import numpy as np

from .interrupt import checkpoint
from .linear import B_rmatvec, gram_apply
from .lsq import CG_RTOL, PopulationPreconditioner, SolveInfo, residual_target
from .problem import Problem
from .spectrum import extreme_singular_values
from .validation import CONSTRAINTS, check

BASELINES = ("sgd", "adam")
DEFAULT_BATCH = 64
ADAM_LR = 1e-3
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
SHUFFLE_STREAM = 100        # SeedSequence(seed, spawn_key=(SHUFFLE_STREAM, t)): epoch t's sample order
NAMES = {"gd": "Gradient descent", "am": "Alternating minimization", "sgd": "Mini-batch SGD",
         "adam": "Adam", "am_inexact": "Inexact alternating minimization"}


def minibatch_gradient(X: np.ndarray, y: np.ndarray, U: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Gradient of 1/(2b) ||y - relu(X U) v||^2 in W (U = W + I) over the b rows given:
    -(1/b) B^T (y - B vec(U)) as a d x d matrix (B built at U). Shapes: X (b, d), y (b,)."""
    Z = X @ U
    M = Z > 0
    r = y - np.maximum(Z, 0.0) @ v
    return -(X.T @ (M * r[:, None])) * (v / len(y))


def sgd_step(X: np.ndarray, y: np.ndarray, W: np.ndarray, v: np.ndarray, rows: np.ndarray,
             eta: float) -> np.ndarray:
    """One mini-batch step W - eta * minibatch_gradient on ``rows`` (an index array)."""
    d = W.shape[0]
    return W - eta * minibatch_gradient(X[rows], y[rows], W + np.eye(d), v)


def epoch_order(seed: int, t: int, n: int) -> np.ndarray:
    """The order of the n samples in epoch t (the step from W^t): a permutation drawn from
    SeedSequence(seed, spawn_key=(SHUFFLE_STREAM, t)), so a restarted run repeats it."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(SHUFFLE_STREAM, t)))
    return rng.permutation(n)


def sgd_theory_eta(X: np.ndarray, S: np.ndarray, batch_size: int) -> float:
    """Ma, Bassily & Belkin's step b / (beta + (b - 1) lambda_1) for mini-batches of b (ICML 2018,
    Theorem 2, for the per-sample losses (1/2) r_i^2 averaged over a batch): beta = max_i ||b_i||^2 =
    max_i ||x_i||^2 #{q: active}, lambda_1 = sigma_max^2(B / sqrt(n)). X (n, d), S (n, d) the signed
    masks at W^0; in the units of GD's eta of eq. (1) (both scale like 1 / ||x||^2)."""
    beta = float(np.max(np.count_nonzero(S, axis=1) * np.einsum("ij,ij->i", X, X)))
    _, hi = extreme_singular_values(X, S)
    lam = hi * hi
    b = min(batch_size, len(X))
    if beta == 0 and lam == 0:          # B = 0: no ReLU active, the gradient vanishes
        return 1.0
    return b / (beta + (b - 1) * lam)


class MinibatchStep:
    """One epoch of mini-batch SGD or Adam per call (see the module doc)."""

    def __init__(self, alg: str, problem: Problem, eta, batch_size: int, lr_decay: float):
        from .solvers import parse_eta

        self.alg, self.problem = alg, problem
        self.batch_size = check("batch_size", batch_size)
        self.lr_decay = check("lr_decay", lr_decay)
        kind, value = parse_eta(eta)
        self.eta_kind, self.eta_value = kind, value
        self.eta: float | None = value if kind == "fixed" else (value * ADAM_LR if alg == "adam" else None)
        d = problem.d
        self.m, self.s, self.k = np.zeros((d, d)), np.zeros((d, d)), 0     # Adam's moments, update count

    def __call__(self, W: np.ndarray, X: np.ndarray, y: np.ndarray, S: np.ndarray, t: int):
        """(W after epoch t, SolveInfo with the number of mini-batch steps)."""
        if self.eta is None:
            self.eta = self.eta_value * sgd_theory_eta(X, S, self.batch_size)
        n, d = X.shape
        v, eye = self.problem.v_star, np.eye(d)
        lr = self.eta / (1.0 + self.lr_decay * t)
        order = epoch_order(self.problem.seed, t, n)
        b = min(self.batch_size, n)
        steps = 0
        b1, b2 = ADAM_BETAS
        m, s, k = self.m.copy(), self.s.copy(), self.k     # committed only if the epoch completes
        W = W.copy()
        for lo in range(0, n, b):
            checkpoint()
            rows = order[lo:lo + b]
            g = minibatch_gradient(X[rows], y[rows], W + eye, v)
            if self.alg == "sgd":
                W -= lr * g
            else:
                k += 1
                m = b1 * m + (1 - b1) * g
                s = b2 * s + (1 - b2) * (g * g)
                W -= lr * (m / (1 - b1**k)) / (np.sqrt(s / (1 - b2**k)) + ADAM_EPS)
            steps += 1
        self.m, self.s, self.k = m, s, k
        return W, SolveInfo(self.alg, steps, False, False)


def truncated_cg(X: np.ndarray, S: np.ndarray, y: np.ndarray, W0: np.ndarray, K: int,
                 rtol: float = CG_RTOL) -> tuple[np.ndarray, int]:
    """At most K iterations of flexible preconditioned CG on (B^T B) vec(W) = B^T b,
    b = y - B vec(I) (AM's eq. (3) in normal form), from W0; stops early once
    ||B^T b - B^T B w|| <= rtol ||B^T b||. X (n, d), S (n, d) signed masks, y (n,), W0 (d, d).
    Returns (W (d, d), iterations taken). The preconditioner is the exact CG path's
    (:class:`~shallowres.lsq.PopulationPreconditioner`, O(d^3) per application).

    Each iteration is exact line search along a direction, so the least-squares
    objective ||B vec(W + I) - y|| never grows; with full-column-rank B and K large
    it reaches the exact AM step.
    """
    rhs = B_rmatvec(X, S, residual_target(X, S, y))
    W = np.array(W0, dtype=float)
    R = rhs - gram_apply(X, S, W)
    stop = rtol * np.linalg.norm(rhs)
    if np.linalg.norm(R) <= stop:
        return W, 0
    precond = PopulationPreconditioner(X, S)
    Z = precond(R)
    P = Z
    rz = np.vdot(R, Z)
    for k in range(K):
        checkpoint()
        Q = gram_apply(X, S, P)
        pq = np.vdot(P, Q)
        if not pq > 0 or not rz > 0:     # breakdown (B nearly rank deficient along P): keep W
            return W, k
        alpha = rz / pq
        W += alpha * P
        R_new = R - alpha * Q
        if np.linalg.norm(R_new) <= stop:
            return W, k + 1
        Z = precond(R_new)
        beta = np.vdot(Z, R_new - R) / rz
        rz = np.vdot(R_new, Z)
        P = Z + beta * P
        R = R_new
    return W, K


class InexactAMStep:
    """AM with K CG iterations per outer step (see :func:`truncated_cg`)."""

    def __init__(self, K: int):
        self.K = check("am_inner", K)
        self.eta = None

    def __call__(self, W: np.ndarray, X: np.ndarray, y: np.ndarray, S: np.ndarray, t: int):
        W, k = truncated_cg(X, S, y, W, self.K)
        return W, SolveInfo(f"cg({self.K})", k, len(X) < X.shape[1] ** 2, False)


def check_alg(alg: str) -> str:
    """``alg`` of run / iterate / Stepper: "gd", "am" or a baseline ("sgd", "adam"); ValueError
    ("alg must be one of ...") otherwise. Sweeps and the per-iterate theory take only "gd", "am"."""
    return check("alg", alg, CONSTRAINTS["run_alg"])


def make_step(alg: str, problem: Problem, *, eta="theory", batch_size: int = DEFAULT_BATCH,
              lr_decay: float = 0.0, am_inner: int | None = None):
    """The step object of a baseline, or None for GD and exact AM (the Stepper's own paths).

    Raises ValueError naming a bad parameter (batch_size, lr_decay, am_inner) and its range.
    """
    if am_inner is not None and alg != "am":
        raise ValueError(f"am_inner applies to alg 'am' only (inexact AM); got alg {alg!r}")
    if alg in BASELINES:
        return MinibatchStep(alg, problem, eta, batch_size, lr_decay)
    if alg == "am" and am_inner is not None:
        return InexactAMStep(am_inner)
    return None


def label(alg: str, am_inner: int | None = None) -> str:
    """The algorithm's name in words (inexact AM with its K)."""
    if alg == "am" and am_inner is not None:
        return f"{NAMES['am_inexact']} (K = {am_inner} CG iteration{'s' if am_inner != 1 else ''} per step)"
    return NAMES[alg]


def monitor_for(alg: str, iters: int, tol: float, resample: bool = False, am_inner: int | None = None, **kw):
    """The stop rule of a run: :class:`~shallowres.solvers.Monitor` for GD and exact AM; for
    SGD, Adam and inexact AM, GD's rules (a fixed point only when W did not move: inexact
    AM keeps improving on unchanged masks) under the algorithm's own name. ``kw`` goes to Monitor."""
    from .solvers import Monitor

    if alg in ("gd", "am") and am_inner is None:
        return Monitor(alg, iters, tol, resample, **kw)
    return NamedMonitor(label(alg, am_inner), Monitor("gd", iters, tol, resample, **kw), epochs=alg != "am")


class NamedMonitor:
    """A Monitor's decisions under another algorithm's name (its messages say that name)."""

    def __init__(self, name: str, inner, epochs: bool = True):
        self.name, self.inner, self.epochs = name, inner, epochs

    def __call__(self, rec) -> str | None:
        return self.inner(rec)

    @property
    def best_t(self) -> int | None:
        return self.inner.best_t

    def message(self, reason: str, rec) -> str:
        """The inner Monitor's sentence with this algorithm's name (and "epochs" for SGD, Adam)."""
        text = self.inner.message(reason, rec).replace(NAMES["gd"], self.name, 1)
        if self.epochs:
            return text.replace(" iterations", " epochs").replace("at iteration", "at epoch")
        return text.replace(" The step size eta is too large for this problem.", "")   # inexact AM: no step

    def __getattr__(self, attr):
        if attr == "inner":
            raise AttributeError(attr)
        return getattr(self.inner, attr)


def default_iters(alg: str, am_inner: int | None = None) -> int:
    """Iteration limits: GD 3000, AM 50, SGD and Adam 1000 epochs; inexact AM 50 + 400 / K
    outer steps (at the paper's setting K = 1 needs 66, K = 3 needs 13)."""
    from .solvers import DEFAULT_ITERS

    if alg == "am" and am_inner is not None:
        return 50 + math.ceil(400 / check("am_inner", am_inner))
    return DEFAULT_ITERS[check_alg(alg)]
