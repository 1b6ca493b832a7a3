"""A run's iterates W^t (d x d each), kept on a fixed thinning grid so the pictures can be
redrawn at any t of a replay without recomputing.

The grid is :func:`dashboard.history.on_grid` with ``ITERATE_DENSITY`` points per octave:
every t below 2 * ITERATE_DENSITY (so all of AM's few iterates), then ITERATE_DENSITY per
octave (about 180 iterates up to t = 20,000). The memory is known in advance
(:func:`iterates_bytes`), so the run's estimate counts it for the admission controller.
"""
from __future__ import annotations

import threading

import numpy as np

from .history import grid_upto, on_grid

ITERATE_DENSITY = 16


def kept_count(iters: int, density: int = ITERATE_DENSITY) -> int:
    """How many iterates 0 <= t <= ``iters`` the grid keeps."""
    return len(grid_upto(int(iters), density))


def iterates_bytes(d: int, iters: int, density: int = ITERATE_DENSITY) -> int:
    """Bytes an :class:`Iterates` holds at most for a run of ``iters`` iterations at width d
    (float64 d x d matrices, plus their t)."""
    return kept_count(iters, density) * (8 * d * d + 8)


class Iterates:
    """W^t at the grid's iterations, appended in increasing t by the worker, read by the page
    (thread-safe). :meth:`at` gives the nearest kept iterate at or before a t."""

    def __init__(self, d: int, density: int = ITERATE_DENSITY):
        self.d, self.density = d, density
        self._lock = threading.Lock()
        self._t: list[int] = []
        self._W: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self._t)

    def offer(self, t: int, W: np.ndarray) -> bool:
        """Keep a copy of W^t if t is on the grid (and after the last kept t); True if kept."""
        if not on_grid(int(t), self.density):
            return False
        with self._lock:
            if self._t and t <= self._t[-1]:
                return False
            self._t.append(int(t))
            self._W.append(np.array(W, dtype=float, copy=True))
        return True

    def at(self, t: int | None = None) -> tuple[int, np.ndarray] | None:
        """(t', W^t') with t' the largest kept iteration <= t (the last one if t is None); None if none."""
        with self._lock:
            if not self._t:
                return None
            k = len(self._t) if t is None else int(np.searchsorted(self._t, t, side="right"))
            return None if k == 0 else (self._t[k - 1], self._W[k - 1])

    def path(self, upto: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ts, Ws): the kept iterations <= upto and their iterates, shapes (k,) and (k, d, d)."""
        with self._lock:
            k = len(self._t) if upto is None else int(np.searchsorted(self._t, upto, side="right"))
            ts = np.asarray(self._t[:k], dtype=np.int64)
            Ws = np.array(self._W[:k]) if k else np.zeros((0, self.d, self.d))
        return ts, Ws

    def nbytes(self) -> int:
        return len(self._t) * (8 * self.d * self.d + 8)
