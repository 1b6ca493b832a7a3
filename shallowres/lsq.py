"""Exact solves of AM's least-squares step, eq. (3), by several paths.

With the masks fixed (signed masks S), eq. (3) reads

    W^{t+1} = argmin_W || B vec(W) - b ||,   b = y - B vec(I) = y - sum_q S[:, q] X[:, q]

and when it has many solutions (n < d^2, a neuron that is never active, a feature of X
that is always zero, overlapping patterns: any rank loss, see ``linear.rank_loss``) we
return the one of minimum ||W||_F, i.e. the solution closest to the identity
U = I (the residual network's starting point). B counts as rank deficient when
sigma_min(B) <= 1e-6 sigma_max(B) (``linear.RANK_RTOL`` on the eigenvalues of B^T B),
and every path then returns the minimum-norm solution over B's numerical range: they
agree with np.linalg.pinv(B, rcond=1e-6) b (tests/test_rank.py). Paths, all exact to ~1e-10:

- ``dense``:    np.linalg.lstsq on B formed explicitly (the reference);
- ``cholesky``: normal equations B^T B w = B^T b, B^T B assembled in row chunks in
                float32 (kept and updated across a run's steps), refined to float64; at the
                exact rank test's sizes, the test's own float64 B^T B, whose Cholesky factor
                certifies full rank and is the solve;
- ``gram``:     B B^T z = b, w = B^T z, the n x n system when n < d^2;
- ``cg``:       flexible preconditioned CG on the normal equations, matrix-free,
                warm-started, preconditioned by the Gaussian population model of B^T B;
- ``lsqr``:     SciPy's LSQR from zero, matrix-free (minimum-norm).

The paths agree with ``dense`` to 1e-8 relative (tests/test_fast_paths.py) while
kappa(B) <= ~1e3, the regime of every AM run with n >= 1.3 d^2; the
normal-equation paths lose kappa(B)^2 eps beyond that.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
from scipy.sparse.linalg import lsqr

from .interrupt import checkpoint
from .linear import (
    EXACT_RANK_MACS,
    RANK_RTOL,
    B_operator,
    B_rank_deficient,
    B_rmatvec,
    add_normal_rows,
    dense_B,
    gram_apply,
    gram_matrix,
    normal_matrix,
    numerically_singular,
    rank_loss,
    unvec,
    vec,
)

# CG stops when ||R|| <= CG_RTOL ||B^T b|| and its error estimate is below CG_ETOL ||W||
# (the plain residual alone let the error reach 50-5000 x rtol as kappa(B) grew).
CG_RTOL = 1e-11
CG_ETOL = 1e-10
CG_MAXITER = 2000
PINV_RCOND = RANK_RTOL       # eigenvalues of B^T B below this times the largest count as zero
LSTSQ_RCOND = RANK_RTOL**0.5  # the same cut on singular values of B (sigma_min <= 1e-6 sigma_max)


@dataclass(frozen=True)
class SolveInfo:
    """How one AM step was solved."""

    solver: str
    inner_iters: int
    underdetermined: bool   # n < d^2: the minimum-norm solution was taken
    rank_deficient: bool    # B lacks full column rank (includes underdetermined)


def residual_target(X: np.ndarray, S: np.ndarray, y: np.ndarray) -> np.ndarray:
    """b = y - B vec(I) = y - sum_q S[:, q] X[:, q]."""
    return y - np.einsum("iq,iq->i", X, S)


def _psd_solve(A: np.ndarray, b: np.ndarray, pinv: bool = False) -> tuple[np.ndarray, bool]:
    """Solve A x = b for symmetric PSD A (lower triangle read): Cholesky, or the
    pseudo-inverse if singular (or if ``pinv``: known singular).

    Returns (x, singular). The pseudo-inverse gives the minimum-norm solution.
    """
    if pinv:
        return _pinv_solve(A, b), True
    try:
        c = sla.cho_factor(A, lower=True, overwrite_a=False, check_finite=False)
        x = sla.cho_solve(c, b, check_finite=False)
        # Cholesky "succeeds" on nearly singular matrices; check the solve is sound.
        if np.all(np.isfinite(x)) and np.min(np.abs(np.diag(c[0]))) > 1e-7 * np.max(np.abs(np.diag(c[0]))):
            return x, False
    except np.linalg.LinAlgError:
        pass
    return _pinv_solve(A, b), True


def _pinv_solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Minimum-norm solution of A x = b, A symmetric PSD, by eigh (eigenvalues below
    PINV_RCOND * lambda_max count as zero)."""
    w, V = np.linalg.eigh(A, UPLO="L")
    keep = w > PINV_RCOND * max(w[-1], 0.0)
    return V[:, keep] @ ((V[:, keep].T @ b) / w[keep])


