"""Population (n -> infinity) values of the theory's quantities, in closed form.

For z ~ N(0, I_d) and nonzero a, b at angle theta in [0, pi] (unit vectors â, b̂):

    J(a, b) = E[1{z.a > 0} 1{z.b > 0} z z^T]
            = (pi - theta)/(2 pi) I + (â b̂^T + b̂ â^T - cos(theta) (â â^T + b̂ b̂^T)) / (2 pi sin(theta))
    m(a, b) = E[(z.b)^2 1{(z.a)(z.b) <= 0}] = |b|^2 (theta - sin(theta) cos(theta)) / pi

(the formula of ``lsq.PopulationPreconditioner``; J(a, a) = I/2, J(a, -a) = 0). Row i of
B = [v_1 P_1 X, ..., v_d P_d X] is s_i kron x_i, so for N(0, 1) inputs (the lemmas' units)

    E[B^T B] / n = K,   K_pq = v_p v_q J(u_p, u_q)            (d^2 x d^2, vec stacks columns)
    E[||E_q||^2]  = m(u_q, u*_q)                              (Lemma 2's summands)

Our inputs are N(0, 1/n): B/sqrt(n) has sigma^2 -> eig(K)/n and ||E_q|| -> sqrt(m/n), so
kappa -> cond(K) and rho_AM are scale-free, while sigma and rho_3 carry a factor 1/sqrt(n).
The masks depend on directions only, so a column u_q = 0 is a neuron that never fires
(J = 0, and every sample with z.u*_q > 0 is mismatched: m = |u*_q|^2 / 2).
"""
from __future__ import annotations

import math

import numpy as np

from .budget import DENSE_SPECTRUM_MAX_COLS

SIN_FLOOR = 1e-7     # below this sin(theta) the rank-2 part of J (of size O(sin theta)) is dropped


