"""One session's run of GD (eq. 1) and/or AM (eqs. 2-3), computed by the server's workers.

The Train page creates a :class:`RunJob` and hands it to the admission controller
(``dashboard.admission``); worker threads advance it in time slices. Its problem and
solvers are built only once it is admitted (a queued run holds no memory), dropped
when it finishes or when the controller takes its memory back, and rebuilt from the
last iterate (W^t, t and GD's step) when a released run is resumed. Both algorithms
share one teacher problem (same W*, v*, X, y) and advance in turn, the one with less
compute time first, so GD's many cheap steps and AM's few costly ones run side by side.

The page never touches the solvers: it calls :meth:`RunJob.request` / :meth:`RunJob.stop`
and reads :meth:`RunJob.status` and the histories. Every method is thread-safe.
"""
from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from shallowres import Monitor, Problem, make_problem
from shallowres.budget import am_path_seconds, problem_bytes, run_bytes
from shallowres.interrupt import Cancelled
from shallowres.solvers import Stepper, plan_run

from .history import History
from .iterates import Iterates, iterates_bytes
from .state import MEMORY_BUDGET, run_key

ALGS = {"both": ("gd", "am"), "gd": ("gd",), "am": ("am",)}
NAMES = {"gd": "GD", "am": "AM"}
SEC_PER_GD_FLOP = 1e-10     # rough compute model for the queue's waiting-time estimate
GD_STEP_OVERHEAD = 2e-4
AM_TYPICAL_STEPS = 12
STOP_WAIT = 2.0             # seconds Stop waits for a step under way to end (cancelled solves: < 1 s)
STEP_BUDGET = 20.0          # CPU seconds one iteration may take on the shared server (an AM step at
                            # d = 100, n = 2 d^2 takes about 2; near n = d^2, past d = 50, 40 and more)


def iters_of(settings: Mapping, alg: str) -> int:
    return settings["gd_iters"] if alg == "gd" else settings["am_iters"]


def run_estimate(settings: Mapping, memory_budget: int = MEMORY_BUDGET) -> int:
    """Bytes a run of ``settings`` holds (both algorithms share one problem), with the iterates
    kept for the pictures (``dashboard.iterates``). Raises MemoryBudgetError if either algorithm
    alone passes ``memory_budget`` (the per-run guard)."""
    n, d, total = settings["n"], settings["d"], 0
    algs = ALGS[settings["alg"]]
    for alg in algs:
        path = plan_run(n, d, alg, iters=iters_of(settings, alg), resample=settings["resample"],
                        memory_budget=memory_budget)
        total += run_bytes(n, d, alg, path, iters_of(settings, alg), False, settings["resample"])
        total += iterates_bytes(d, iters_of(settings, alg))
    return total - (len(algs) - 1) * problem_bytes(n, d)


def check_fits(settings: Mapping, memory_budget: int = MEMORY_BUDGET) -> None:
    """Raise MemoryBudgetError if a run of ``settings`` would pass the per-run memory guard."""
    run_estimate(settings, memory_budget)


