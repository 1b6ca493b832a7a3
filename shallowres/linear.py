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

from dataclasses import dataclass

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


# B counts as rank deficient when sigma_min(B) <= 1e-6 sigma_max(B), i.e. an eigenvalue of
# B^T B below RANK_RTOL times the largest: the rounding of B^T B in float64 (~d^2 eps) is
# far below, and every path then returns the minimum-norm solution over B's numerical range.
RANK_RTOL = 1e-12
# The exact rank test (B^T B assembled in float64, eigvalsh) runs while it costs at most
# this many multiply-adds, n d^4 / 2 (with d^6 for eigvalsh): d <= 12 at n up to 10^4 or so.
# Above it only the structural tests run: in 2400 random cases with d = 10, 12, 14, 16 and
# n in [d^2, 3 d^2) none found another rank loss (small d: 1 in 10 at d = 4, 1 in 200 at d = 8).
EXACT_RANK_MACS = 6e7


def numerically_singular(ev: np.ndarray) -> bool:
    """Eigenvalues of B^T B (or B B^T), ascending: is the smallest zero to RANK_RTOL?"""
    return bool(ev[-1] <= 0 or ev[0] <= RANK_RTOL * ev[-1])


@dataclass(frozen=True)
class RankLoss:
    """Whether B = [v_1 P_1 X, ..., v_d P_d X] lacks full column rank d^2, and why.

    ``causes``: plain sentences naming what leaves W* unidentified (a feature of X that is
    always zero, dependent features, a neuron that never fires or fires on too few samples,
    neurons with one pattern, ...), indices counted from 0 as in NumPy. ``exact``: the
    numerical test on B^T B ran (otherwise only the structural ones did).
    """

    deficient: bool
    causes: tuple[str, ...] = ()
    exact: bool = False


def _features(idx) -> str:
    idx = [int(j) for j in idx]
    return ", ".join(f"X[:, {j}]" for j in idx[:6]) + (f" and {len(idx) - 6} more" if len(idx) > 6 else "")


def _x_causes(X: np.ndarray) -> list[str]:
    """Rank losses of X itself: every block P_q X inherits them."""
    n, d = X.shape
    zero = np.flatnonzero(~np.any(X != 0, axis=0))
    if len(zero):
        j = int(zero[0])
        more = f" (so are {_features(zero[1:])})" if len(zero) > 1 else ""
        return [f"feature {j} of X (X[:, {j}]) is zero on every sample{more}: row {j} of W* (W*[{j}, :]) "
                "cannot be identified, so B has a null space whatever n is"]
    scale = np.sqrt(np.sum(X * X, axis=0))
    ev, V = np.linalg.eigh((X / scale).T @ (X / scale))        # columns scaled: units do not matter
    if ev[0] <= 1e-12 * ev[-1]:
        z = np.abs(V[:, 0])
        support = np.flatnonzero(z > 0.05 * z.max())
        rank = int(np.sum(ev > 1e-12 * ev[-1]))
        return [f"the features of X are linearly dependent (rank X = {rank} < d = {d}; a combination of "
                f"{_features(support)} is zero on every sample): W* is identified only up to that direction "
                "in each of its columns, so B has a null space whatever n is"]
    return []