def solve_dense(X, S, y):
    """Reference: np.linalg.lstsq on B formed explicitly (minimum-norm W)."""
    n, d = X.shape
    B = dense_B(X, S)
    w, _, rank, _ = np.linalg.lstsq(B, residual_target(X, S, y), rcond=LSTSQ_RCOND)
    return unvec(w, d), SolveInfo("dense", 0, n < d * d, rank < d * d)


def solve_cholesky(X, S, y, cache: dict | None = None):
    """Normal equations (B^T B) vec(W) = B^T b, B^T B assembled in row chunks.

    First in single precision (half the time of the n d^4 assembly), refined to
    double precision by iterative refinement: w += (L L^T)^{-1} (B^T b - B^T B w),
    the residual computed in float64 without forming B. This converges to the
    float64 solution while kappa(B^T B) eps_32 < 1; otherwise (or if B^T B is
    singular) the float64 normal matrix is assembled and solved, with the
    pseudo-inverse (minimum norm) when singular.

    ``cache``: a dict kept across the AM steps of one run. On the same X, the
    float32 B^T B of the previous step is updated by the rows whose masks changed,
    B^T B += B_new^T B_new - B_old^T B_old over those rows (late AM steps change
    few), instead of being assembled again; it only has to precondition the
    refinement, so the float32 drift of the updates does not reach the answer.

    Small problems (``linear.EXACT_RANK_MACS``, where the exact rank test runs): the float64
    B^T B is assembled once, and its Cholesky factor, when it certifies full rank
    (:func:`_certified_cholesky`), gives the solution directly; eigvalsh decides otherwise.
    """
    n, d = X.shape
    rhs = vec(B_rmatvec(X, S, residual_target(X, S, y)))
    G64 = None
    if _small(n, d):
        # The exact rank test's float64 B^T B, factored: when the factor certifies full rank,
        # it is the solve (no eigvalsh, no float32 assembly); else the exact test decides.
        deficient = rank_loss(S, X, exact=False).deficient
        if not deficient:
            G64 = normal_matrix(X, S, lower_only=True)
            checkpoint()
            G64, c = _certified_cholesky(G64)
            checkpoint()
            if c is not None:
                return unvec(sla.cho_solve(c, rhs, check_finite=False), d), SolveInfo("cholesky", 0, False, False)
            deficient = numerically_singular(np.linalg.eigvalsh(G64, UPLO="L"))
        if deficient:     # lstsq: the minimum norm without the normal equations' kappa^2
            return _min_norm_small(X, S, y), SolveInfo("cholesky", 0, n < d * d, True)
    else:
        deficient = B_rank_deficient(S, X)
    if not deficient:
        w, steps = _refined_cholesky32(X, S, rhs, cache)
        if w is not None:
            return unvec(w, d), SolveInfo("cholesky", steps, False, False)
    G = normal_matrix(X, S, lower_only=True) if G64 is None else G64
    w, singular = _psd_solve(G, rhs, pinv=deficient)
    return unvec(w, d), SolveInfo("cholesky", 0, n < d * d, singular)


CERTIFY_MARGIN = 10.0     # headroom for rounding in the bounds of _certified_cholesky


