"""Independent dense formulas written straight from the slides, for tests only."""
from __future__ import annotations

import numpy as np


def B_from_slides(X: np.ndarray, U: np.ndarray, v: np.ndarray) -> np.ndarray:
    """B = [v_1 P_1 X, ..., v_d P_d X], P_q = diag(1{X u_q > 0}), by explicit blocks."""
    blocks = [v[q] * np.diag((X @ U[:, q] > 0).astype(float)) @ X for q in range(U.shape[1])]
    return np.hstack(blocks)


def vec_cols(U: np.ndarray) -> np.ndarray:
    """vec stacking columns, by concatenation."""
    return np.concatenate([U[:, q] for q in range(U.shape[1])])


def loss(X, y, W, v) -> float:
    """L(W) = 1/(2n) ||y - relu(X (W + I)) v||^2."""
    r = y - np.maximum(X @ (W + np.eye(len(W))), 0) @ v
    return float(r @ r) / (2 * len(y))
