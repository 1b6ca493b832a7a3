"""Activation masks and the linearized operator B (slides, "Our Formulation").

Convention: vec stacks columns, so vec(U)[q*d + j] = U[j, q] and column q of
U = W + I is u_q = w_q + e_q. The neuron state is 1{x_i . u_q > 0} (the slides'
strict inequality; ties have probability zero for continuous data).

    P_q = diag(1{X u_q > 0}),   B = [v_1 P_1 X, ..., v_d P_d X]  in R^{n x d^2}

so that relu(X U) v = B vec(U) when B is built at U. With the signed masks
S = M * v (S[i, q] = v_q 1{x_i . u_q > 0}):

    B vec(U')  = sum_q S[:, q] * (X u'_q)  = ((X U') * S) 1
    B^T r      = vec(X^T (S * r[:, None]))

both O(n d^2) without forming B.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg.blas import dsyrk, ssyrk
from scipy.sparse.linalg import LinearOperator

from .interrupt import checkpoint


def vec(U: np.ndarray) -> np.ndarray:
    """Stack the columns of U: vec(U)[q*d + j] = U[j, q]."""
    return np.ravel(U, order="F")


def unvec(u: np.ndarray, d: int) -> np.ndarray:
    """Inverse of :func:`vec`."""
    return np.reshape(u, (d, d), order="F")


def masks(X: np.ndarray, U: np.ndarray) -> np.ndarray:
    """Neuron states M[i, q] = 1{x_i . u_q > 0} (the diagonals of P_q)."""
    return X @ U > 0


def signed_masks(M: np.ndarray, v: np.ndarray) -> np.ndarray:
    """S = M * v: S[i, q] = v_q 1{x_i . u_q > 0}, as float."""
    return M * v


def B_matvec(X: np.ndarray, S: np.ndarray, U: np.ndarray) -> np.ndarray:
    """B vec(U) = ((X U) * S) 1, for U of shape (d, d)."""
    return np.einsum("iq,iq->i", X @ U, S)


def B_rmatvec(X: np.ndarray, S: np.ndarray, r: np.ndarray) -> np.ndarray:
    """B^T r as a d x d matrix: X^T (S * r[:, None]); vec() of it is B^T r."""
    return X.T @ (S * r[:, None])


def B_operator(X: np.ndarray, S: np.ndarray) -> LinearOperator:
    """B (n x d^2) as a SciPy LinearOperator on vec(U), matrix-free."""
    n, d = X.shape
    def matvec(u):
        checkpoint()     # LSQR calls these once per iteration: where a stop is heard
        return B_matvec(X, S, unvec(np.ravel(u), d))

    def rmatvec(r):
        checkpoint()
        return vec(B_rmatvec(X, S, np.ravel(r)))

    return LinearOperator((n, d * d), matvec=matvec, rmatvec=rmatvec, dtype=float)


def dense_B(X: np.ndarray, S: np.ndarray) -> np.ndarray:
    """B = [v_1 P_1 X, ..., v_d P_d X] formed explicitly (n x d^2).

    Column q*d + j is v_q 1{x_i . u_q > 0} x_ij. Only for small problems and as
    the test reference: it takes 8 n d^2 bytes.
    """
    n, d = X.shape
    return (S[:, :, None] * X[:, None, :]).reshape(n, d * d)


def normal_matrix(X: np.ndarray, S: np.ndarray, chunk_bytes: int = 32 * 2**20,
                  lower_only: bool = False) -> np.ndarray:
    """B^T B = sum_i (s_i s_i^T) kron (x_i x_i^T), assembled from row chunks of B.

    Each chunk adds B_c^T B_c by a symmetric rank-k update (BLAS syrk), in the
    dtype of X (float32 for the refined Cholesky path). ``lower_only`` leaves the
    upper triangle unset, for Cholesky and eigvalsh, which read the lower one.
    Peak memory: the d^2 x d^2 result plus one chunk of ``chunk_bytes``.
    """
    m = X.shape[1] ** 2
    G = add_normal_rows(np.zeros((m, m), dtype=X.dtype, order="F"), X, S, 1.0, chunk_bytes)
    if not lower_only:
        for j in range(0, m, 512):   # mirror the lower triangle, a block column at a time
            G[j:j + 512, j + 512:] = G[j + 512:, j:j + 512].T
            blk = G[j:j + 512, j:j + 512]
            blk[np.triu_indices(len(blk), 1)] = blk.T[np.triu_indices(len(blk), 1)]
    return G


def add_normal_rows(G: np.ndarray, X: np.ndarray, S: np.ndarray, alpha: float = 1.0,
                    chunk_bytes: int = 32 * 2**20) -> np.ndarray:
    """G += alpha B^T B over the rows of (X, S), lower triangle, in place (G is a
    Fortran-ordered d^2 x d^2 array of X's dtype); returns G."""
    n, d = X.shape
    syrk = ssyrk if X.dtype == np.float32 else dsyrk
    rows = max(1, chunk_bytes // (X.itemsize * d * d))
    for lo in range(0, n, rows):
        checkpoint()
        Bc = dense_B(X[lo:lo + rows], S[lo:lo + rows])
        G = syrk(alpha, Bc.T, beta=1.0, c=G, trans=0, lower=1, overwrite_c=1)
    return G


def B_rank_deficient(S: np.ndarray) -> bool:
    """True when B = [v_1 P_1 X, ..., v_d P_d X] surely lacks full column rank:
    n < d^2; a neuron active on fewer than d samples (its block has rank < d);
    linearly dependent mask columns (sum_q c_q s_q = 0 gives the null vector
    w_q = c_q z for any z), e.g. two neurons with the same pattern; or too few
    distinct rows: the rows with one activation pattern s are s kron x_i, spanning
    at most min(#rows, d) dimensions, so rank(B) <= sum over patterns of that.
    Other rank losses are not generic for continuous data."""
    n, d = S.shape
    if n < d * d or np.count_nonzero(S, axis=0).min() < d:
        return True
    packed = np.packbits(S != 0, axis=1)
    packed = packed[packed.any(axis=1)]          # rows where some neuron is active
    _, counts = np.unique(packed.view(np.dtype((np.void, packed.shape[1]))).ravel(), return_counts=True)
    if np.minimum(counts, d).sum() < d * d:
        return True
    ev = np.linalg.eigvalsh(S.T @ S)
    return bool(ev[0] <= 1e-10 * ev[-1])


def gram_apply(X: np.ndarray, S: np.ndarray, W: np.ndarray) -> np.ndarray:
    """B^T B vec(W) as a d x d matrix: X^T (S * r[:, None]) with r = ((X W) * S) 1.

    Two n x d by d x d products and one n x d buffer, reused in place.
    """
    Z = X @ W
    r = np.einsum("iq,iq->i", Z, S)
    np.multiply(S, r[:, None], out=Z)
    return X.T @ Z


def gram_matrix(X: np.ndarray, S: np.ndarray) -> np.ndarray:
    """B B^T = (X X^T) * (S S^T) (n x n), elementwise product."""
    return (X @ X.T) * (S @ S.T)
