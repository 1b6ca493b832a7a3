"""Memory estimates and the choice of AM solver path by problem size.

The working set of a run is estimated before anything large is allocated, so a
configuration past the budget is refused with a message instead of being killed.
"""
from __future__ import annotations

import math

from .linear import EXACT_RANK_MACS
from .problem import N_TEST, problem_bytes

AM_PATHS = ("cholesky", "gram", "cg", "lsqr", "dense")

# Dense eigvalsh of B^T B (or B B^T) up to this many columns (d <= 50: 0.7 s and
# 100 MB at most), matrix-free above. The matrix-free sigma_min can stall well above
# the true value when n is close to d^2 (+88% in sigma_min^2 at d = 41, n = 1700),
# so the exact path is kept as far as the dashboard's per-session memory allows.
DENSE_SPECTRUM_MAX_COLS = 2500
CHUNK_BYTES = 32 * 2**20    # row chunk of B when B^T B is assembled

# Cost model, in seconds on one core, fitted to measured solves (d = 10..60,
# n = 1.2..10 d^2; benchmarks/run.py): the Cholesky path is one float32 n x d^2
# rank-k update plus a d^2 x d^2 factorization; a CG iteration is two thin
# n x d by d x d products plus the O(d^3) preconditioner and Python overhead.
SEC_PER_MAC_BLAS3 = 1.8e-11   # float32 syrk / Cholesky on d^2 x d^2 blocks
SEC_PER_MAC_THIN = 5e-11      # float64 n x d by d x d products with their elementwise work
SEC_PER_CG_STEP = 1.5e-4      # Python and preconditioner overhead of one CG iteration
CG_ITERS_PER_SQRT_KAPPA = 13.5 * 0.85   # measured iterations per sqrt(kappa_MP), warm-started


def exact_rank_bytes(n: int, d: int) -> int:
    """Small problems (n d^4 / 2 <= linear.EXACT_RANK_MACS): the exact rank test (float64
    B^T B, eigvalsh's copy, one row chunk of B) and, when B is rank deficient, the dense
    minimum-norm solve (B and lstsq's copies, at most lsq.DENSE_MIN_NORM_BYTES)."""
    if n * d**4 / 2 > EXACT_RANK_MACS:
        return 0
    rank_test = 16 * d**4 + chunk_bytes(n, d)
    return max(rank_test, min(24 * n * d * d, 64 * 2**20))


def chunk_bytes(n: int, d: int) -> int:
    """One row chunk of B (``linear.add_normal_rows``): CHUNK_BYTES, or all of B when smaller."""
    return min(CHUNK_BYTES, 8 * n * d * d)


def path_bytes(path: str, n: int, d: int) -> int:
    """Extra memory an AM solve takes on top of the iteration's arrays."""
    if path == "cholesky":      # cached float32 B^T B, X, S; float64 B^T B and its factor (the
        return 20 * d**4 + 8 * n * d + chunk_bytes(n, d) + exact_rank_bytes(n, d)   # fallback); one row chunk of B
    if path == "gram":          # X X^T, S S^T, their product and its factor
        return 32 * n * n
    if path == "dense":         # B, its copy inside lstsq and the SVD workspace
        return 24 * n * d * d
    if path == "lsqr":          # the operator's n x d temporaries, LSQR's vectors
        return 8 * (2 * n * d + 10 * d * d + 6 * n) + exact_rank_bytes(n, d)
    # cg: one n x d buffer, the preconditioner
    return 8 * (2 * n * d + 30 * d * d + 4 * n) + exact_rank_bytes(n, d)


def iteration_bytes(n: int, d: int) -> int:
    """Arrays live during one iteration: (x_i . u*_q)^2, X U, the signed masks or
    M * r (float64), and three boolean n x d masks, plus n-vectors."""
    return 8 * (3 * n * d + 4 * n) + 3 * n * d


def run_bytes(n: int, d: int, alg: str, path: str | None, iters: int, keep_W: bool,
              resample: bool, n_test: int = N_TEST) -> int:
    """Working set of ``run``: problem + iteration + solver path (AM; "inexact" is the
    CG path's) or the spectrum for eta (GD, SGD; counted for Adam too) + mini-batches
    (SGD, Adam) + history."""
    total = problem_bytes(n, d, n_test) + iteration_bytes(n, d)
    if resample:
        total += 8 * n * (d + 1)
    if alg == "am" and path is not None:
        total += path_bytes(path, n, d)
    else:
        total += spectrum_bytes(n, d)
    if alg in ("sgd", "adam"):
        total += minibatch_bytes(n, d)
    per_record = 8 * (16 + d) + (8 * d * d if keep_W else 0)
    return total + per_record * (iters + 1)


def minibatch_bytes(n: int, d: int) -> int:
    """SGD and Adam (``baselines``): one mini-batch's rows of X, X_S U and the masked residual
    (at most n rows), the epoch's permutation, Adam's two moment matrices and W's copy."""
    return 8 * (3 * n * d + n + 3 * d * d)


def spectrum_bytes(n: int, d: int) -> int:
    """Memory for the extreme singular values of B / sqrt(n)."""
    m = min(n, d * d)
    if m <= DENSE_SPECTRUM_MAX_COLS:   # B^T B (or B B^T) and eigvalsh's copy, one row chunk
        return 16 * m * m + (chunk_bytes(n, d) if n >= d * d else 16 * n * n)
    return 8 * (2 * n * d + 60 * d * d)   # LOBPCG: n x d buffers, a few d x d blocks


def cg_iterations(n: int, d: int) -> float:
    """Expected preconditioned CG iterations per AM step: proportional to
    sqrt(kappa) of the Marchenko-Pastur spectrum, (1 + sqrt(r)) / (1 - sqrt(r)), r = d^2/n."""
    r = d * d / n
    if r >= 1:
        return math.inf
    return CG_ITERS_PER_SQRT_KAPPA * (1 + math.sqrt(r)) / (1 - math.sqrt(r))


def am_path_seconds(path: str, n: int, d: int) -> float:
    """Modelled seconds of one AM solve on one core (cholesky or cg)."""
    if path == "cholesky":
        return SEC_PER_MAC_BLAS3 * (n * d**4 + d**6 / 6) + 1e-3
    step = SEC_PER_CG_STEP + SEC_PER_MAC_THIN * (4 * n * d * d) + SEC_PER_MAC_BLAS3 * 30 * d**3
    return cg_iterations(n, d) * step


def choose_am_path(n: int, d: int, budget: int) -> str:
    """Pick the fastest exact AM solver that fits the memory budget.

    Underdetermined (n < d^2): the n x n Gram system B B^T z = b (minimum-norm
    solution) when it fits, else LSQR from zero (also minimum-norm).
    Otherwise: normal equations with Cholesky or preconditioned CG, whichever
    :func:`am_path_seconds` says is faster among those that fit (Cholesky wins up
    to d ~ 25, CG above). When none fits, the leanest path is returned and the
    memory check of ``iterate``/``run`` refuses the run (MemoryBudgetError).
    """
    room = budget - problem_bytes(n, d) - iteration_bytes(n, d)
    if n < d * d:
        options = ["gram", "lsqr"]
    else:
        options = sorted(("cholesky", "cg"), key=lambda p: am_path_seconds(p, n, d))
    for path in options:
        if path_bytes(path, n, d) <= room:
            return path
    return min(options, key=lambda p: path_bytes(p, n, d))