def _certified_cholesky(G: np.ndarray):
    """(G, cho_factor of G) when the factor proves that G = B^T B (lower triangle read) is
    not numerically singular (``linear.numerically_singular``), else (G, None).

    With G = L L^T: lambda_min(G) = 1 / ||L^{-1}||_2^2 >= 1 / ||L^{-1}||_F^2, and
    lambda_max(G) <= trace(G). So lambda_min > RANK_RTOL lambda_max whenever
    CERTIFY_MARGIN RANK_RTOL ||L^{-1}||_F^2 trace(G) < 1. The bound is loose by at most
    d^4 (1.6e5 at d = 20), far inside the gap of a well-posed AM step (kappa(B^T B) ~
    1e2-1e4 against 1 / RANK_RTOL = 1e12); a matrix it cannot certify goes to eigvalsh.
    Costs two d^6 / 3 triangular passes, a quarter of eigvalsh.
    """
    try:
        L = sla.cholesky(G, lower=True, check_finite=False)       # zeros above the diagonal
    except np.linalg.LinAlgError:
        return G, None
    inv, info = sla.lapack.dtrtri(L, lower=1)
    bound = CERTIFY_MARGIN * RANK_RTOL * np.linalg.norm(inv) ** 2 * np.trace(G)
    certified = info == 0 and np.isfinite(bound) and bound < 1.0
    return G, ((L, True) if certified else None)


REFINE_STEPS = 10
REFINE_TOL = 1e-14
REBUILD_EVERY = 8     # updates of the cached float32 B^T B before it is assembled afresh


def _normal32(X, S, cache: dict | None) -> np.ndarray:
    """float32 B^T B (lower triangle): from the cache updated by the changed rows,
    or assembled."""
    same = cache is not None and cache.get("X") is X
    X32 = cache["X32"] if same else X.astype(np.float32)
    S32 = S.astype(np.float32)
    G = None
    if same and cache["updates"] < REBUILD_EVERY:
        changed = np.flatnonzero(np.any(S32 != cache["S32"], axis=1))
        if 2 * len(changed) <= len(X):
            Xc = X32[changed]
            G = add_normal_rows(cache["G"], Xc, S32[changed], 1.0)
            G = add_normal_rows(G, Xc, cache["S32"][changed], -1.0)
            cache["updates"] += 1
    if G is None:
        G = normal_matrix(X32, S32, lower_only=True)
        if cache is not None:
            cache["updates"] = 0
    if cache is not None:
        cache.update(X=X, X32=X32, S32=S32, G=G)
    return G


def _refined_cholesky32(X, S, rhs, cache: dict | None = None):
    """(w, refinement steps) with B^T B w = rhs to float64 accuracy, or (None, 0)."""
    d = X.shape[1]
    G = _normal32(X, S, cache)
    try:
        c = sla.cho_factor(G, lower=True, overwrite_a=cache is None, check_finite=False)
    except np.linalg.LinAlgError:
        return None, 0
    diag = np.abs(np.diag(c[0]))
    if not np.all(np.isfinite(diag)) or diag.min() <= 1e-3 * diag.max():   # kappa >~ 1e6
        return None, 0
    w = sla.cho_solve(c, rhs.astype(np.float32), check_finite=False).astype(float)
    prev = np.inf
    for k in range(1, REFINE_STEPS + 1):
        checkpoint()
        R = rhs - vec(gram_apply(X, S, unvec(w, d)))
        delta = sla.cho_solve(c, R.astype(np.float32), check_finite=False).astype(float)
        w += delta
        size, scale = np.linalg.norm(delta), np.linalg.norm(w)
        if size <= REFINE_TOL * scale:
            return w, k
        if size > 0.5 * prev:    # no longer contracting: at the rounding floor, or diverging
            return (w, k) if size <= 1e-11 * scale else (None, 0)
        prev = size
    return None, 0