def _mask_causes(S: np.ndarray) -> list[str]:
    """Rank losses from the activation pattern alone."""
    n, d = S.shape
    M = S != 0
    count = M.sum(axis=0)
    causes = []
    for q in np.flatnonzero(count == 0)[:3]:
        causes.append(f"neuron {q} never fires on these samples (x_i . u_{q} <= 0 for every i): column {q} of W "
                      "is not identified (its ReLU is dead)")
    for q in np.flatnonzero((count > 0) & (count < d))[:3]:
        causes.append(f"neuron {q} is active on only {count[q]} samples, fewer than d = {d}: column {q} of W "
                      "is only partly identified")
    if causes:
        return causes
    cols = {}
    for q in range(d):
        key = np.packbits(M[:, q]).tobytes()
        if key in cols:
            p = cols[key]
            return [f"neurons {p} and {q} are active on exactly the same samples: only v_{p} w_{p} + v_{q} w_{q} "
                    f"is identified, not w_{p} and w_{q} apart"]
        cols[key] = q
    ev, V = np.linalg.eigh(S.T @ S)
    if ev[0] <= 1e-10 * ev[-1]:
        z = np.abs(V[:, 0])
        who = ", ".join(str(q) for q in np.flatnonzero(z > 0.05 * z.max())[:8])
        return [f"the activation patterns of neurons {who} are linearly dependent (a combination of their "
                "masks is zero on every sample): the matching combination of their weights is not identified"]
    packed = np.packbits(M, axis=1)
    packed = packed[packed.any(axis=1)]          # rows where some neuron is active
    _, counts = np.unique(packed.view(np.dtype((np.void, packed.shape[1]))).ravel(), return_counts=True)
    total = int(np.minimum(counts, d).sum())
    if total < d * d:
        return [f"the samples fall into only {len(counts)} distinct activation patterns; each adds at most d = "
                f"{d} to the rank of B, {total} < d^2 = {d * d} in all"]
    return []


def _block_causes(X: np.ndarray, S: np.ndarray) -> list[str]:
    """Neurons whose active samples span fewer than d directions (X has full rank)."""
    n, d = X.shape
    out = []
    for q in range(d):
        rows = X[S[:, q] != 0]
        sv = np.linalg.svd(rows, compute_uv=False)
        r = int(np.sum(sv > 1e-6 * sv[0])) if len(sv) else 0
        if r < d:
            out.append(f"the {len(rows)} samples where neuron {q} is active span only {r} < d = {d} directions: "
                       f"column {q} of W is only partly identified")
    return out[:3]


def rank_loss(S: np.ndarray, X: np.ndarray | None = None, exact: bool | None = None) -> RankLoss:
    """Does B (built from X and the signed masks S) lack full column rank d^2, and why?

    Structural tests first (cheap, O(n d^2)): n < d^2; with X, a feature of X that is zero on
    every sample or dependent features (rank X < d); a neuron active on no or fewer than d
    samples; two neurons with one pattern or dependent mask columns; too few distinct
    activation patterns (the rows with pattern s are s kron x_i and span at most d
    dimensions). Then, with X and while n d^4 / 2 <= EXACT_RANK_MACS (``exact`` forces it
    on or off), the exact test: eigvalsh of B^T B, an eigenvalue <= RANK_RTOL times the
    largest counting as zero, which catches the rank losses of overlapping patterns that
    are generic at small d.
    """
    n, d = S.shape
    if n < d * d:
        return RankLoss(True, (f"n = {n} < d^2 = {d * d}: fewer samples than the d^2 unknowns of W, so B has "
                               f"a null space of dimension at least {d * d - n}",))
    causes = (_x_causes(X) if X is not None else []) or _mask_causes(S)
    if causes:
        return RankLoss(True, tuple(causes))
    if X is None:
        return RankLoss(False)
    if exact is None:
        exact = n * d**4 / 2 <= EXACT_RANK_MACS
    if not exact:
        return RankLoss(False)
    ev = np.linalg.eigvalsh(normal_matrix(X, S, lower_only=True), UPLO="L")
    if not numerically_singular(ev):
        return RankLoss(False, exact=True)
    return RankLoss(True, tuple(_block_causes(X, S)) or (
        f"B has rank {int(np.sum(ev > RANK_RTOL * ev[-1]))} < d^2 = {d * d} although every neuron is active on "
        "enough samples: the activation patterns overlap so that some combinations of the weights are not "
        "pinned down (typical for small d with n near d^2)",), exact=True)


def B_rank_deficient(S: np.ndarray, X: np.ndarray | None = None) -> bool:
    """True when B = [v_1 P_1 X, ..., v_d P_d X] lacks full column rank (:func:`rank_loss`;
    without X only the tests on the masks run)."""
    return rank_loss(S, X).deficient


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