def _unit_columns(U: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unit columns of U, which columns are nonzero)."""
    norms = np.linalg.norm(U, axis=0)
    nonzero = norms > 0
    return U / np.where(nonzero, norms, 1.0), nonzero


def indicator_second_moment(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """J(a, b) = E[1{z.a > 0} 1{z.b > 0} z z^T] for z ~ N(0, I), shape (d, d) (module doc)."""
    A, nz = _unit_columns(np.column_stack([a, b]).astype(float))
    d = len(a)
    if not nz.all():
        return np.zeros((d, d))
    ah, bh = A[:, 0], A[:, 1]
    c = float(np.clip(ah @ bh, -1.0, 1.0))
    theta = math.acos(c)
    s = math.sin(theta)
    J = (math.pi - theta) / (2 * math.pi) * np.eye(d)
    if s > SIN_FLOOR:
        J += (np.outer(ah, bh) + np.outer(bh, ah) - c * (np.outer(ah, ah) + np.outer(bh, bh))) / (2 * math.pi * s)
    return J


def population_gram(U: np.ndarray, v: np.ndarray) -> np.ndarray:
    """K = E[B^T B]/n for N(0, 1) inputs, B built at U = W + I with signs v: shape (d^2, d^2).

    Block (p, q) (rows p*d..p*d+d-1, columns q*d..) is v_p v_q J(u_p, u_q). Built one block
    row at a time: peak memory the d^4 result plus O(d^3).
    """
    d = U.shape[0]
    A, nz = _unit_columns(np.asarray(U, dtype=float))
    C = np.clip(A.T @ A, -1.0, 1.0)
    np.fill_diagonal(C, 1.0)        # theta_pp = 0 exactly: J(u, u) = I/2
    theta = np.arccos(C)
    S = np.sin(theta)
    alpha = (math.pi - theta) / (2 * math.pi)
    F = np.where(S > SIN_FLOOR, 1.0 / (2 * math.pi * np.maximum(S, SIN_FLOOR)), 0.0)
    sign = np.outer(v, v) * np.outer(nz, nz)
    K = np.empty((d * d, d * d))
    eye = np.eye(d)
    for p in range(d):
        a = A[:, p]
        # slab[j, q, k] = J(u_p, u_q)[j, k]
        rank2 = (a[:, None, None] * A.T[None, :, :] + A[:, :, None] * a[None, None, :]
                 - C[p][None, :, None] * (np.outer(a, a)[:, None, :]
                                          + np.einsum("jq,kq->jqk", A, A)))
        slab = alpha[p][None, :, None] * eye[:, None, :] + F[p][None, :, None] * rank2
        slab *= sign[p][None, :, None]
        K[p * d:(p + 1) * d] = slab.reshape(d, d * d)
    return K


def population_spectrum(U: np.ndarray, v: np.ndarray) -> tuple[float, float]:
    """(lambda_min, lambda_max) of K = E[B^T B]/n for N(0, 1) inputs: the n -> infinity limits of
    n sigma_min^2 and n sigma_max^2 of our B/sqrt(n).

    Raises ValueError when d^2 > budget.DENSE_SPECTRUM_MAX_COLS (d > 50): the dense
    d^2 x d^2 eigenproblem would not fit the memory of a shared server.
    """
    d = U.shape[0]
    if d * d > DENSE_SPECTRUM_MAX_COLS:
        raise ValueError(f"d must be an integer in [2, {math.isqrt(DENSE_SPECTRUM_MAX_COLS)}] for the "
                         f"population spectrum (a d^2 x d^2 eigenproblem); got {d}")
    ev = np.linalg.eigvalsh(population_gram(U, v))
    return float(max(ev[0], 0.0)), float(ev[-1])


def kappa_population(U: np.ndarray, v: np.ndarray) -> float:
    """kappa_inf = lim_{n->inf} kappa(B/sqrt(n)) = cond(K) at U = W + I (inf if K is singular).
    Scale-free: the same for N(0, 1) and N(0, 1/n) inputs. ValueError for d > 50."""
    lo, hi = population_spectrum(U, v)
    return hi / lo if lo > 1e-14 * hi else math.inf


def mismatch_energy(a: np.ndarray, b: np.ndarray) -> float:
    """m(a, b) = E[(z.b)^2 1{z's side of a differs from its side of b}], z ~ N(0, I):
    |b|^2 (theta - sin theta cos theta)/pi, or |b|^2/2 when a = 0 (a neuron that never fires)."""
    nb = float(np.linalg.norm(b))
    na = float(np.linalg.norm(a))
    if nb == 0:
        return 0.0
    if na == 0:
        return nb * nb / 2
    theta = math.acos(float(np.clip(a @ b / (na * nb), -1.0, 1.0)))
    return nb * nb * (theta - math.sin(theta) * math.cos(theta)) / math.pi


def rho3_population(W: np.ndarray, W_star: np.ndarray) -> tuple[float, float]:
    """Population rho_3 at W in the lemmas' N(0, 1) units: (sum form, root-sum-square form),

        sum_q sqrt(m(u_q, u*_q)) / ||W - W*||_F   and   sqrt(sum_q m(u_q, u*_q)) / ||W - W*||_F,

    the n -> infinity limits of sqrt(n) sum_q ||E_q|| / ||W - W*||_F and of Lemma 2's
    sqrt(n) sqrt(sum_q ||E_q||^2) / ||W - W*||_F. (0, 0) at W = W*.
    """
    err = float(np.linalg.norm(W - W_star))
    if err == 0:
        return 0.0, 0.0
    d = W.shape[0]
    U, U_star = W + np.eye(d), W_star + np.eye(d)
    m = np.array([mismatch_energy(U[:, q], U_star[:, q]) for q in range(d)])
    return float(np.sqrt(m).sum() / err), float(math.sqrt(m.sum()) / err)


def rho_am_identity_start(W_star: np.ndarray, v: np.ndarray,
                          spectrum: tuple[float, float] | None = None) -> float:
    """The paper's rho_AM (5) at the identity start W^0 = 0 as n -> infinity:
    kappa_inf rho3_inf / sigma_max,inf, all at U = I (scale-free). ``spectrum``: the
    (lambda_min, lambda_max) of K at U = I if already known (it does not depend on W*)."""
    d = W_star.shape[0]
    lo, hi = spectrum if spectrum is not None else population_spectrum(np.eye(d), v)
    r3, _ = rho3_population(np.zeros((d, d)), W_star)
    return (hi / lo) * r3 / math.sqrt(hi)


def gamma_threshold(W_star: np.ndarray, v: np.ndarray, target: float = 1.0, iters: int = 60) -> float:
    """Largest gamma with rho_AM (5) < target at the identity start as n -> infinity, for the
    teacher's direction W*/||W*||_F (bisection; rho_AM grows with gamma, like sqrt(gamma) while
    gamma is small). Since rho_GD = ((kappa - 1) + 2 rho_AM)/(kappa + 1), rho_GD < 1 exactly when
    rho_AM < 1: this is the largest gamma for which the paper's bounds can hold at any n.
    Raises ValueError if W* = 0 (no direction) or d > 50."""
    norm = float(np.linalg.norm(W_star))
    if norm == 0:
        raise ValueError("W_star must be nonzero: the threshold is along its direction; got W* = 0")
    D = W_star / norm
    spectrum = population_spectrum(np.eye(W_star.shape[0]), v)
    f = lambda g: rho_am_identity_start(g * D, v, spectrum) - target  # noqa: E731
    lo, hi = 0.0, 1e-6
    while f(hi) < 0 and hi < 1e6:
        lo, hi = hi, hi * 4
    for _ in range(iters):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(mid) < 0 else (lo, mid)
    return lo