def solve_gram(X, S, y):
    """Minimum-norm solution W = B^T z with (B B^T) z = b (n x n system)."""
    n, d = X.shape
    # B B^T has rank <= d^2 < n when n > d^2: take the pseudo-inverse outright
    G = gram_matrix(X, S)
    checkpoint()
    z, singular = _psd_solve(G, residual_target(X, S, y), pinv=n > d * d)
    return B_rmatvec(X, S, z), SolveInfo("gram", 0, n < d * d, singular or n < d * d)


class KroneckerPreconditioner:
    """P = (S^T S) kron (X^T X / n) ~ B^T B; applies P^{-1} vec(R) = vec(C^{-1} R A^{-1}).

    Exact in expectation on the diagonal blocks (E[1{x.u > 0} x x^T] = E[x x^T] / 2
    for symmetric x) and it captures the v v^T spike of the off-diagonal blocks.
    """

    def __init__(self, X: np.ndarray, S: np.ndarray):
        n, d = X.shape
        ridge = 1e-10
        A = S.T @ S
        C = X.T @ X / n
        eye = np.eye(d)
        # Explicit d x d inverses: two small products per application beat
        # triangular solves, which do not thread well at this size.
        self._A_inv = sla.cho_solve(sla.cho_factor(A + ridge * np.trace(A) / d * eye), eye)
        self._C_inv = sla.cho_solve(sla.cho_factor(C + ridge * np.trace(C) / d * eye), eye)

    def __call__(self, R: np.ndarray) -> np.ndarray:
        return self._C_inv @ R @ self._A_inv


class PopulationPreconditioner:
    """Approximate (B^T B)^{-1} from the Gaussian population model of B^T B.

    For x ~ N(0, s^2 I) and unit a, b at angle theta,
        E[1{x.a > 0} 1{x.b > 0} x x^T] = s^2 [(pi - theta)/(2 pi) I
                + (a b^T + b a^T - cos(theta) (a a^T + b b^T)) / (2 pi sin(theta))],
    and block (p, q) of B^T B is about n v_p v_q times that with a, b the unit
    directions of u_p, u_q. The model keeps the sample Kronecker part and adds the
    rank-2 terms, which the Kronecker preconditioner misses (they put outliers of
    size ~ d/(2 pi) and a transpose-like coupling into its spectrum):
        A_pop(W) = C W D + c Uh Phi(Uh^T W),   C = X^T X, D = S^T S / n, c = tr(C)/d.
    A_pop^{-1} is applied by ``inner`` CG steps preconditioned by C^{-1} . D^{-1},
    O(d^3) each, against O(n d^2) for B^T B. The directions are estimated from
    the masks, u_q ~ X^T (2 m_q - 1), so only X and S are needed. Not a fixed
    linear map: use it with flexible CG (or LOBPCG).
    """

    def __init__(self, X: np.ndarray, S: np.ndarray, inner: int = 4):
        n, d = X.shape
        self.inner = inner
        self.kron = KroneckerPreconditioner(X, S)
        M = S != 0
        count = M.sum(axis=0)
        v = np.where(count > 0, S.sum(axis=0) / np.maximum(count, 1), 0.0)
        self.C = X.T @ X
        self.D = S.T @ S / n
        self.c = np.trace(self.C) / d
        Uh = X.T @ (2.0 * M - 1.0)
        Uh /= np.maximum(np.linalg.norm(Uh, axis=0), 1e-300)
        cos = np.clip(Uh.T @ Uh, -1.0, 1.0)
        sin = np.sqrt(np.maximum(1.0 - cos**2, 1e-12))
        F = np.outer(v, v) / (2 * np.pi * sin)
        np.fill_diagonal(F, 0.0)
        self.Uh, self.F, self.H = Uh, F, F * cos
        self._diag = np.diag_indices(d)

    def model(self, W: np.ndarray) -> np.ndarray:
        """A_pop(W), O(d^3)."""
        G = self.Uh.T @ W
        g = np.diag(G)
        Phi = (self.F * G - self.H * g[None, :]).T
        Phi[self._diag] = self.F @ g - np.einsum("pq,pq->p", self.H, G)
        return self.C @ W @ self.D + self.c * (self.Uh @ Phi)

    def __call__(self, R: np.ndarray) -> np.ndarray:
        W = self.kron(R)
        Rr = R - self.model(W)
        Z = self.kron(Rr)
        P = Z
        rz = np.vdot(Rr, Z)
        for _ in range(self.inner):
            Q = self.model(P)
            pq = np.vdot(P, Q)
            if not pq > 0 or not rz > 0:   # the model is not positive here: keep what we have
                break
            a = rz / pq
            W = W + a * P
            Rr = Rr - a * Q
            Z = self.kron(Rr)
            rz, rz_old = np.vdot(Rr, Z), rz
            P = Z + (rz / rz_old) * P
        return W


