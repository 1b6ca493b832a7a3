"""The teacher network, its data, and the initial points.

Model (slides, "Our Formulation"): y = relu(X (W* + I)) v*, with X in R^{n x d},
entries iid N(0, 1/n), W* in R^{d x d} (k = d hidden units), v* in {+1, -1}^d.
Bring-your-own inputs may have any scale: noise, test inputs and fresh batches follow
the scale (and, for batches, the rows) of the given X (:func:`problem_from_arrays`).

All randomness comes from ``numpy.random.Generator`` streams derived from one
integer seed by ``SeedSequence(seed, spawn_key=(stream, ...))``: changing the
initialization never changes the data, and batch t of a resampled run is the
same whatever happened before it.
"""
from __future__ import annotations

import math
import os
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass, field

import numpy as np

from .validation import CONSTRAINTS, GB, MB, MemoryBudgetError, _fmt, check, check_memory

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
    return _noisy_labels(X, U_star, v_star, noise / np.sqrt(n), rng)


def _noisy_labels(X, U_star, v_star, std: float, rng):
    """y = relu(X U*) v* + N(0, std^2) noise (none when std = 0)."""
    y = relu_output(X, U_star, v_star)
    if std > 0:
        y = y + rng.standard_normal(len(y)) * std
    return y


