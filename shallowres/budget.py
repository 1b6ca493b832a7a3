"""Memory estimates and the choice of AM solver path by problem size.

The working set of a run is estimated before anything large is allocated, so a
configuration past the budget is refused with a message instead of being killed.
"""
from __future__ import annotations

from .problem import N_TEST, problem_bytes

AM_PATHS = ("cholesky", "gram", "cg", "lsqr", "dense")

# Cost model in flop-equivalents; a Python-level iteration costs about
# PY_OVERHEAD flops. CG_ITERS is a typical preconditioned CG count per AM step.
PY_OVERHEAD = 2e5
CG_ITERS = 40
BLAS3_SPEEDUP = 4.0  # syrk/Cholesky run near peak; thin n x d products do not


def path_bytes(path: str, n: int, d: int) -> int:
    """Extra memory an AM solve takes on top of the iteration's arrays."""
    if path == "cholesky":      # B^T B and its factor, plus one row chunk of B
        return 16 * d**4 + 32 * 2**20
    if path == "gram":          # X X^T, S S^T, their product and its factor
        return 32 * n * n
    if path == "dense":         # B, its copy inside lstsq and the SVD workspace
        return 24 * n * d * d
    return 8 * (6 * d * d + 4 * n * d + 4 * n)   # cg / lsqr: a few d x d and n x d arrays


def iteration_bytes(n: int, d: int) -> int:
    """Arrays live during one iteration: X U, X U*, masks, signed masks, residuals."""
    return 8 * (8 * n * d + 4 * n)


def run_bytes(n: int, d: int, alg: str, path: str | None, iters: int, keep_W: bool,
              resample: bool, n_test: int = N_TEST) -> int:
    """Working set of ``run``: problem + iteration + solver path + history."""
    total = problem_bytes(n, d, n_test) + iteration_bytes(n, d)
    if resample:
        total += 8 * n * (d + 1)
    if alg == "am" and path is not None:
        total += path_bytes(path, n, d)
    total += spectrum_bytes(n, d)
    per_record = 8 * (16 + d) + (8 * d * d if keep_W else 0)
    return total + per_record * (iters + 1)


def spectrum_bytes(n: int, d: int) -> int:
    """Memory for the extreme singular values of B / sqrt(n)."""
    return 16 * d**4 if d * d <= DENSE_SPECTRUM_MAX_COLS else 8 * (12 * d * d + 4 * n * d)


# Dense eigvalsh of B^T B (d^2 x d^2) up to this many columns, matrix-free above.
DENSE_SPECTRUM_MAX_COLS = 1600


def choose_am_path(n: int, d: int, budget: int) -> str:
    """Pick the fastest exact AM solver that fits the memory budget.

    Underdetermined (n < d^2): the n x n Gram system B B^T z = b (minimum-norm
    solution) when it fits, else LSQR from zero (also minimum-norm).
    Otherwise: normal equations with Cholesky (cost ~ n d^4 / speedup + d^6 / 3)
    or preconditioned CG (cost ~ CG_ITERS (4 n d^2 + overhead)), the cheaper
    one that fits.
    """
    room = budget - problem_bytes(n, d) - iteration_bytes(n, d)
    if n < d * d:
        return "gram" if path_bytes("gram", n, d) <= room else "lsqr"
    chol = n * d**4 / BLAS3_SPEEDUP + d**6 / 3 + PY_OVERHEAD * (1 + n * d * d * 8 // 2**25)
    cg = CG_ITERS * (4 * n * d * d + PY_OVERHEAD)
    if path_bytes("cholesky", n, d) <= room and chol <= cg:
        return "cholesky"
    return "cg"