def solve_cg(X, S, y, W0=None, rtol=CG_RTOL, maxiter=CG_MAXITER):
    """Flexible preconditioned CG on (B^T B) vec(W) = B^T b, matrix-free, warm-started at W0.

    Each iteration costs two n x d by d x d products (B^T B P) plus an O(d^3)
    :class:`PopulationPreconditioner`; beta is the flexible (Polak-Ribiere) one.
    Stops when ||B^T b - B^T B w|| <= rtol ||B^T b|| and the estimated error
    ||M^{-1} R|| / lambda_min(M^{-1} B^T B) <= CG_ETOL ||W||. CG from a warm start keeps
    the start's null-space part, so it is used only when B has full column rank:
    a rank loss :func:`B_rank_deficient` sees (n < d^2, a neuron active on fewer
    than d samples, dependent or too few distinct activation patterns), a
    breakdown, or no convergence in min(maxiter, max(200, 20 d^2)) steps sends the
    solve to LSQR from zero, which returns the minimum-norm solution. With X the rank
    test is exact for small problems (``linear.rank_loss``: rank losses of overlapping
    patterns are generic at d <= 8); above its size limit a loss no structural test sees
    (none found at d >= 10) would go unnoticed, and the answer would solve the
    least-squares problem without being the minimum-norm one.
    """
    n, d = X.shape
    if B_rank_deficient(S, X):
        return _lsqr_fallback(X, S, y, 0)
    rhs = B_rmatvec(X, S, residual_target(X, S, y))
    W = np.zeros((d, d)) if W0 is None else np.array(W0, dtype=float)
    R = rhs - gram_apply(X, S, W)
    stop = rtol * np.linalg.norm(rhs)
    precond = PopulationPreconditioner(X, S)
    Z = precond(R)
    P = Z
    rz = np.vdot(R, Z)
    k, cap = 0, min(maxiter, max(200, 20 * d * d))
    lanczos = _LanczosMin()
    while not _cg_done(R, Z, W, stop, lanczos):
        checkpoint()     # between CG iterations: a stop is heard within one (O(n d^2))
        Q = gram_apply(X, S, P)
        pq = np.vdot(P, Q)
        if not pq > 0 or k >= cap:   # breakdown or stagnation: B nearly rank deficient
            return _lsqr_fallback(X, S, y, k)
        alpha = rz / pq
        W += alpha * P
        R_new = R - alpha * Q
        Z = precond(R_new)
        beta = np.vdot(Z, R_new - R) / rz
        rz, rz_old = np.vdot(R_new, Z), rz
        lanczos.add(alpha, rz / rz_old)
        P = Z + beta * P
        R = R_new
        k += 1
    return W, SolveInfo("cg", k, False, False)


def _cg_done(R, Z, W, stop: float, lanczos) -> bool:
    """||R|| <= stop, and the error estimate ||M^{-1} R|| / lambda_min(M^{-1} B^T B)
    <= CG_ETOL ||W||; lambda_min from the CG-Lanczos tridiagonal (a Ritz value, so
    the estimate errs low early on; CG_ETOL leaves two orders of margin to 1e-8)."""
    if np.linalg.norm(R) > stop:
        return False
    return bool(np.linalg.norm(Z) <= CG_ETOL * np.linalg.norm(W) * lanczos.smallest())


