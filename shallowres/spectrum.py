"""Extreme singular values of B / sqrt(n), dense for small d, matrix-free above."""
from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh, lobpcg

from .budget import DENSE_SPECTRUM_MAX_COLS
from .linear import B_matvec, B_rmatvec, normal_matrix, unvec, vec
from .lsq import KroneckerPreconditioner


def extreme_singular_values(X: np.ndarray, S: np.ndarray, method: str = "auto") -> tuple[float, float]:
    """(sigma_min, sigma_max) of B / sqrt(n), B built from signed masks S.

    sigma^2 are the extreme eigenvalues of B^T B / n: ``eigvalsh`` of the
    assembled d^2 x d^2 matrix while d^2 <= DENSE_SPECTRUM_MAX_COLS, else Lanczos
    (largest) and preconditioned LOBPCG (smallest) on the matrix-free operator.
    sigma_min = 0 exactly when n < d^2 (B has a null space). ``method`` forces
    ``"dense"`` or ``"matrix_free"``.
    """
    n, d = X.shape
    if method == "dense" or (method == "auto" and d * d <= DENSE_SPECTRUM_MAX_COLS):
        ev = np.linalg.eigvalsh(normal_matrix(X, S) / n)
        lo, hi = max(ev[0], 0.0), max(ev[-1], 0.0)
        if n < d * d:
            lo = 0.0
        return float(np.sqrt(lo)), float(np.sqrt(hi))

    def gram(u):
        U = unvec(np.ravel(u), d)
        return vec(B_rmatvec(X, S, B_matvec(X, S, U))) / n

    def gram_block(V):
        V = np.asarray(V).reshape(d * d, -1)
        return np.column_stack([gram(V[:, j]) for j in range(V.shape[1])])

    G = LinearOperator((d * d, d * d), matvec=gram, matmat=gram_block, dtype=float)
    rng = np.random.default_rng(0)
    hi = eigsh(G, k=1, which="LA", tol=1e-8, v0=rng.standard_normal(d * d),
               return_eigenvectors=False)[0]
    if n < d * d:
        return 0.0, float(np.sqrt(max(hi, 0.0)))
    P = KroneckerPreconditioner(X, S)
    M = LinearOperator((d * d, d * d), dtype=float,
                       matvec=lambda u: vec(P(unvec(np.ravel(u), d))) * n,
                       matmat=lambda V: np.column_stack(
                           [vec(P(unvec(V[:, j], d))) * n for j in range(V.shape[1])]))
    x0 = rng.standard_normal((d * d, 3))
    vals = lobpcg(G, x0, M=M, largest=False, tol=1e-7, maxiter=500)[0]
    lo = float(np.min(vals))
    return float(np.sqrt(max(lo, 0.0))), float(np.sqrt(max(hi, 0.0)))
