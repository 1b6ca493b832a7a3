"""A 2-D slice of the training loss around W*, and runs' paths projected on it.

    L(W) = 1/(2n) || y - relu(X (W + I)) v* ||^2              (the slides' loss)
    slice: L(C + a D1 + b D2) on a grid of (a, b),  C = W*

Two choices of the directions D1, D2 (d x d):

- ``plane``: the plane through W^0, W* and a third point W' (by default AM's first
  iterate, so AM's first jump lies in the plane): D1 = s e1, D2 = s e2 with e1, e2 an
  orthonormal basis (Frobenius inner product) of span(W^0 - W*, W' - W*) and
  s = ||W* + I||_F, so the coordinates are in the units of the relative error
  ||W - W*||_F / ||W* + I||_F, and W^0 sits at (||W^0 - W*||_F / s, 0).
- ``filter``: two Gaussian random directions, filter-normalized as in Li et al.,
  "Visualizing the Loss Landscape of Neural Nets" (NeurIPS 2018): column q of each
  (the incoming weights of hidden unit q) rescaled to the norm of u*_q = w*_q + e_q;
  the window is [-r, r]^2 with r = ||W^0 - W*||_F / ||W* + I||_F (the distance a run travels).
  Random directions in d^2 dimensions are nearly orthogonal to a run's path, so paths
  project close to the centre there; the plane shows them.

Matrix-free and sized to a time budget: X C, X D1, X D2 are formed once (3 n d^2
multiply-adds); then each grid point costs O(n d): X (C + a D1 + b D2) = XC + a XD1 + b XD2,
evaluated for a row of grid points at once (chunks of at most CHUNK_BYTES), never B or a
d x d product per point. :func:`grid_size` picks the largest grid whose G^2 n d
elements fit ``seconds`` at ELEMENTS_PER_SECOND, a fifth of the rate measured on one idle
core (6.7e8 n x d elements per second, chunks of 2 MB that stay in cache): at d = 20, n = 1700
the default one second gives a 59 x 59 grid, 0.2 s of CPU idle (the margin is for a shared core).
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .interrupt import checkpoint
from .problem import Problem

ELEMENTS_PER_SECOND = 1.2e8    # n x d elements of grid points per second: measured 6.7e8 on one idle core
CHUNK_BYTES = 2 * 2**20        # one chunk of grid points' X W products: a few points, cache-sized
MIN_GRID, MAX_GRID = 11, 81
MODES = ("plane", "filter")
ASPECT = 2.8                   # plane mode: the window's width / height at most this (equal units on both)


@dataclass(frozen=True, eq=False)
class Slice:
    """Loss values on a grid in the plane C + a D1 + b D2.

    ``a`` (G1,), ``b`` (G2,): grid coordinates; ``loss`` (G2, G1): loss[j, i] = L(C + a[i] D1 + b[j] D2)
    (the same 1/(2n) units as the records' train_loss); ``units``: what one unit of a and b is;
    ``labels``: what the two directions are, in words.
    """

    center: np.ndarray
    D1: np.ndarray
    D2: np.ndarray
    a: np.ndarray
    b: np.ndarray
    loss: np.ndarray
    mode: str
    units: str
    seconds: float
    labels: tuple[str, str] = ("D1", "D2")

    def point(self, a: float, b: float) -> np.ndarray:
        """W at coordinates (a, b)."""
        return self.center + a * self.D1 + b * self.D2

    def project(self, Ws: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Coordinates (a, b) of the nearest plane points to each W in ``Ws`` (T, d, d), and
        each W's distance from the plane in the units of a and b (Frobenius norm, least squares)."""
        Ws = np.asarray(Ws, dtype=float).reshape(-1, *self.center.shape)
        R = (Ws - self.center).reshape(len(Ws), -1)
        D = np.stack([self.D1.ravel(), self.D2.ravel()], axis=1)        # (d^2, 2)
        coef, *_ = np.linalg.lstsq(D, R.T, rcond=None)
        off = np.linalg.norm(R.T - D @ coef, axis=0)
        unit = math.sqrt(np.linalg.norm(self.D1) * np.linalg.norm(self.D2))
        return coef[0], coef[1], off / unit


def loss_at(X: np.ndarray, y: np.ndarray, v: np.ndarray, W: np.ndarray) -> float:
    """L(W) = 1/(2n) ||y - relu(X (W + I)) v||^2, evaluated directly."""
    r = y - np.maximum(X @ (W + np.eye(len(W))), 0.0) @ v
    return float(r @ r) / (2 * len(y))


def grid_size(n: int, d: int, seconds: float = 1.0) -> int:
    """Points per side G (odd, MIN_GRID..MAX_GRID) with G^2 n d <= seconds * ELEMENTS_PER_SECOND."""
    g = int(math.sqrt(max(seconds, 0.0) * ELEMENTS_PER_SECOND / (n * d)))
    g = min(max(g, MIN_GRID), MAX_GRID)
    return g if g % 2 else g - 1


def loss_grid(X: np.ndarray, y: np.ndarray, v: np.ndarray, C: np.ndarray, D1: np.ndarray, D2: np.ndarray,
              a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """loss[j, i] = L(C + a[i] D1 + b[j] D2), shape (len(b), len(a)), matrix-free (module doc).

    X (n, d), y (n,), v (d,), C, D1, D2 (d, d); O(n d^2 + len(a) len(b) n d).
    """
    n, d = X.shape
    Z0 = X @ (C + np.eye(d))
    Z1, Z2 = X @ D1, X @ D2
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    out = np.empty((len(b), len(a)))
    rows = int(min(len(a), max(1, CHUNK_BYTES // (8 * n * d))))     # grid points per chunk
    buf = np.empty((rows, n, d))
    for j, bj in enumerate(b):
        base = Z0 + bj * Z2
        for lo in range(0, len(a), rows):
            checkpoint()
            m = min(rows, len(a) - lo)
            Z = buf[:m]
            np.multiply(a[lo:lo + m, None, None], Z1[None], out=Z)      # X (C + a D1 + b D2), m points
            Z += base
            np.maximum(Z, 0.0, out=Z)
            r = Z @ v
            r -= y
            out[j, lo:lo + m] = np.einsum("mi,mi->m", r, r) / (2 * n)
    return out


def plane_directions(problem: Problem, W0: np.ndarray, W_third: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """D1, D2 of the ``plane`` mode (module doc): orthonormal directions through W^0 and W'
    around W*, scaled by ||W* + I||_F. When W' - W* is (nearly) parallel to W^0 - W*, or W'
    is None, or W^0 = W*, the missing direction is a fixed random one (seed of the problem)."""
    d, s = problem.d, problem.scale
    rng = np.random.default_rng(np.random.SeedSequence(problem.seed, spawn_key=(101,)))
    basis: list[np.ndarray] = []
    for V in (W0, W_third, rng.standard_normal((d, d)), rng.standard_normal((d, d))):
        if V is None or len(basis) == 2:
            continue
        R = np.asarray(V, dtype=float) - problem.W_star
        for e in basis:
            R = R - np.vdot(e, R) * e
        norm = np.linalg.norm(R)
        if norm > 1e-9 * max(s, np.linalg.norm(np.asarray(V) - problem.W_star)):
            basis.append(R / norm)
    return s * basis[0], s * basis[1]


def filter_directions(problem: Problem, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Li et al.'s filter-normalized random directions: Gaussian d x d, column q scaled to ||u*_q||."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(102,)))
    norms = np.linalg.norm(problem.U_star, axis=0)
    out = []
    for _ in range(2):
        G = rng.standard_normal((problem.d, problem.d))
        out.append(G / np.linalg.norm(G, axis=0) * norms)
    return out[0], out[1]


def _span(values: list[np.ndarray], lo: float, hi: float, margin: float) -> tuple[float, float]:
    allv = np.concatenate([np.ravel(v) for v in values] + [np.array([lo, hi])])
    allv = allv[np.isfinite(allv)]
    a, b = float(allv.min()), float(allv.max())
    pad = margin * max(b - a, 1e-12)
    return a - pad, b + pad


def landscape(problem: Problem, mode: str = "plane", *, W0: np.ndarray | None = None,
              W_third: np.ndarray | None = None, paths: Mapping[str, np.ndarray] | None = None,
              grid: int | None = None, seconds: float = 1.0, seed: int = 0, margin: float = 0.12) -> Slice:
    """The training loss on a grid around W*, covering W^0 and the projected ``paths``.

    ``mode``: "plane" (through W^0, W* and W_third; W_third defaults to the second iterate of
    ``paths["am"]`` if given, i.e. AM's W^1) or "filter" (Li et al.; range [-r, r], r the relative
    distance of W^0 from W*, widened to the paths). ``paths``: name -> iterates (T, d, d), e.g.
    the records' W of ``run(..., keep_W=True)``.
    ``grid``: points per side (odd), default :func:`grid_size` (n, d, ``seconds``).
    Raises ValueError for an unknown mode, a grid outside [3, 401] or a W of the wrong shape.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(repr(m) for m in MODES)}; got {mode!r}")
    d = problem.d
    paths = {k: np.asarray(v, dtype=float).reshape(-1, d, d) for k, v in (paths or {}).items()}
    if W0 is None:
        W0 = next(iter(paths.values()))[0] if paths else np.zeros((d, d))
    W0 = np.asarray(W0, dtype=float)
    if W0.shape != (d, d):
        raise ValueError(f"W0 must be a {d} x {d} array; got shape {W0.shape}")
    if grid is None:
        grid = grid_size(problem.n, d, seconds)
    if isinstance(grid, bool) or not isinstance(grid, int | np.integer) or not 3 <= grid <= 401:
        raise ValueError(f"grid must be an integer in [3, 401]; got {grid!r}")
    start = time.perf_counter()
    if mode == "plane":
        third = "W′"
        if W_third is None and "am" in paths and len(paths["am"]) > 1:
            W_third, third = paths["am"][1], "AM's W¹"
        D1, D2 = plane_directions(problem, W0, W_third)
        units = "relative error ‖·‖_F / ‖W* + I‖_F"
        labels = ("along W⁰ − W*", f"toward {third} − W*, ⊥ the first")
        lo, hi = 0.0, 0.0
    else:
        D1, D2 = filter_directions(problem, seed)
        units = "filter-normalized direction (Li et al.)"
        labels = ("random direction 1", "random direction 2")
        r = max(float(np.linalg.norm(W0 - problem.W_star)) / problem.scale, 0.05)
        lo, hi = -r, r
    probe = Slice(problem.W_star, D1, D2, np.zeros(1), np.zeros(1), np.zeros((1, 1)), mode, units, 0.0)
    pts = [probe.project(W0[None])] + [probe.project(P) for P in paths.values()]
    a_lo, a_hi = _span([p[0] for p in pts], lo, hi, margin)
    b_lo, b_hi = _span([p[1] for p in pts], lo, hi, margin)
    if mode == "plane":          # a wide window (a projector's): the b range at least a range / ASPECT
        half = max((b_hi - b_lo) / 2, (a_hi - a_lo) / (2 * ASPECT))
        mid = (b_hi + b_lo) / 2
        b_lo, b_hi = mid - half, mid + half
    a = np.linspace(a_lo, a_hi, grid)
    b = np.linspace(b_lo, b_hi, grid)
    loss = loss_grid(problem.X, problem.y, problem.v_star, problem.W_star, D1, D2, a, b)
    return Slice(problem.W_star, D1, D2, a, b, loss, mode, units, time.perf_counter() - start, labels)