class _LanczosMin:
    """Smallest eigenvalue of the Lanczos tridiagonal CG builds implicitly:
    T_jj = 1/alpha_j + beta_{j-1}/alpha_{j-1}, T_j,j+1 = sqrt(beta_j)/alpha_j."""

    def __init__(self):
        self.alpha, self.beta = [], []

    def add(self, alpha: float, beta: float) -> None:
        self.alpha.append(alpha)
        self.beta.append(beta)

    def smallest(self) -> float:
        if not self.alpha:
            return 1.0
        a, b = np.array(self.alpha), np.array(self.beta)
        diag = 1 / a
        diag[1:] += b[:-1] / a[:-1]
        off = np.sqrt(np.maximum(b[:-1], 0)) / a[:-1]
        return float(sla.eigvalsh_tridiagonal(diag, off, select="i", select_range=(0, 0))[0])


def _lsqr_fallback(X, S, y, cg_steps: int):
    W, info = solve_lsqr(X, S, y)
    return W, SolveInfo("cg", cg_steps + info.inner_iters, info.underdetermined, info.rank_deficient)


DENSE_MIN_NORM_BYTES = 64 * 2**20    # B and lstsq's copies, for the exact minimum-norm fallback


def _small(n: int, d: int) -> bool:
    """Small enough for the exact rank test (linear.EXACT_RANK_MACS) and a dense solve."""
    return n * d**4 / 2 <= EXACT_RANK_MACS


def _min_norm_small(X, S, y) -> np.ndarray:
    """Minimum-norm W over B's numerical range, densely: lstsq with the RANK_RTOL cut when
    B fits DENSE_MIN_NORM_BYTES, else the eigh pseudo-inverse of B^T B."""
    n, d = X.shape
    if 24 * n * d * d <= DENSE_MIN_NORM_BYTES:
        return solve_dense(X, S, y)[0]
    rhs = vec(B_rmatvec(X, S, residual_target(X, S, y)))
    return unvec(_pinv_solve(normal_matrix(X, S, lower_only=True), rhs), d)


LSQR_MAXITER = 20000


def inner_cap(d: int) -> int:
    """Most inner iterations one exact AM step can take on the matrix-free path: CG's cap, then
    LSQR's (reached only when B is nearly singular, as near n = d^2)."""
    return min(CG_MAXITER, max(200, 20 * d * d)) + LSQR_MAXITER


def solve_lsqr(X, S, y, tol=1e-14, maxiter=LSQR_MAXITER):
    """SciPy LSQR from zero on B vec(W) = b, matrix-free (minimum-norm W).

    When B is rank deficient and small (``linear.EXACT_RANK_MACS``), the solve is dense
    instead, with the same RANK_RTOL cut as the other paths: LSQR converges to the
    minimum-norm solution over *all* nonzero singular values, so a B with sigma_min/sigma_max
    between 0 and 1e-6 would otherwise give a different (and much longer) W.
    """
    n, d = X.shape
    deficient = B_rank_deficient(S, X)
    if deficient and _small(n, d):
        return _min_norm_small(X, S, y), SolveInfo("lsqr", 0, n < d * d, True)
    out = lsqr(B_operator(X, S), residual_target(X, S, y), atol=tol, btol=tol,
               conlim=1e12, iter_lim=maxiter)
    return unvec(out[0], d), SolveInfo("lsqr", int(out[2]), n < d * d, deficient)


def solve_am_step(path: str, X, S, y, W_prev=None, cache: dict | None = None):
    """One AM solve, eq. (3), by ``path``; returns (W^{t+1}, SolveInfo).

    ``W_prev`` warm-starts CG; ``cache`` (a dict the caller keeps across the steps
    of one run) lets the Cholesky path update B^T B instead of assembling it.
    """
    if path == "cg":
        return solve_cg(X, S, y, W_prev)
    if path == "cholesky":
        return solve_cholesky(X, S, y, cache)
    return {"dense": solve_dense, "cholesky": solve_cholesky, "gram": solve_gram,
            "lsqr": solve_lsqr}[path](X, S, y)
