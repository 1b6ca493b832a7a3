"""Extreme singular values of B / sqrt(n): dense for small d, matrix-free above.

sigma^2 are the extreme eigenvalues of B^T B / n (Lemma 1's sigma_min, sigma_max;
kappa = sigma_max^2 / sigma_min^2, eta = 2 / (sigma_min^2 + sigma_max^2)).
"""
from __future__ import annotations

import numpy as np

from .budget import DENSE_SPECTRUM_MAX_COLS
from .interrupt import checkpoint
from .linear import gram_apply, gram_matrix, normal_matrix, numerically_singular, rank_loss
from .lsq import PopulationPreconditioner

SIGMA_MIN_RTOL = 1e-2     # default relative accuracy of the matrix-free sigma_min^2
MAX_RESIDUAL = 1e-5       # sigma_max^2: stop at ||A x - theta x|| <= MAX_RESIDUAL theta
MAXITER = 400


def extreme_singular_values(X: np.ndarray, S: np.ndarray, method: str = "auto",
                            rtol: float = SIGMA_MIN_RTOL) -> tuple[float, float]:
    """(sigma_min, sigma_max) of B / sqrt(n), B built from signed masks S.

    ``dense`` (auto while min(n, d^2) <= DENSE_SPECTRUM_MAX_COLS): eigvalsh of the
    assembled B^T B (or of B B^T when n < d^2), exact to rounding.
    ``matrix_free``: two single-vector LOBPCG runs on x -> B^T B x / n, one
    product pair per step. sigma_max starts from the best vector of the form
    z v^T (the v v^T spike of B^T B) and is exact to ~1e-9. sigma_min uses the
    population preconditioner and stops when the estimated relative error of
    sigma_min^2 is below ``rtol``: Ritz values approach the soft bottom edge of the
    spectrum like 1/k^a, a ~ 1..2, so the error is estimated as (theta_{k/2} - theta_k)/2
    (measured at d = 60, 100, n = 2 d^2: actual error 0.003-1.2 x rtol; default 1e-2
    gives sigma_min to ~0.1%). The value returned is a Ritz value, an upper bound;
    near n ~ d^2 the iteration can stall far above sigma_min (measured +9% to +88% in
    sigma_min^2 at d = 41..60, n ~ d^2), which is why ``auto`` stays dense up to d = 50.
    sigma_min = 0 exactly when B has a null space: a structural rank loss of
    :func:`~shallowres.linear.rank_loss` (n < d^2, a zero or dependent feature of X, a
    neuron active on fewer than d samples, dependent mask columns), or, dense, an
    eigenvalue of B^T B at most ``linear.RANK_RTOL`` times the largest (sigma_min <=
    1e-6 sigma_max: the rounding of B^T B cannot tell it from 0).
    """
    n, d = X.shape
    singular = rank_loss(S, X, exact=False).deficient
    if method == "dense" or (method == "auto" and min(n, d * d) <= DENSE_SPECTRUM_MAX_COLS):
        G = gram_matrix(X, S) if n < d * d else normal_matrix(X, S, lower_only=True)
        ev = np.linalg.eigvalsh(G, UPLO="L") / n
        lo = 0.0 if singular or numerically_singular(ev) else max(ev[0], 0.0)
        return float(np.sqrt(lo)), float(np.sqrt(max(ev[-1], 0.0)))
    A = lambda W: gram_apply(X, S, W) / n
    hi = _lobpcg(A, _spike_start(X, S), largest=True)
    if singular:
        return 0.0, float(np.sqrt(max(hi, 0.0)))
    M = PopulationPreconditioner(X, S)
    x0 = M(np.random.default_rng(0).standard_normal((d, d)))
    lo = _lobpcg(A, x0, largest=False, precond=lambda R: M(R * n), rtol=rtol, floor=1e-14 * hi)
    return float(np.sqrt(max(lo, 0.0))), float(np.sqrt(max(hi, 0.0)))


def _spike_start(X: np.ndarray, S: np.ndarray) -> np.ndarray:
    """The best W = z v^T: B vec(z v^T) = (X z) * c with c = S v, so z is the top
    eigenvector of X^T diag(c^2) X (d x d). B^T B's top eigenvector is close to it."""
    M = S != 0
    count = M.sum(axis=0)
    v = np.where(count > 0, S.sum(axis=0) / np.maximum(count, 1), 0.0)
    c = S @ v
    _, V = np.linalg.eigh(X.T @ (X * (c * c)[:, None]))
    return np.outer(V[:, -1], v)


def _lobpcg(A, x0: np.ndarray, largest: bool, precond=None, rtol: float = 0.0,
            floor: float = 0.0) -> float:
    """Extreme eigenvalue of the symmetric operator A on d x d matrices by LOBPCG
    with one vector: Rayleigh-Ritz on span{x, w, p}, w = precond(A x - theta x).

    largest: stop at ||r|| <= MAX_RESIDUAL theta (eigenvalue error ~ ||r||^2 / gap).
    smallest: stop when (theta_{k/2} - theta_k) / 2 <= rtol theta_k (k >= 8), or
    theta <= floor (numerically singular).
    """
    sign = -1.0 if largest else 1.0          # minimize sign * x^T A x
    x = x0 / np.linalg.norm(x0)
    Ax = A(x)
    theta = float(np.vdot(x, Ax))
    p = Ap = None
    history = [theta]
    for k in range(1, MAXITER + 1):
        checkpoint()
        r = Ax - theta * x
        rn = np.linalg.norm(r)
        if rn <= (MAX_RESIDUAL if largest else 1e-10) * abs(theta):
            break
        w = precond(r) if precond is not None else r
        w = w / np.linalg.norm(w)
        Aw = A(w)
        basis, images = [x, w], [Ax, Aw]
        if p is not None:
            pn = np.linalg.norm(p)
            basis.append(p / pn)
            images.append(Ap / pn)
        Sb = np.array([b.ravel() for b in basis])
        Ab = np.array([b.ravel() for b in images])
        gram = Sb @ Sb.T
        H = sign * (Sb @ Ab.T)
        H = (H + H.T) / 2
        try:   # generalized eigenproblem H c = mu gram c on the small basis
            L = np.linalg.cholesky(gram)
            Li = np.linalg.inv(L)
            mu, C = np.linalg.eigh(Li @ H @ Li.T)
            c = Li.T @ C[:, 0]
        except np.linalg.LinAlgError:   # basis nearly dependent: restart without p
            p = Ap = None
            continue
        x_new = np.tensordot(c, np.array(basis), axes=1)
        Ax_new = np.tensordot(c, np.array(images), axes=1)
        p = np.tensordot(c[1:], np.array(basis[1:]), axes=1)
        Ap = np.tensordot(c[1:], np.array(images[1:]), axes=1)
        nx = np.linalg.norm(x_new)
        x, Ax = x_new / nx, Ax_new / nx
        theta = float(np.vdot(x, Ax))
        history.append(theta)
        if not largest and (theta <= floor or k >= 8 and (history[k // 2] - theta) / 2 <= rtol * theta):
            break
    return theta