@dataclass(frozen=True, eq=False)
class Problem:
    """A teacher problem: W*, v*, the training set (X, y) and a test set.

    ``batch(t)`` gives the samples used at iteration t: the fixed training set,
    or, with ``resample``, a fresh batch of n samples for every t >= 1: new N(0, 1/n)
    Gaussians for a generated problem, the next n unused rows of the user's X
    (``pool_X``, ``pool_y``) for one built from arrays.
    ``x_scale``: the sigma of X's entries (1/sqrt(n) generated; estimated for user data).
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
    x_scale: float | None = None
    pool_X: np.ndarray | None = field(default=None, repr=False)
    pool_y: np.ndarray | None = field(default=None, repr=False)
    test_source: str = "500 Gaussian inputs N(0, 1/n)"

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

    @property
    def sigma(self) -> float:
        """The scale of X's entries: 1/sqrt(n) for generated data, the RMS entry of user data."""
        return self.x_scale if self.x_scale is not None else 1.0 / math.sqrt(self.n)

    @property
    def batches(self) -> int | None:
        """How many disjoint batches of n rows the user's X holds (None: generated, unlimited)."""
        return None if self.pool_X is None else len(self.pool_X) // self.n

    def check_batches(self, iters: int) -> None:
        """ValueError (naming ``resample``) when a resampled run of ``iters`` steps needs more
        fresh rows than the user's X holds."""
        k = self.batches
        if k is not None and iters + 1 > k:
            rows = len(self.pool_X)
            raise ValueError(
                f"resample draws a fresh batch of n = {self.n} rows of X (without replacement) at every "
                f"iteration; X has {rows} rows, enough for {k} batch{'es' if k > 1 else ''} (iterations 0.."
                f"{k - 1}), not {iters + 1}: use at most {k - 1} iterations, a smaller n, or more rows"
                if k > 1 else
                f"resample draws a fresh batch of n = {self.n} rows of X (without replacement) at every "
                f"iteration; X has {rows} rows, enough for the first batch only: choose n <= {rows // 2} "
                "(the batch size) or give more rows")

    def batch(self, t: int, resample: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(X_t, y_t): the training set, or a fresh batch t >= 1 when ``resample``.

        Raises ValueError when the user's X has no fresh rows left for batch t."""
        if not resample or t == 0:
            return self.X, self.y
        if self.pool_X is not None:
            self.check_batches(t)
            rows = slice(t * self.n, (t + 1) * self.n)
            return self.pool_X[rows], self.pool_y[rows]
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
    return Problem(W_star, v_star, X, y, X_test, y_test, noise, seed, kind, "generated", config,
                   test_source=f"{n_test} Gaussian inputs N(0, 1/n)")


# ----- bring your own arrays ------------------------------------------------------------

X_SCALE_RANGE = (1e-100, 1e100)   # allowed root-mean-square entry of user X (and X_test)
ECHO = 40                          # characters of a bad value shown in an error message


def _short(value, limit: int = ECHO) -> str:
    """repr(value), cut to ``limit`` characters: error messages never echo a whole input."""
    s = repr(value)
    return s if len(s) <= limit else s[:limit] + "..."


def _one_line(e: Exception, limit: int = 200) -> str:
    """An exception's message on one line, cut to ``limit`` characters."""
    s = " ".join(str(e).split())
    return s if len(s) <= limit else s[:limit] + "..."


def _real_array(name: str, a, ndim: int) -> np.ndarray:
    """``a`` as a float64 array of ``ndim`` dimensions, or ValueError naming ``name``."""
    if isinstance(a, str | bytes):
        raise ValueError(f"{name} must be a numeric array; got a string {_short(a)}")
    try:
        arr = np.asarray(a)
    except (ValueError, TypeError, OverflowError):
        raise ValueError(f"{name} must be a rectangular numeric array; got ragged or mixed data") from None
    if arr.dtype.kind == "c":
        raise ValueError(f"{name} must hold real numbers; got complex values (dtype {arr.dtype})")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a numeric array (bool, int or float); got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array; got {arr.ndim}-D, shape {arr.shape}")
    arr = arr.astype(float, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must hold finite numbers; got NaN or inf")
    return arr


def _as_matrix(name: str, a, shape: tuple) -> np.ndarray:
    """A finite float array of ``shape`` (None: any length), or ValueError naming ``name``."""
    a = _real_array(name, a, len(shape))
    if any(s is not None and s != t for s, t in zip(shape, a.shape, strict=True)):
        want = " x ".join("any" if s is None else str(s) for s in shape)
        raise ValueError(f"{name} must be an array of shape {want}; got shape {a.shape}")
    return a


def rms_scale(X: np.ndarray) -> float:
    """sqrt(mean(X_ij^2)): the sigma of N(0, sigma^2) entries, estimated from X (the
    mean is not removed: it measures the size of the inputs the network sees)."""
    m = float(np.max(np.abs(X))) if X.size else 0.0
    if m == 0:
        return 0.0
    return float(np.sqrt(np.mean(np.square(X / m)))) * m


def _check_scale(name: str, X: np.ndarray) -> float:
    s = rms_scale(X)
    lo, hi = X_SCALE_RANGE
    if not lo <= s <= hi:
        raise ValueError(f"{name} must have a root-mean-square entry in [{lo:g}, {hi:g}]; got {s:.3g}"
                         + (" (all zero)" if s == 0 else ""))
    return s


def _check_v_star(v: np.ndarray) -> None:
    bad = np.flatnonzero(np.abs(v) != 1)
    if len(bad):
        q = int(bad[0])
        more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
        raise ValueError(f"v_star must hold only +1 and -1 (the paper's fixed output weights, v*_q in "
                         f"{{+1, -1}}); got {v[q]:g} at index {q}{more}")


def problem_from_arrays(
    W_star, v_star, X, X_test=None, noise: float = 0.0, seed: int = 0,
    n_test: int = N_TEST, memory_budget: int = GB, n: int | None = None,
) -> Problem:
    """Bring your own teacher and inputs; y = relu(X (W* + I)) v* (+ noise).

    Shapes: ``W_star`` (d, d), 2 <= d <= 200, ||W_star||_F within gamma's range [0, 100];
    ``v_star`` (d,) with entries +1 or -1 (the paper's fixed output layer); ``X`` (N, d),
    ``X_test`` (M, d), real and finite, any scale: the package estimates the scale of X as
    sigma = sqrt(mean(X_ij^2)) (``Problem.x_scale``; the slides' N(0, 1/n) inputs give
    1/sqrt(n)) and draws everything it adds on that scale:

    - label noise with standard deviation ``noise * sigma`` (in units of the inputs, as for
      generated problems, where sigma = 1/sqrt(n));
    - without ``X_test``, ``n_test`` test inputs with iid N(0, sigma^2) entries (the
      paper's input model at X's scale; pass ``X_test`` for data that are not Gaussian).

    ``n``: training batch size (default N, all rows, in their order). With n < N the rows
    are shuffled once (by ``seed``) and batch t of a resampled run is rows t n .. (t+1) n - 1
    of that order: fresh samples drawn from X without replacement, never from another
    distribution; ``Problem.batch`` raises ValueError once they run out.

    Raises ValueError naming the parameter (shape, dtype, range, v* not +-1, X's scale
    outside [1e-100, 1e100]), MemoryBudgetError past ``memory_budget``.
    """
    W_star = _as_matrix("W_star", W_star, (None, None))
    d_range = CONSTRAINTS["d"]
    if W_star.shape[0] != W_star.shape[1] or not d_range.contains(W_star.shape[0]):
        raise ValueError(f"W_star must be a square d x d array, d {d_range.describe()}; "
                         f"got shape {W_star.shape}")
    big = float(np.max(np.abs(W_star)))
    gamma = big * float(np.linalg.norm(W_star / big)) if big > 0 else 0.0    # no overflow for huge entries
    if not CONSTRAINTS["gamma"].contains(gamma):
        g = CONSTRAINTS["gamma"]
        raise ValueError(f"W_star must have a Frobenius norm ||W_star||_F (gamma) in [{_fmt(g.low)}, "
                         f"{_fmt(g.high)}]; got {gamma:.3g}")
    d = W_star.shape[0]
    v_star = _as_matrix("v_star", v_star, (d,))
    _check_v_star(v_star)
    X = _as_matrix("X", X, (None, d))
    N = check("n", X.shape[0])
    n = N if n is None else check("n", n)
    if n > N:
        raise ValueError(f"n must be an integer in [1, {N}] (the rows of X); got {n}")
    noise, seed = check("noise", noise), check("seed", seed)
    memory_budget = check("memory_budget", memory_budget)
    if X_test is not None:
        X_test = _as_matrix("X_test", X_test, (None, d))
        check("n_test", len(X_test))
    else:
        n_test = check("n_test", n_test)
    rows_test = n_test if X_test is None else len(X_test)
    check_memory(problem_bytes(N, d, rows_test), memory_budget, f"a problem with {N} rows of X, d = {d}")
    sigma = _check_scale("X", X)
    if X_test is not None:
        _check_scale("X_test", X_test)
    U_star = W_star + np.eye(d)
    if n < N:     # shuffled once: batch t is rows t n .. (t+1) n - 1 of this order
        X = X[_rng(seed, _RESAMPLE).permutation(N)]
    y_all = _noisy_labels(X, U_star, v_star, noise * sigma, _rng(seed, _NOISE))
    test_rng = _rng(seed, _TEST)
    if X_test is None:
        X_test = test_rng.standard_normal((n_test, d)) * sigma
        test_source = f"{n_test} Gaussian inputs N(0, sigma^2), sigma = {sigma:.3g} (the RMS entry of X)"
    else:
        test_source = f"X_test as given ({len(X_test)} rows)"
    y_test = _noisy_labels(X_test, U_star, v_star, noise * sigma, test_rng)
    config = dict(d=d, n=n, gamma=gamma, noise=noise, seed=seed, w_star="arrays", n_test=len(X_test),
                  rows=N, x_scale=sigma)
    return Problem(W_star, v_star, X[:n], y_all[:n], X_test, y_test, noise, seed, "arrays", "arrays", config,
                   x_scale=sigma, pool_X=X, pool_y=y_all, test_source=test_source)


# ----- .npz files ---------------------------------------------------------------------------

class ProblemFileError(ValueError):
    """A ``--problem`` / ``load_problem`` file that cannot be used (message names the file)."""


MEMBERS = {"W_star": 2, "v_star": 1, "X": 2, "X_test": 2}     # member -> ndim
REQUIRED = ("W_star", "v_star", "X")


@dataclass(frozen=True)
class _Member:
    name: str
    shape: tuple
    dtype: np.dtype
    count: int          # elements declared by the header


def _member_header(zf, name: str, info) -> tuple[_Member, int]:
    """Shape and dtype from an .npy member's header, never reading its data; (member, header bytes)."""
    fmt = np.lib.format
    with zf.open(info) as f:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = fmt.read_array_header_2_0(f)
        else:
            raise ValueError(f".npy format version {version[0]}.{version[1]} is not supported (1.0 or 2.0)")
        header_bytes = f.tell()
    if not isinstance(shape, tuple) or any(not isinstance(s, int) or s < 0 for s in shape):
        raise ValueError(f"its header declares an invalid shape {_short(shape)}")
    if dtype.hasobject or dtype.kind not in "biuf" or dtype.fields is not None:
        kind = "object (pickled) data" if dtype.hasobject else f"dtype {dtype}"
        raise ValueError(f"it holds {kind}; only real numbers (bool, int or float) are read")
    count = math.prod(shape)
    return _Member(name, shape, dtype, count), header_bytes


def _check_member_shapes(m: dict[str, _Member]) -> None:
    """Every shape against its allowed range, before any data is read."""
    for name, ndim in MEMBERS.items():
        if name in m and len(m[name].shape) != ndim:
            raise ValueError(f"{name} must be a {ndim}-D array; the file declares shape {m[name].shape}")
    d = m["W_star"].shape[0]
    d_range = CONSTRAINTS["d"]
    if m["W_star"].shape[1] != d or not d_range.contains(d):
        raise ValueError(f"W_star must be a square d x d array, d {d_range.describe()}; "
                         f"the file declares shape {m['W_star'].shape}")
    if m["v_star"].shape != (d,):
        raise ValueError(f"v_star must be an array of shape {d}; the file declares shape {m['v_star'].shape}")
    for name, limit in (("X", "n"), ("X_test", "n_test")):
        if name in m:
            rows, cols = m[name].shape
            if cols != d:
                raise ValueError(f"{name} must be an array of shape any x {d}; the file declares {m[name].shape}")
            if not CONSTRAINTS[limit].contains(rows):
                c = CONSTRAINTS[limit]
                raise ValueError(f"{name} must have {_fmt(c.low)} to {_fmt(c.high)} rows; the file declares {rows}")


def _problem_path(path) -> str:
    if not isinstance(path, str | os.PathLike):
        raise ProblemFileError(f"problem must be a path to an .npz file; got {type(path).__name__} {_short(path)}")
    try:
        return os.fsdecode(os.fspath(path))
    except (TypeError, ValueError):
        raise ProblemFileError(f"problem must be a path to an .npz file; got {_short(path)}") from None


def load_problem(path, noise: float = 0.0, seed: int = 0, memory_budget: int = GB,
                 n: int | None = None) -> Problem:
    """Read W_star, v_star, X (and optional X_test) from an ``.npz`` file (``np.savez``).

    Nothing is read before it is checked: the file must be a regular file no larger than
    ``memory_budget``, a zip archive; each member's .npy header (shape, dtype: real numbers
    only, never pickled objects) is checked against the allowed shapes and the memory budget,
    and the member's size in the archive must match what its header declares (truncated data
    or a member that decompresses to more are refused). Other members are ignored. Then as
    :func:`problem_from_arrays` (``noise``, ``seed``, ``n``).

    Raises ProblemFileError (a ValueError) whose message names the file and the fault;
    MemoryBudgetError past ``memory_budget``.
    """
    p = _problem_path(path)
    memory_budget = check("memory_budget", memory_budget)
    where = f"problem file {_short(p, 200)}"
    try:
        info = os.stat(p)
    except (OSError, ValueError) as e:
        raise ProblemFileError(f"{where} cannot be read ({getattr(e, 'strerror', None) or e})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ProblemFileError(f"{where} is not a regular file (a directory, device or pipe); give an .npz file")
    if info.st_size == 0:
        raise ProblemFileError(f"{where} is empty; give an .npz file made by "
                               "np.savez(F, W_star=..., v_star=..., X=...)")
    if info.st_size > memory_budget:
        raise ProblemFileError(f"{where} is {info.st_size / MB:,.0f} MB, more than the memory budget of "
                               f"{memory_budget / MB:,.0f} MB")
    try:
        with open(p, "rb") as f:
            head = f.read(6)
    except OSError as e:
        raise ProblemFileError(f"{where} cannot be read ({e.strerror or e})") from None
    if head.startswith(b"\x93NUMPY"):
        raise ProblemFileError(f"{where} is a .npy file (one array); save the arrays together in an .npz "
                               "archive: np.savez(F, W_star=..., v_star=..., X=...)")
    if not head.startswith(b"PK"):
        raise ProblemFileError(f"{where} is not an .npz (zip) archive (it starts with {_short(head)}); "
                               "make one with np.savez(F, W_star=..., v_star=..., X=...)")
    try:
        with zipfile.ZipFile(p) as zf:
            arrays = _read_members(zf, where, memory_budget)
    except ProblemFileError:
        raise
    except MemoryBudgetError as e:
        raise ProblemFileError(f"{where}: {e}") from None
    except (ValueError, OSError, EOFError, RuntimeError, KeyError, NotImplementedError, zipfile.BadZipFile,
            zlib.error, struct.error, OverflowError, MemoryError) as e:
        raise ProblemFileError(f"{where} is not a readable .npz archive (truncated or damaged: "
                               f"{type(e).__name__}: {_one_line(e, ECHO)})") from None
    try:
        return problem_from_arrays(arrays["W_star"], arrays["v_star"], arrays["X"], arrays.get("X_test"),
                                   noise=noise, seed=seed, memory_budget=memory_budget, n=n)
    except MemoryBudgetError as e:
        raise ProblemFileError(f"{where}: {e}") from None
    except ValueError as e:
        if str(e).startswith(("n must", "noise must", "seed must")):
            raise                       # a bad argument, not a bad file
        raise ProblemFileError(f"{where}: {e}") from None


def _read_members(zf, where: str, memory_budget: int) -> dict[str, np.ndarray]:
    names = {i.filename: i for i in zf.infolist()}
    missing = [k for k in REQUIRED if k + ".npy" not in names]
    if missing:
        raise ProblemFileError(f"{where} must hold arrays W_star, v_star, X; it lacks {', '.join(missing)}")
    members, sizes = {}, {}
    for name in MEMBERS:
        zi = names.get(name + ".npy")
        if zi is None:
            continue
        try:
            m, header_bytes = _member_header(zf, name, zi)
        except ValueError as e:
            raise ProblemFileError(f"{where}: member {name}.npy: {_one_line(e)}") from None
        members[name] = m
        sizes[name] = header_bytes + m.count * m.dtype.itemsize
    try:
        _check_member_shapes(members)
    except ValueError as e:
        raise ProblemFileError(f"{where}: {e}") from None
    need = sum(m.count * (m.dtype.itemsize + 8) for m in members.values())   # as stored, then float64
    check_memory(need, memory_budget, "its arrays")
    for name, size in sizes.items():
        actual = names[name + ".npy"].file_size
        if actual != size:
            what = "truncated" if actual < size else "longer than declared"
            raise ProblemFileError(f"{where}: member {name}.npy is {what}: its header declares "
                                   f"{size:,} bytes, the archive holds {actual:,}")
    out = {}
    for name in members:
        with zf.open(names[name + ".npy"]) as f:
            out[name] = np.lib.format.read_array(f, allow_pickle=False)
    return out


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
