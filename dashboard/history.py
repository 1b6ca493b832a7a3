"""A run's per-iteration history in compact growable arrays, and the fixed thinning grid.

Charts draw the iterations on a *fixed* grid: every t below 2D, then D points per
octave (t in [2D 2^k, 2D 2^(k+1)) on multiples of 2^(k+1)), about 2D + D log2(T/2D)
points up to T. Because the grid does not depend on T, a growing run only ever adds
points, so a live chart can append what is new instead of redrawing everything.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from shallowres import IterRecord

LINE_DENSITY = 64       # grid points per octave of the line charts (about 530 points at T = 20,000)
HEATMAP_DENSITY = 24    # ... and of the heatmap columns (d values each)

COLUMNS = ("t", "err", "rel_err", "train_loss", "test_loss", "flips_teacher", "flips_prev", "rho3",
           "inner_iters", "seconds")
INT_COLUMNS = frozenset({"t", "flips_teacher", "flips_prev", "inner_iters"})


def on_grid(t: np.ndarray | int, density: int) -> np.ndarray | bool:
    """True where iteration ``t`` lies on the fixed grid with ``density`` points per octave."""
    t = np.asarray(t, dtype=np.int64)
    lead = 2 * density
    k = np.floor(np.log2(np.maximum(t, lead) / lead)).astype(np.int64)
    out = (t < lead) | (t % (2 ** (k + 1)) == 0)
    return out if out.ndim else bool(out)


def grid_upto(T: int, density: int) -> np.ndarray:
    """The grid's iterations 0 <= t <= T, increasing (int64)."""
    t = np.arange(T + 1)
    return t[on_grid(t, density)]


class _Column:
    """A growable 1-D array (amortized doubling)."""

    __slots__ = ("data", "n")

    def __init__(self, dtype, width: int | None = None):
        shape = (64,) if width is None else (16, width)
        self.data = np.zeros(shape, dtype=dtype)
        self.n = 0

    def append(self, value) -> None:
        if self.n == len(self.data):
            grown = np.zeros((2 * len(self.data),) + self.data.shape[1:], dtype=self.data.dtype)
            grown[: self.n] = self.data
            self.data = grown
        self.data[self.n] = value
        self.n += 1

    def view(self) -> np.ndarray:
        return self.data[: self.n]


class History:
    """One algorithm's records: every scalar field at every iteration, and the flips per
    neuron at the heatmap's grid iterations only (d integers each).

    Appends and reads are safe across threads (a worker appends while the page reads).
    """

    def __init__(self, d: int):
        self.d = d
        self._lock = threading.Lock()
        self._cols = {c: _Column(np.int64 if c in INT_COLUMNS else np.float64) for c in COLUMNS}
        self._heat_t = _Column(np.int64)
        self._heat = _Column(np.int32, width=d)
        self.last: IterRecord | None = None
        self.last_per_neuron: np.ndarray | None = None

    def __len__(self) -> int:
        return self._cols["t"].n

    def append(self, rec: IterRecord) -> None:
        with self._lock:
            for c, col in self._cols.items():
                col.append(getattr(rec, c))
            if on_grid(rec.t, HEATMAP_DENSITY):
                self._heat_t.append(rec.t)
                self._heat.append(rec.flips_teacher_per_neuron)
            self.last, self.last_per_neuron = rec, np.asarray(rec.flips_teacher_per_neuron)

    def columns(self, upto: int | None = None) -> dict[str, np.ndarray]:
        """Copies of every column over iterations 0..upto (default: all)."""
        with self._lock:
            n = self._cols["t"].n if upto is None else min(upto + 1, self._cols["t"].n)
            return {c: col.view()[:n].copy() for c, col in self._cols.items()}

    def heatmap(self, upto: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(t, counts): the heatmap's grid iterations <= upto and their flips per neuron (k x d)."""
        with self._lock:
            t = self._heat_t.view()
            k = len(t) if upto is None else int(np.searchsorted(t, upto, side="right"))
            return t[:k].copy(), self._heat.view()[:k].copy()

    def nbytes(self) -> int:
        return sum(c.data.nbytes for c in self._cols.values()) + self._heat.data.nbytes + self._heat_t.data.nbytes


@dataclass(frozen=True)
class Snapshot:
    """What a chart shows of one algorithm up to iteration ``T``: the grid iterations'
    values (``grid``), the heatmap columns, and the latest record (``head``)."""

    T: int
    grid: dict[str, np.ndarray]           # line-chart columns at grid iterations <= T
    heat_t: np.ndarray
    heat: np.ndarray                      # (k, d) flips per neuron
    head: dict[str, float]                # every column at iteration T


def snapshot(history: History, upto: int | None = None) -> Snapshot | None:
    """The chart data of ``history`` up to iteration ``upto`` (default: the latest)."""
    cols = history.columns(upto)
    if len(cols["t"]) == 0:
        return None
    T = int(cols["t"][-1])
    idx = grid_upto(T, LINE_DENSITY)
    heat_t, heat = history.heatmap(T)
    head = {c: v[-1].item() for c, v in cols.items()}
    return Snapshot(T, {c: v[idx] for c, v in cols.items()}, heat_t, heat, head)
