"""Extreme singular values of B^t/sqrt(n) along a path of iterates, cheaply.

B^t depends only on the activation pattern (the masks) and the batch, so:

- values are cached by (batch, pattern): GD late in a run flips among few patterns;
- in the dense regime (n >= d^2 and d^2 <= budget.DENSE_SPECTRUM_MAX_COLS, i.e. d <= 50),
  B^T B is kept and updated by the rows whose masks changed,
  B^T B += sum_{i changed} (b_i' b_i'^T - b_i b_i^T), b_i = s_i kron x_i,
  O(r d^4) for r changed rows instead of O(n d^4), then eigvalsh (O(d^6));
  it is assembled afresh every ``REBUILD_EVERY`` updates, on a new batch, or when more than
  a quarter of the rows changed;
- otherwise each new pattern goes to ``spectrum.extreme_singular_values``.

sigma_min = 0 exactly when B has a null space (a structural rank loss of
``linear.rank_loss``, or the smallest eigenvalue at most ``linear.RANK_RTOL`` times the
largest), as in ``extreme_singular_values``; a freshly assembled B^T B gives bit for bit
its numbers.
"""
from __future__ import annotations

import hashlib

import numpy as np

from .budget import DENSE_SPECTRUM_MAX_COLS
from .linear import add_normal_rows, normal_matrix, numerically_singular, rank_loss
from .spectrum import extreme_singular_values

REBUILD_EVERY = 64
MAX_CACHED = 8192


def pattern_key(batch: int, S: np.ndarray) -> tuple[int, bytes]:
    """(batch, a 16-byte digest of the activation pattern S != 0)."""
    return batch, hashlib.blake2b(np.packbits(S != 0).tobytes(), digest_size=16).digest()


class SpectrumTracker:
    """(sigma_min, sigma_max) of B/sqrt(n) for a sequence of (X, S) on a few batches.

    ``hits``/``computed``/``updates`` count cache hits, spectra computed, and incremental
    updates of B^T B. Memory: one d^2 x d^2 float64 B^T B (plus eigvalsh's copy) in the dense
    regime, and 16 + 16 bytes per cached pattern.
    """

    def __init__(self):
        self.cache: dict = {}
        self.hits = self.computed = self.updates = 0
        self._G = None
        self._S = None
        self._batch = None
        self._since_rebuild = 0

    def __call__(self, X: np.ndarray, S: np.ndarray, batch: int = 0) -> tuple[float, float]:
        key = pattern_key(batch, S)
        if key in self.cache:
            self.hits += 1
            return self.cache[key]
        n, d = X.shape
        if n >= d * d and d * d <= DENSE_SPECTRUM_MAX_COLS:
            G = self._normal(X, S, batch)
            ev = np.linalg.eigvalsh(G, UPLO="L") / n
            lo = 0.0 if rank_loss(S, X, exact=False).deficient or numerically_singular(ev) else max(ev[0], 0.0)
            out = float(np.sqrt(lo)), float(np.sqrt(max(ev[-1], 0.0)))
        else:
            out = extreme_singular_values(X, S)
        self.computed += 1
        if len(self.cache) < MAX_CACHED:
            self.cache[key] = out
        return out

    def _normal(self, X: np.ndarray, S: np.ndarray, batch: int) -> np.ndarray:
        """B^T B (lower triangle), updated from the last one when few rows changed."""
        n = X.shape[0]
        if self._G is not None and batch == self._batch and self._since_rebuild < REBUILD_EVERY:
            changed = np.flatnonzero(np.any(S != self._S, axis=1))
            if 4 * len(changed) <= n:
                Xc = X[changed]
                self._G = add_normal_rows(self._G, Xc, S[changed], 1.0)
                self._G = add_normal_rows(self._G, Xc, self._S[changed], -1.0)
                self._S = S.copy()
                self._since_rebuild += 1
                self.updates += 1
                return self._G
        self._G = normal_matrix(X, S, lower_only=True)
        self._S, self._batch, self._since_rebuild = S.copy(), batch, 0
        return self._G