def largest_n(settings: Mapping, budget: int) -> int:
    """The largest n (at the settings' d) whose run fits both ``budget`` and the per-run guard; 0 if none."""
    def fits(n: int) -> bool:
        try:
            return run_estimate(dict(settings, n=n)) <= budget
        except ValueError:
            return False

    lo, hi = 0, int(settings["n"])
    if fits(hi):
        return hi
    while hi - lo > max(1, lo // 100):       # to 1%
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo if lo >= 2 else 0


def build_problem(settings: Mapping) -> Problem:
    """The teacher problem of ``settings`` (raises ValueError / MemoryBudgetError)."""
    return make_problem(d=settings["d"], n=settings["n"], gamma=settings["gamma"],
                        noise=settings["noise"], seed=settings["seed"], memory_budget=MEMORY_BUDGET)


@dataclass(eq=False)
class AlgRun:
    """One algorithm's part of a run: its stepper (while built), stop monitor, history and
    the iterates W^t kept on a thinning grid for the pictures (``dashboard.iterates``)."""

    alg: str
    monitor: Monitor
    history: History
    iterates: Iterates
    stepper: Stepper | None = None
    W: np.ndarray | None = None          # the latest iterate, kept when the stepper is dropped
    eta: float | None = None             # GD's step once known (a resumed run reuses it)
    stop_reason: str | None = None
    message: str = ""
    seconds: float = 0.0                 # compute time in the solver
    target: int | None = None            # Step: pause once t reaches this
    step_since: float | None = None      # monotonic time the step under way began (None between steps)

    @property
    def done(self) -> bool:
        return self.stop_reason is not None

    @property
    def t(self) -> int:
        return -1 if self.history.last is None else self.history.last.t

    def wants_step(self) -> bool:
        return not self.done and (self.target is None or self.t < self.target)


@dataclass(frozen=True)
class Status:
    """What the status line says: ``phase`` is "ready" (nothing computed yet), "running",
    "paused" (``why`` says who paused it), "finished" or "failed"; per algorithm: last
    iteration, relative error, compute seconds, stop reason and message."""

    phase: str
    why: str
    algs: dict = field(default_factory=dict)     # alg -> (t, rel_err, seconds, stop_reason, message)
    stepping: dict = field(default_factory=dict)  # alg -> seconds its step under way has taken so far


class RunJob:
    """A run of the selected algorithms on one teacher problem, for one browser session."""

    def __init__(self, settings: Mapping, session_id: str = "", memory_budget: int = MEMORY_BUDGET):
        self.settings = dict(settings)
        self.session_id = session_id
        self.token = uuid.uuid4().hex[:12]
        self.bytes = run_estimate(self.settings, memory_budget)     # raises MemoryBudgetError
        self.n, self.d = self.settings["n"], self.settings["d"]
        self.runs = {a: AlgRun(a, Monitor(a, iters_of(self.settings, a), self.settings["tol"],
                                          self.settings["resample"], stall_window=Monitor.STALL_WINDOW[a]),
                               History(self.d), Iterates(self.d))
                     for a in ALGS[self.settings["alg"]]}
        self.phase = "ready"
        self.why = ""
        self._problem: Problem | None = None
        self._cancel = threading.Event()
        self._lock = threading.RLock()
        self._stepping = threading.Lock()       # held by the worker from a step to its record

    @property
    def key(self) -> tuple:
        return run_key(self.settings)

    @property
    def active(self) -> bool:
        """True while the run wants CPU (queued or computing)."""
        return self.phase == "running"

    @property
    def done(self) -> bool:
        return all(r.done for r in self.runs.values())

    @property
    def T(self) -> int:
        """The last iteration any of its algorithms has reached (the charts' right end)."""
        return max(r.t for r in self.runs.values())

    # ----- what the page calls ---------------------------------------------------------

    def request(self, mode: str = "run") -> bool:
        """Ask to run to the end ("run") or by one iteration of each unfinished algorithm
        ("step"). False (nothing to do) once every algorithm has stopped for good."""
        with self._lock:
            if self.done or self.phase == "failed":
                return False
            for r in self.runs.values():
                if not r.done:
                    r.target = None if mode == "run" else max(r.t, 0) + 1
            self.phase, self.why = "running", ""
            self._cancel.clear()
            return True

    def stop(self, why: str = "you pressed Stop") -> bool:
        """Stop computing now (an AM step under way is abandoned: W stays at the last iterate).
        The run can be resumed. False if it was not running."""
        with self._lock:
            if self.phase != "running":
                if self.phase == "paused":      # Stop on a paused run: say why it now stays
                    self.why = why
                return False
            self.phase, self.why = "paused", why
            self._cancel.set()
        # Wait for a step under way to be abandoned or recorded, so what the page draws next
        # is where the run stays (a cancelled solve returns within about a second).
        if self._stepping.acquire(timeout=STOP_WAIT):
            self._stepping.release()
        return True

    def status(self) -> Status:
        with self._lock:
            algs, now = {}, time.monotonic()
            for a, r in self.runs.items():
                rec = r.history.last
                algs[a] = (None if rec is None else rec.t, None if rec is None else rec.rel_err,
                           r.seconds, r.stop_reason, r.message)
            stepping = {a: now - r.step_since for a, r in self.runs.items() if r.step_since is not None}
            return Status(self.phase, self.why, algs, stepping)

    # ----- what the admission controller calls ----------------------------------------

    def run_slice(self, deadline: float) -> str:
        """Advance the algorithms in turn until ``deadline`` (perf_counter), at least one step."""
        with self._lock:
            if self.phase != "running" or self._cancel.is_set():
                return "done" if self.phase in ("finished", "failed") else "idle"
        self._build()
        while True:
            with self._lock:
                if self.phase != "running":
                    return "idle"
                todo = [r for r in self.runs.values() if r.wants_step()]
                if not todo:
                    if self.done:
                        self.phase, self.why = "finished", ""
                        return "done"
                    self.phase, self.why = "paused", "one step done"
                    return "idle"
                r = min(todo, key=lambda x: x.seconds)
                stepper = r.stepper
            if stepper is None:                     # released under us: rebuilt next slice
                return "more"
            with self._stepping:
                if self._cancel.is_set():
                    return "idle"
                budget = time.thread_time() + STEP_BUDGET
                r.step_since = time.monotonic()
                try:
                    rec = stepper.step(cancel=lambda b=budget: self._cancel.is_set() or time.thread_time() > b)
                except Cancelled:
                    if self._cancel.is_set():
                        return "idle"               # Stop
                    if time.thread_time() <= budget:
                        return "more"               # the server held the slice: its page went away
                    with self._lock:
                        self._over_budget(r)
                    continue
                except (ValueError, ArithmeticError, np.linalg.LinAlgError, MemoryError) as e:
                    with self._lock:
                        self.phase, self.why = "failed", f"the solver failed: {e}"
                    return "done"
                finally:
                    r.step_since = None
                with self._lock:
                    self._record(r, rec)
            if time.perf_counter() >= deadline:
                return "more"

    def _record(self, r: AlgRun, rec) -> None:
        r.history.append(rec)
        r.seconds, r.W = rec.seconds, r.stepper.W if r.stepper is not None else r.W
        if r.W is not None:
            r.iterates.offer(rec.t, r.W)
        if r.stepper is not None and r.stepper.eta is not None:
            r.eta = r.stepper.eta
        reason = r.monitor(rec)
        if reason is not None:
            r.stop_reason, r.message = reason, r.monitor.message(reason, rec)

    def _over_budget(self, r: AlgRun) -> None:
        """Stop ``r`` for good: its next step needed more than STEP_BUDGET s of compute (the iterate
        stays W^t). Near n = d^2, AM's least-squares step (3) is nearly singular and its solve does
        not converge within CG's and LSQR's iteration caps."""
        ratio = self.n / self.d**2
        why = (f" At n/d² = {ratio:.2f}, B is nearly singular, so the least-squares solve (3) needs "
               "thousands of inner iterations (and its answer is far from W*): AM needs n comfortably "
               "above d² (the Phase page locates the transition)." if r.alg == "am" and ratio < 1.5 else "")
        r.stop_reason = "step_budget"
        r.message = (f"{NAMES[r.alg]} stopped before iteration {r.t + 1:,}: one step took more than "
                     f"{STEP_BUDGET:g} s of compute, this server's limit per step.{why} The command line "
                     "(python -m shallowres run) has no such limit.")

    def _build(self) -> None:
        """Build the problem and the steppers if they are not there (first slice, or after a release)."""
        with self._lock:
            missing = [r for r in self.runs.values() if r.stepper is None and not r.done]
            if not missing:
                return
            problem = self._problem
        if problem is None:
            problem = build_problem(self.settings)
        s = self.settings
        built = {}
        for r in missing:
            eta = r.eta if r.eta is not None else s["eta"]
            built[r.alg] = Stepper(problem, r.alg, r.W, init=s["init"], delta=s["delta"], eta=eta,
                                   resample=s["resample"], memory_budget=MEMORY_BUDGET,
                                   t0=max(r.t, 0), seconds0=r.seconds)
        with self._lock:
            self._problem = problem
            for r in missing:
                r.stepper = built[r.alg]
                if r.history.last is None:          # a new run: record t = 0
                    self._record(r, r.stepper.record)

    def release(self) -> None:
        """Drop the problem and the solvers (memory back); histories, W^t and eta stay."""
        with self._lock:
            self._problem = None
            for r in self.runs.values():
                r.stepper = None

    def cut(self, reason: str) -> None:
        with self._lock:
            if self.phase == "running":
                self.phase, self.why = "paused", f"stopped by the server: {reason}"
            self._cancel.set()

    def estimate_seconds(self) -> float:
        """Remaining compute, from the measured seconds per step or a rough model."""
        total = 0.0
        for a, r in self.runs.items():
            if r.done:
                continue
            t = max(r.t, 0)
            left = max(0, (iters_of(self.settings, a) if a == "gd" else AM_TYPICAL_STEPS) - t)
            if t > 0:
                per = r.seconds / (t + 1)
            elif a == "gd":
                per = SEC_PER_GD_FLOP * 6 * self.n * self.d**2 + GD_STEP_OVERHEAD
            else:
                per = am_path_seconds("cg" if self.d > 25 else "cholesky", self.n, self.d)
            total += left * per
        return total

    def iterate(self, alg: str, t: int | None = None) -> tuple[int, np.ndarray] | None:
        """(t', W^t') of ``alg`` for the pictures: the latest iterate if ``t`` is None or past it,
        else the nearest kept iterate at or before t (t' says which); None before t = 0."""
        with self._lock:
            r = self.runs[alg]
            if r.W is None or r.t < 0:
                return None
            if t is None or t >= r.t:
                return r.t, r.W
        return r.iterates.at(t)

    def problem(self) -> Problem | None:
        """The run's problem while it is built (None after the controller released it)."""
        return self._problem

    def nbytes_kept(self) -> int:
        """Memory the run keeps when released (its histories and kept iterates)."""
        return sum(r.history.nbytes() + r.iterates.nbytes() for r in self.runs.values())


def finite_or_none(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None
