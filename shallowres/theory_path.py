"""The theory's quantities at every iterate of a run, against the measured one-step contraction.

At iterate t (B^t built at W^t on the batch used at step t, sigma of B^t/sqrt(n), e_t = ||W^t - W*||_F):

    sigma_min,t, sigma_max,t, kappa_t
    rho3_sum,t = sum_q ||E_q|| / e_t,  rho3_rss,t = sqrt(sum_q ||E_q||^2) / e_t,
    rho3_norm_of_sum,t = ||sum_q E_q|| / e_t
    rho_GD,t (4), rho_AM,t (5)                     the slides' formulas with the quantities at t
    rho_GD,tight,t = ||I - eta G_t|| + eta sigma_max,t rho3_norm_of_sum,t     (G_t = B^tT B^t / n, GD's own eta)
    rho_AM,tight,t = rho3_norm_of_sum,t / sigma_min,t
    factor_t = e_{t+1} / e_t                       measured, for the step t -> t + 1

For GD the two terms of the proof's triangle inequality are kept too:
``linear_term`` = ||(I - eta G_t)(W^t - W*)||_F / e_t and ``e_term`` = eta ||B^tT sum_q E_q|| / (sqrt(n) e_t);
with noiseless labels on a fixed batch, e_{t+1} = ||(I - eta G_t)(W^t - W*) - eta B^tT sum_q E_q / sqrt(n)||.

Each step gets a verdict per bound (``VERDICTS``), measured errors being allowed their
round-off (FLOOR = 1e-13 of ||W* + I||_F, and AM_SOLVE_RTOL for the accuracy of AM's solves):
the tightened bounds are rigorous for noiseless labels, so "exceeded" there means a bug;
(4) assumes eta = 2/(sigma_min,t^2 + sigma_max,t^2) at every t, while GD keeps the eta of
W^0, so (4) can be exceeded late in a run.

Cost: the spectra dominate. ``spectrum_path.SpectrumTracker`` caches them by activation
pattern and updates B^T B by the rows whose masks changed; ``max_spectra`` caps how many
spectra are computed (:class:`SpectraBudget`; skipped iterates are NaN, verdict "not evaluated").
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .budget import run_bytes, spectrum_bytes
from .ladder import FLOOR, Rung, count_ratio, first_below, log_rate_ratio
from .linear import B_rmatvec, gram_apply, masks, signed_masks
from .problem import Problem
from .solvers import DEFAULT_ITERS, IterRecord, RunResult, plan_run, run
from .spectrum_path import SpectrumTracker, pattern_key
from .theory import _eta_value, _paper_rates, gd_linear_rate
from .threads import blas_limit
from .validation import GB, check, check_memory

VERDICTS = ("holds", "holds (bound >= 1)", "exceeded", "landed", "not evaluated")
HOLDS, VACUOUS, EXCEEDED, LANDED, SKIPPED = range(5)
ROUNDING = 16 * np.finfo(float).eps       # rounding of ||W - W*||, relative to ||W* + I||
AM_SOLVE_RTOL = 1e-9      # AM's solves: CG stops at an error of 1e-10 ||W||, the others are exact to ~1e-14
ARRAYS = ("err", "sigma_min", "sigma_max", "kappa", "rho3_sum", "rho3_rss", "rho3_norm_of_sum", "rho_gd",
          "rho_am", "rho_gd_tight", "rho_am_tight", "linear_term", "e_term")


@dataclass(frozen=True, eq=False)
class TheoryPath:
    """Per-iterate theory along one run (module doc). Arrays of length T + 1 (iterates
    t = 0..T) except ``factor`` (steps, length T). Our units (inputs N(0, 1/n)); NaN where a
    quantity is not defined (spectrum not evaluated, or GD-only terms on an AM path)."""

    alg: str
    eta: float | None
    scale: float
    noise: float
    resample: bool
    err: np.ndarray
    evaluated: np.ndarray
    sigma_min: np.ndarray
    sigma_max: np.ndarray
    kappa: np.ndarray
    rho3_sum: np.ndarray
    rho3_rss: np.ndarray
    rho3_norm_of_sum: np.ndarray
    rho_gd: np.ndarray
    rho_am: np.ndarray
    rho_gd_tight: np.ndarray
    rho_am_tight: np.ndarray
    linear_term: np.ndarray
    e_term: np.ndarray
    spectra_computed: int = 0
    cache_hits: int = 0
    updates: int = 0
    seconds: float = 0.0
    extra: dict = field(default_factory=dict, repr=False)

    @property
    def t(self) -> np.ndarray:
        return np.arange(len(self.err))

    @property
    def rel_err(self) -> np.ndarray:
        return self.err / self.scale

    @property
    def factor(self) -> np.ndarray:
        """Measured e_{t+1}/e_t for t = 0..T-1 (NaN where e_t is round-off: the run had landed)."""
        e = self.err
        with np.errstate(divide="ignore", invalid="ignore"):
            f = e[1:] / e[:-1]
        f[e[:-1] <= FLOOR * self.scale] = np.nan
        return f

    def bound(self, kind: str = "tight") -> np.ndarray:
        """This algorithm's one-step bound at t = 0..T-1: ``paper`` ((4) for GD, (5) for AM) or
        ``tight`` (the proof tightened)."""
        name = {"paper": "rho_", "tight": "rho_"}[kind] + self.alg + ("_tight" if kind == "tight" else "")
        return getattr(self, name)[:-1]

    def verdicts(self, kind: str | float = "tight") -> np.ndarray:
        """Per step, an index into VERDICTS: measured factor_t against the bound at W^t (``kind``
        "paper" or "tight"), or against one rate for every step (a number: the theorem's form,
        e.g. rho_GD at W^0)."""
        e = self.err[:-1]
        b = np.full(len(e), float(kind)) if not isinstance(kind, str) else self.bound(kind)
        floor = FLOOR * self.scale
        nxt = np.where(self.err[1:] <= floor, 0.0, self.err[1:])    # a step onto W* lands at round-off
        out = np.full(len(e), SKIPPED, dtype=np.int8)
        landed = e <= floor
        ok = ~np.isnan(b)
        with np.errstate(divide="ignore", invalid="ignore"):
            f = nxt / e
            slack = (ROUNDING + FLOOR + (AM_SOLVE_RTOL if self.alg == "am" else 0.0)) * self.scale / e
        holds = f <= b * (1 + 1e-9) + slack
        out[ok & holds & (b < 1)] = HOLDS
        out[ok & holds & ~(b < 1)] = VACUOUS
        out[ok & ~holds] = EXCEEDED
        out[landed] = LANDED
        return out

    def verdict_counts(self, kind: str | float = "tight") -> dict[str, int]:
        v = self.verdicts(kind)
        return {name: int(np.count_nonzero(v == i)) for i, name in enumerate(VERDICTS)}

    def as_dict(self) -> dict:
        """JSON-safe: lists with None for NaN/inf, verdict names per step, counts and costs."""
        def clean(a):
            return [None if not math.isfinite(x) else float(x) for x in np.asarray(a, dtype=float)]
        out = {"alg": self.alg, "eta": self.eta, "scale": self.scale, "t": list(range(len(self.err))),
               "rel_err": clean(self.rel_err), "factor": clean(self.factor),
               "evaluated": [bool(x) for x in self.evaluated]}
        for k in ARRAYS:
            out[k] = clean(getattr(self, k))
        for kind in ("paper", "tight"):
            out[f"verdict_{kind}"] = [VERDICTS[i] for i in self.verdicts(kind)]
            out[f"verdict_{kind}_counts"] = self.verdict_counts(kind)
        out.update(spectra_computed=self.spectra_computed, cache_hits=self.cache_hits,
                   updates=self.updates, seconds=self.seconds)
        return out


class SpectraBudget:
    """Which iterates get a spectrum when at most ``max_spectra`` may be computed for a run of at
    most ``iters`` steps: an iterate whose activation pattern was seen before always (its spectrum
    is cached); a new pattern while fewer than 3/4 of the budget are spent (a run that stops early,
    or whose masks settle, is covered whole); after that, the iterates of a log-spaced grid over
    [1, iters] with the remaining quarter (the last iterate of the run is added when it ends).
    ``max_spectra=None``: every iterate."""

    def __init__(self, iters: int, max_spectra: int | None):
        if max_spectra is not None and max_spectra < 2:
            raise ValueError(f"max_spectra must be an integer >= 2; got {max_spectra}")
        self.max_spectra = max_spectra
        self.unlimited = max_spectra is None or iters + 1 <= max_spectra
        if not self.unlimited:
            self.free = (3 * max_spectra) // 4
            self.grid = set(np.unique(np.round(np.geomspace(1, max(iters, 1), max(max_spectra - self.free - 1, 1)))
                                      .astype(int)).tolist())

    def wants(self, t: int, cached: bool, computed: int) -> bool:
        return self.unlimited or cached or t == 0 or computed < self.free or t in self.grid


class PathRecorder:
    """Collects a :class:`TheoryPath` record by record; pass it as ``run(..., callback=recorder)``
    (it never asks the run to stop), then call :meth:`finish`.

    ``eta``: GD's step setting as given to ``run``; its value is computed at t = 0 exactly as
    the solver does. ``iters``: the run's iteration limit (for ``max_spectra``).
    """

    def __init__(self, problem: Problem, alg: str, *, eta="theory", resample: bool = False,
                 iters: int | None = None, max_spectra: int | None = None):
        self.problem, self.alg, self.resample = problem, check("alg", alg), resample
        self.eta_setting = eta
        self.eta: float | None = None
        self.budget = SpectraBudget(iters or 0, max_spectra if iters else None)
        self.tracker = SpectrumTracker()
        self.rows: dict[str, list] = {k: [] for k in ARRAYS}
        self.evaluated: list[bool] = []
        self.seconds = 0.0
        self._batch_id = None
        self._last: tuple[int, np.ndarray] | None = None

    def _batch(self, t: int):
        bid = t if self.resample else 0
        if bid != self._batch_id:
            X, _ = self.problem.batch(t, self.resample)
            Z_star = X @ self.problem.U_star
            self._X, self._Z_star, self._M_star, self._batch_id = X, Z_star, Z_star > 0, bid
        return self._X

    def __call__(self, rec: IterRecord) -> None:
        if rec.W is None:
            raise ValueError("record must carry W (iterate with keep_W=True): the theory at W^t needs W^t")
        start = time.perf_counter()
        t = rec.t
        if t != len(self.evaluated):
            raise ValueError(f"records must come in order t = 0, 1, ...; got t = {t} after {len(self.evaluated)}")
        with blas_limit(self.problem.n, self.problem.d):    # small problems: one thread (threads.py)
            self._point(t, rec.W, rec.err, None)
        self._last = (t, rec.W)
        self.seconds += time.perf_counter() - start

    def _point(self, t: int, W: np.ndarray, err: float, want: bool | None, overwrite: bool = False) -> None:
        p = self.problem
        X = self._batch(t)
        n, d = X.shape
        v = p.v_star
        U = W + np.eye(d)
        M = masks(X, U)
        S = signed_masks(M, v)
        key = pattern_key(self._batch_id, S)
        spec = None
        cached = key in self.tracker.cache
        if want is None:
            want = self.budget.wants(t, cached, self.tracker.computed)
        if want or cached:
            spec = self.tracker(X, S, self._batch_id)
        if t == 0 and self.alg == "gd":
            self.eta = _eta_value(self.eta_setting, X, S, *spec)[0]
        contrib = (M.astype(float) - self._M_star) * self._Z_star
        norms = np.sqrt(np.einsum("iq,iq->q", contrib, contrib) / n)
        s = contrib @ v / math.sqrt(n)
        row = dict.fromkeys(ARRAYS, math.nan)
        row["err"] = err
        if err > 0:
            row["rho3_sum"] = norms.sum() / err
            row["rho3_rss"] = float(np.linalg.norm(norms)) / err
            row["rho3_norm_of_sum"] = float(np.linalg.norm(s)) / err
        else:
            row["rho3_sum"] = row["rho3_rss"] = row["rho3_norm_of_sum"] = 0.0
        if spec is not None:
            lo, hi = spec
            kappa, _, rho_gd, rho_am = _paper_rates(lo, hi, row["rho3_sum"])
            row.update(sigma_min=lo, sigma_max=hi, kappa=kappa, rho_gd=rho_gd, rho_am=rho_am)
            row["rho_am_tight"] = (row["rho3_norm_of_sum"] / lo if lo > 0 else math.inf) if hi > 0 else math.inf
            if self.alg == "gd":
                row["rho_gd_tight"] = (gd_linear_rate(self.eta, lo, hi) + self.eta * hi * row["rho3_norm_of_sum"]
                                       if hi > 0 else math.inf)
        if self.alg == "gd" and err > 0:
            delta = W - p.W_star
            lin = delta - self.eta * gram_apply(X, S, delta) / n
            row["linear_term"] = float(np.linalg.norm(lin)) / err
            row["e_term"] = self.eta * float(np.linalg.norm(B_rmatvec(X, S, s))) / math.sqrt(n) / err
        if overwrite:
            for k in ARRAYS:
                self.rows[k][t] = row[k]
            self.evaluated[t] = spec is not None
        else:
            for k in ARRAYS:
                self.rows[k].append(row[k])
            self.evaluated.append(spec is not None)

    def finish(self) -> TheoryPath:
        """The path so far; the last iterate gets its spectrum if the budget skipped it."""
        if self._last is None:
            raise ValueError("no record was given: run at least the initial point")
        t, W = self._last
        if not self.evaluated[t]:
            start = time.perf_counter()
            with blas_limit(self.problem.n, self.problem.d):
                self._point(t, W, self.rows["err"][t], True, overwrite=True)
            self.seconds += time.perf_counter() - start
        arrays = {k: np.array(v, dtype=float) for k, v in self.rows.items()}
        return TheoryPath(alg=self.alg, eta=self.eta, scale=self.problem.scale, noise=self.problem.noise,
                          resample=self.resample, evaluated=np.array(self.evaluated), **arrays,
                          spectra_computed=self.tracker.computed, cache_hits=self.tracker.hits,
                          updates=self.tracker.updates, seconds=self.seconds)


def theory_path(problem: Problem, result: RunResult, *, max_spectra: int | None = None) -> TheoryPath:
    """Per-iterate theory along a finished run on ``problem``.

    ``result`` must come from ``run(problem, ..., keep_W=True)`` (every W^t is needed);
    its algorithm, eta and resampling are read from ``result.config``. For long runs,
    :func:`path_run` does the same without keeping every W^t. Raises ValueError otherwise.
    """
    if any(r.W is None for r in result.records):
        raise ValueError("result must come from run(..., keep_W=True): the theory at W^t needs every W^t "
                         "(or use path_run, which does not keep them)")
    cfg = result.config
    rec = PathRecorder(problem, result.alg, eta=cfg.get("eta", "theory"), resample=bool(cfg.get("resample")),
                       iters=result.n_iter, max_spectra=max_spectra)
    for r in result.records:
        rec(r)
    return rec.finish()


def path_bytes(n: int, d: int, iters: int) -> int:
    """Memory of the per-iterate theory on top of a run: the spectrum (B^T B in the dense
    regime), one n x d float64 E matrix and its masks, and the per-iterate arrays."""
    return spectrum_bytes(n, d) + 8 * 3 * n * d + 8 * (len(ARRAYS) + 2) * (iters + 1)


def check_path_run(n: int, d: int, alg: str, iters: int, *, resample: bool = False, am_solver: str = "auto",
                   memory_budget: int = GB) -> None:
    """Refuse (MemoryBudgetError, before anything is allocated) a run plus its per-iterate theory
    that would pass ``memory_budget``; ValueError for a bad parameter."""
    path = plan_run(n, d, alg, iters=iters, resample=resample, am_solver=am_solver, memory_budget=memory_budget)
    need = run_bytes(n, d, alg, path, iters, False, resample) + path_bytes(n, d, iters)
    check_memory(need, memory_budget, f"{iters} iterations of {alg.upper()} with n = {n}, d = {d} and the theory "
                                      "at every iterate")


def path_run(problem: Problem, alg: str = "gd", W0: np.ndarray | None = None, *, init: str = "identity",
             delta: float = 0.8, eta="theory", resample: bool = False, iters: int | None = None,
             tol: float = 1e-8, am_solver: str = "auto", memory_budget: int = GB,
             max_spectra: int | None = None) -> tuple[RunResult, TheoryPath]:
    """``run`` with the per-iterate theory computed alongside (W^t is not kept).

    Raises ValueError for bad parameters, MemoryBudgetError when the run plus the theory's
    arrays would pass ``memory_budget``.
    """
    alg = check("alg", alg)
    memory_budget = check("memory_budget", memory_budget)
    steps = check("iters", iters) if iters is not None else DEFAULT_ITERS[alg]
    check_path_run(problem.n, problem.d, alg, steps, resample=resample, am_solver=am_solver,
                   memory_budget=memory_budget)
    recorder = PathRecorder(problem, alg, eta=eta, resample=resample, iters=steps, max_spectra=max_spectra)
    res = run(problem, alg, W0, init=init, delta=delta, eta=eta, resample=resample, iters=steps, tol=tol,
              am_solver=am_solver, memory_budget=memory_budget, callback=recorder)
    return res, recorder.finish()


def path_rung(gd: TheoryPath, am: TheoryPath, eps: float) -> Rung:
    """Rung (b'): the tightened bounds at every iterate of the runs, telescoped:
    e_T <= e_0 prod_{t<T} rho_tight,t. Past the end of a run, its last bound is assumed to
    continue. rate_*: that last bound (the asymptotic rate of this rung)."""
    start = float(gd.rel_err[0])
    t, rates, reasons = {}, {}, {}
    for alg, path in (("gd", gd), ("am", am)):
        b = path.bound("tight")
        finite = b[np.isfinite(b)]
        tail = float(finite[-1]) if len(finite) else math.inf
        rates[alg] = tail
        if np.any(np.isnan(b)):
            t[alg] = math.inf
            reasons[f"t_{alg}"] = "some iterates of the run were not evaluated (max_spectra)"
            continue
        t[alg] = first_below(start, b, eps, tail=tail)
        if math.isinf(t[alg]):
            reasons[f"t_{alg}"] = (f"the product of {alg.upper()}'s tightened bounds along its {len(b)} steps stays "
                                   f"above eps = {eps:g}, and its last bound is {tail:.3g}")
    ratio_log, why = log_rate_ratio(rates["gd"], rates["am"], start,
                                    ("GD's last tightened bound", "AM's last tightened bound"))
    if why:
        reasons["ratio_log"] = why
    ratio_eps, why_eps = count_ratio(t["gd"], t["am"], start, eps)
    if why_eps:
        reasons["ratio_eps"] = why_eps
    return Rung("tight_path", "(b') the proof tightened, at every iterate",
                "the tightened one-step bounds evaluated at each iterate the runs visit, multiplied "
                "(e_T <= e_0 prod rho_t); the last bound continues past the end of a run",
                rates["gd"], rates["am"], t["gd"], t["am"], ratio_log, ratio_eps, reasons)
