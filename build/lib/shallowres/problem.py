"""The teacher network, its data, and the initial points.

Model (slides, "Our Formulation"): y = relu(X (W* + I)) v*, with X in R^{n x d},
entries iid N(0, 1/n), W* in R^{d x d} (k = d hidden units), v* in {+1, -1}^d.

All randomness comes from ``numpy.random.Generator`` streams derived from one
integer seed by ``SeedSequence(seed, spawn_key=(stream, ...))``: changing the
initialization never changes the data, and batch t of a resampled run is the
same whatever happened before it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .validation import CONSTRAINTS, GB, check, check_memory

# Independent random streams derived from the one seed.
_TEACHER, _TRAIN, _NOISE, _TEST, _INIT, _RESAMPLE = range(6)

N_TEST = 500


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def relu_output(X: np.ndarray, U: np.ndarray, v: np.ndarray) -> np.ndarray:
    """f(X) = relu(X U) v, the residual network with U = W + I."""
    return np.maximum(X @ U, 0.0) @ v


def teacher_weights(d: int, gamma: float, kind: str, rng: np.random.Generator):
    """Draw (W*, v*) with ||W*||_F = gamma.

    ``balanced``: Gaussian columns rescaled to norm gamma/sqrt(d), so every
    ||w*_q||^2 = gamma^2/d (Assumption 3, with c = C = 1).
    ``gaussian``: iid Gaussian entries rescaled to Frobenius norm gamma.
    """
    G = rng.standard_normal((d, d))
    if kind == "balanced":
        W = G / np.linalg.norm(G, axis=0) * (gamma / np.sqrt(d))
    else:
        W = G * (gamma / np.linalg.norm(G))
    v = rng.choice(np.array([-1.0, 1.0]), size=d)
    return W, v


def _gaussian_inputs(rng: np.random.Generator, rows: int, d: int, n: int) -> np.ndarray:
    """Inputs with iid N(0, 1/n) entries (the slides' scaling, n = training size)."""
    return rng.standard_normal((rows, d)) / np.sqrt(n)


def _labels(X, U_star, v_star, noise, n, rng):
    """y = relu(X U*) v* + noise, noise ~ N(0, noise^2 / n): the same units as X."""
    y = relu_output(X, U_star, v_star)
    if noise > 0:
        y = y + rng.standard_normal(len(y)) * (noise / np.sqrt(n))
    return y


@dataclass(frozen=True, eq=False)
class Problem:
    """A teacher problem: W*, v*, the training set (X, y) and a test set.

    ``batch(t)`` gives the samples used at iteration t: the fixed training set,
    or, with ``resample``, a fresh batch of n samples for every t >= 1.
    """

    W_star: np.ndarray
    v_star: np.ndarray
    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    noise: float = 0.0
    seed: int = 0
    w_star_kind: str = "balanced"
    source: str = "generated"
    config: dict = field(default_factory=dict)

    @property
    def d(self) -> int:
        return self.W_star.shape[0]

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def U_star(self) -> np.ndarray:
        """U* = W* + I."""
        return self.W_star + np.eye(self.d)

    @property
    def gamma(self) -> float:
        """||W*||_F."""
        return float(np.linalg.norm(self.W_star))

    @property
    def scale(self) -> float:
        """||W* + I||_F, the denominator of the paper's relative error."""
        return float(np.linalg.norm(self.U_star))

    def batch(self, t: int, resample: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(X_t, y_t): the training set, or a fresh batch t >= 1 when ``resample``."""
        if not resample or t == 0:
            return self.X, self.y
        rng = _rng(self.seed, _RESAMPLE, t)
        X = _gaussian_inputs(rng, self.n, self.d, self.n)
        return X, _labels(X, self.U_star, self.v_star, self.noise, self.n, rng)


def problem_bytes(n: int, d: int, n_test: int = N_TEST) -> int:
    """Memory held by a problem's arrays (float64)."""
    return 8 * ((n + n_test) * (d + 1) + 2 * d * d + d)


def make_problem(
    d: int = 20,
    n: int = 1700,
    gamma: float = 2.0,
    noise: float = 0.0,
    seed: int = 0,
    w_star: str = "balanced",
    n_test: int = N_TEST,
    memory_budget: int = GB,
) -> Problem:
    """Generate a teacher problem (the paper's setup: d = 20, gamma = 2)."""
    d, n, gamma = check("d", d), check("n", n), check("gamma", gamma)
    noise, seed = check("noise", noise), check("seed", seed)
    kind, n_test = check("w_star", w_star), check("n_test", n_test)
    memory_budget = check("memory_budget", memory_budget)
    check_memory(problem_bytes(n, d, n_test), memory_budget, f"a problem with n = {n}, d = {d}")
    W_star, v_star = teacher_weights(d, gamma, kind, _rng(seed, _TEACHER))
    U_star = W_star + np.eye(d)
    X = _gaussian_inputs(_rng(seed, _TRAIN), n, d, n)
    y = _labels(X, U_star, v_star, noise, n, _rng(seed, _NOISE))
    test_rng = _rng(seed, _TEST)
    X_test = _gaussian_inputs(test_rng, n_test, d, n)
    y_test = _labels(X_test, U_star, v_star, noise, n, test_rng)
    config = dict(d=d, n=n, gamma=gamma, noise=noise, seed=seed, w_star=kind, n_test=n_test)
    return Problem(W_star, v_star, X, y, X_test, y_test, noise, seed, kind, "generated", config)


def _as_matrix(name: str, a, shape: tuple) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    if a.ndim != len(shape) or any(s is not None and s != t for s, t in zip(shape, a.shape, strict=True)):
        want = " x ".join("any" if s is None else str(s) for s in shape)
        raise ValueError(f"{name} must be an array of shape {want}; got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must hold finite numbers; got NaN or inf")
    return a


def problem_from_arrays(
    W_star, v_star, X, X_test=None, noise: float = 0.0, seed: int = 0,
    n_test: int = N_TEST, memory_budget: int = GB,
) -> Problem:
    """Bring your own teacher and inputs; y = relu(X (W* + I)) v* (+ noise).

    Without ``X_test``, a test set of ``n_test`` samples is drawn with entries
    N(0, 1/n), like the generated problems.
    """
    W_star = _as_matrix("W_star", W_star, (None, None))
    d_range = CONSTRAINTS["d"]
    if W_star.shape[0] != W_star.shape[1] or not d_range.contains(W_star.shape[0]):
        raise ValueError(f"W_star must be a square d x d array, d {d_range.describe()}; "
                         f"got shape {W_star.shape}")
    d = W_star.shape[0]
    v_star = _as_matrix("v_star", v_star, (d,))
    X = _as_matrix("X", X, (None, d))
    n = check("n", X.shape[0])
    noise, seed = check("noise", noise), check("seed", seed)
    memory_budget = check("memory_budget", memory_budget)
    check_memory(problem_bytes(n, d, n_test), memory_budget, f"a problem with n = {n}, d = {d}")
    U_star = W_star + np.eye(d)
    y = _labels(X, U_star, v_star, noise, n, _rng(seed, _NOISE))
    test_rng = _rng(seed, _TEST)
    if X_test is None:
        X_test = _gaussian_inputs(test_rng, check("n_test", n_test), d, n)
    else:
        X_test = _as_matrix("X_test", X_test, (None, d))
    y_test = _labels(X_test, U_star, v_star, noise, n, test_rng)
    config = dict(d=d, n=n, gamma=float(np.linalg.norm(W_star)), noise=noise, seed=seed,
                  w_star="arrays", n_test=len(X_test))
    return Problem(W_star, v_star, X, y, X_test, y_test, noise, seed, "arrays", "arrays", config)


def _npz_shape(data, key: str) -> tuple:
    """An .npz member's shape, read from its .npy header without loading the array."""
    with data.zip.open(key + ".npy") as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        return read(f)[0]


def load_problem(path: str, noise: float = 0.0, seed: int = 0, memory_budget: int = GB) -> Problem:
    """Read W_star, v_star, X (and optional X_test) from an ``.npz`` file."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ValueError(f"problem must be a readable .npz file; got {path!r} ({e})") from None
    missing = [k for k in ("W_star", "v_star", "X") if k not in data.files]
    if missing:
        raise ValueError(f"problem file must hold arrays W_star, v_star, X; {path!r} lacks {missing}")
    shapes = {k: _npz_shape(data, k) for k in ("X", "X_test") if k in data.files}
    rows = sum(sh[0] for sh in shapes.values() if len(sh) == 2)
    cols = max((sh[1] for sh in shapes.values() if len(sh) == 2), default=1)
    check_memory(8 * rows * (cols + 1), memory_budget, f"the arrays in {path!r}")   # before reading them
    return problem_from_arrays(data["W_star"], data["v_star"], data["X"],
                               data["X_test"] if "X_test" in data.files else None,
                               noise=noise, seed=seed, memory_budget=memory_budget)


def initial_point(problem: Problem, init: str = "identity", delta: float = 0.8,
                  seed: int | None = None) -> np.ndarray:
    """W^0 for the three initializations.

    - ``identity``: W^0 = 0 (U^0 = I), Assumption 1;
    - ``random``: vec(W^0) ~ N(0, I) / d (the paper's experiments);
    - ``delta``: W^0 = W* + delta ||W* + I||_F Z / ||Z||_F, Z Gaussian: on the
      sphere of Theorem 1's condition ||W^0 - W*||_F <= delta ||W* + I||_F, tight.
    """
    init = check("init", init)
    seed = problem.seed if seed is None else check("seed", seed)
    d = problem.d
    if init == "identity":
        return np.zeros((d, d))
    rng = _rng(seed, _INIT)
    Z = rng.standard_normal((d, d))
    if init == "random":
        return Z / d
    delta = check("delta", delta)
    return problem.W_star + delta * problem.scale * Z / np.linalg.norm(Z)
