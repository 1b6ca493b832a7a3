"""The dense reference, written straight from the slides, for the benchmarks.

Everything is formed explicitly and solved with the textbook call:

    P_q = diag(1{X u_q > 0}),  B = [v_1 P_1 X, ..., v_d P_d X]  (n x d^2, formed)     (2)
    GD:  vec(W^{t+1}) = vec(W^t) + (eta/n) B^T (y - B vec(W^t + I))                     (1)
         eta = 2 / (sigma_min^2 + sigma_max^2), sigma = singular values of B^0/sqrt(n)
    AM:  vec(W^{t+1}) = argmin_W || B vec(W + I) - y ||  by np.linalg.lstsq              (3)

Both run exactly T iterations, no early exit. Where eq. (3) has many solutions
(n < d^2, a neuron never active) lstsq's minimum-norm answer is taken for vec(W),
i.e. the solution closest to U = I: the package's convention.
"""
from __future__ import annotations

import numpy as np


def vec(U: np.ndarray) -> np.ndarray:
    """Stack the columns of U."""
    return np.concatenate([U[:, q] for q in range(U.shape[1])])


def unvec(u: np.ndarray, d: int) -> np.ndarray:
    """Inverse of vec: column q is u[q d : (q + 1) d]."""
    return np.column_stack([u[q * d:(q + 1) * d] for q in range(d)])


def B_dense(X: np.ndarray, U: np.ndarray, v: np.ndarray) -> np.ndarray:
    """B = [v_1 P_1 X, ..., v_d P_d X] with P_q = diag(1{X u_q > 0}), block by block."""
    return np.hstack([v[q] * (X @ U[:, q] > 0)[:, None] * X for q in range(U.shape[1])])


def sigma_extremes(B: np.ndarray) -> tuple[float, float]:
    """(sigma_min, sigma_max) of B / sqrt(n) by a full SVD; sigma_min = 0 when n < d^2."""
    n, cols = B.shape
    s = np.linalg.svd(B / np.sqrt(n), compute_uv=False)
    return (0.0 if n < cols else float(s[-1])), float(s[0])


def _iterate_dense(X, v, W0, T: int, step) -> list[np.ndarray]:
    """W^0..W^T with W^{t+1} = step(B^t, W^t), B^t formed at W^t + I by eq. (2)."""
    d = X.shape[1]
    W = np.array(W0, dtype=float)
    out = [W.copy()]
    for _ in range(T):
        W = step(B_dense(X, W + np.eye(d), v), W)
        out.append(W.copy())
    return out


def gd_dense(X, y, v, W0, T: int, eta: float | None = None) -> list[np.ndarray]:
    """T steps of eq. (1) with B formed every step; eta from the spectrum of B^0 if None."""
    n, d = X.shape
    etas = [eta]

    def step(B, W):
        if etas[0] is None:
            lo, hi = sigma_extremes(B)
            etas[0] = 2.0 / (lo**2 + hi**2)
        return unvec(vec(W) + (etas[0] / n) * (B.T @ (y - B @ vec(W + np.eye(d)))), d)

    return _iterate_dense(X, v, W0, T, step)


def am_dense(X, y, v, W0, T: int) -> list[np.ndarray]:
    """T steps of eqs. (2)-(3): B formed at W^t, then np.linalg.lstsq for vec(W^{t+1})."""
    d = X.shape[1]
    I = np.eye(d)
    return _iterate_dense(X, v, W0, T,
                          lambda B, W: unvec(np.linalg.lstsq(B, y - B @ vec(I), rcond=None)[0], d))


def rel_err(W: np.ndarray, W_star: np.ndarray) -> float:
    """||W - W*||_F / ||W* + I||_F, the paper's success measure."""
    return float(np.linalg.norm(W - W_star) / np.linalg.norm(W_star + np.eye(len(W_star))))
