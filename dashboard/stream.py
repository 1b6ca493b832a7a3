"""One session's run of GD (eq. 1) and/or AM (eqs. 2-3), advanced step by step.

A :class:`RunState` lives in ``st.session_state`` (never at module level), so every
browser session owns its generators. Both algorithms share one teacher problem
(same W*, v*, X, y). ``play`` advances them in turn, giving each about the same
compute time, and calls ``redraw`` at most every ``throttle`` seconds, and never
more often than keeps drawing under ``OVERHEAD`` of the compute time: streaming
costs the solver little. ``step`` advances each unfinished algorithm by exactly
one iteration.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from shallowres import IterRecord, Monitor, Problem, iterate, make_problem, plan_run

from .state import MEMORY_BUDGET, run_key

ALGS = {"both": ("gd", "am"), "gd": ("gd",), "am": ("am",)}
NAMES = {"gd": "GD", "am": "AM"}
COLUMNS = ("t", "err", "rel_err", "train_loss", "test_loss", "flips_teacher", "flips_prev",
           "rho3", "inner_iters")
THROTTLE = 0.6      # seconds between redraws, at least (a browser needs ~0.3 s to draw four charts)
OVERHEAD = 0.08     # and drawing may take at most this fraction of the time between redraws,
MAX_INTERVAL = 1.5  # but redraws (the points where Stop is heard) are at most this far apart
SLOW_TICKS = 25     # slow motion: GD's iterations spread over this many redraws ...
SLOW_TICK = 0.6     # ... at least this many seconds apart (AM: one iteration per redraw)


def check_fits(settings: Mapping) -> None:
    """Refuse (MemoryBudgetError) settings whose runs would pass the memory budget,
    before anything large is allocated: the same estimate as ``shallowres.run``."""
    for alg in ALGS[settings["alg"]]:
        iters = settings["gd_iters"] if alg == "gd" else settings["am_iters"]
        plan_run(settings["n"], settings["d"], alg, iters=iters, resample=settings["resample"],
                 memory_budget=MEMORY_BUDGET)


def build_problem(settings: Mapping) -> Problem:
    """The teacher problem of ``settings`` (raises ValueError / MemoryBudgetError)."""
    return make_problem(d=settings["d"], n=settings["n"], gamma=settings["gamma"],
                        noise=settings["noise"], seed=settings["seed"], memory_budget=MEMORY_BUDGET)


def iterator_for(problem: Problem, alg: str, settings: Mapping):
    """The record generator of ``alg`` at ``settings`` (keeps only the latest W)."""
    return iterate(problem, alg, init=settings["init"], delta=settings["delta"],
                   eta=settings["eta"], resample=settings["resample"], keep_W=True,
                   memory_budget=MEMORY_BUDGET)


@dataclass(eq=False)
class Trace:
    """One algorithm's progress: its generator, stop monitor and history so far.

    ``seconds`` is the compute time spent inside the solver, excluding pauses
    between Step clicks and drawing.
    """

    alg: str
    records: object                     # the generator from shallowres.iterate
    monitor: Monitor
    columns: dict[str, list] = field(default_factory=lambda: {c: [] for c in COLUMNS + ("seconds",)})
    flips: list[np.ndarray] = field(default_factory=list)
    W: np.ndarray | None = None
    last: IterRecord | None = None
    stop_reason: str | None = None
    message: str = ""
    seconds: float = 0.0

    @property
    def done(self) -> bool:
        return self.stop_reason is not None

    @property
    def n_iter(self) -> int:
        return -1 if self.last is None else self.last.t

    def advance(self) -> IterRecord:
        """Take one record from the solver, store it and ask the monitor whether to stop."""
        start = time.perf_counter()
        try:
            rec = next(self.records)
        except StopIteration:           # the solver ends only after a non-finite error
            self.finish("diverged")
            return self.last
        self.seconds += time.perf_counter() - start
        for c in COLUMNS:
            self.columns[c].append(getattr(rec, c))
        self.columns["seconds"].append(self.seconds)
        self.flips.append(rec.flips_teacher_per_neuron)
        self.W, self.last = rec.W, rec
        reason = self.monitor(rec)
        if reason is not None:
            self.finish(reason)
        return rec

    def finish(self, reason: str) -> None:
        self.stop_reason = reason
        self.message = self.monitor.message(reason, self.last)

    def history(self) -> dict[str, np.ndarray]:
        """Per-iteration arrays, one per column, plus ``flips_per_neuron`` (T+1, d)."""
        out = {c: np.asarray(v) for c, v in self.columns.items()}
        out["flips_per_neuron"] = np.asarray(self.flips)
        return out


@dataclass(eq=False)
class RunState:
    """A run of the selected algorithms on one teacher problem."""

    settings: dict
    problem: Problem
    traces: dict[str, Trace]
    draws: int = 0
    draw_seconds: float = 0.0
    playing: bool = False     # True while ``play`` runs; still True after an interrupted play

    @classmethod
    def start(cls, settings: Mapping) -> RunState:
        """Build the problem and the generators; each records t = 0 at once.

        Raises ValueError (MemoryBudgetError) for settings past the memory budget.
        """
        check_fits(settings)
        problem = build_problem(settings)
        traces = {}
        for alg in ALGS[settings["alg"]]:
            iters = settings["gd_iters"] if alg == "gd" else settings["am_iters"]
            monitor = Monitor(alg, iters, settings["tol"], settings["resample"])
            traces[alg] = Trace(alg, iterator_for(problem, alg, settings), monitor)
        run = cls(dict(settings), problem, traces)
        for tr in traces.values():
            tr.advance()
        return run

    @property
    def key(self) -> tuple:
        return run_key(self.settings)

    @property
    def done(self) -> bool:
        return all(tr.done for tr in self.traces.values())

    @property
    def stopped(self) -> bool:
        return any(tr.stop_reason == "stopped" for tr in self.traces.values())

    @property
    def n_records(self) -> int:
        return sum(len(tr.columns["t"]) for tr in self.traces.values())

    @property
    def compute_seconds(self) -> float:
        return sum(tr.seconds for tr in self.traces.values())

    def histories(self) -> dict[str, dict[str, np.ndarray]]:
        return {alg: tr.history() for alg, tr in self.traces.items()}

    def step(self) -> None:
        """Advance every unfinished algorithm by exactly one iteration."""
        self.resume()
        for tr in self.traces.values():
            if not tr.done:
                tr.advance()

    def stop(self) -> None:
        """Stop the unfinished algorithms (stop reason "stopped"); ``resume`` undoes it."""
        self.playing = False
        for tr in self.traces.values():
            if not tr.done:
                tr.finish("stopped")

    def resume(self) -> None:
        for tr in self.traces.values():
            if tr.stop_reason == "stopped":
                tr.stop_reason, tr.message = None, ""

    def play(self, redraw: Callable[[RunState], None], throttle: float = THROTTLE) -> None:
        """Run to the end, redrawing at most every ``throttle`` s, within ``OVERHEAD`` (and at
        least every ``MAX_INTERVAL`` s, so that Stop is heard).

        The algorithm with less compute time so far goes next, so GD's many cheap
        steps and AM's few costly ones advance side by side. A widget change in the
        browser interrupts this loop at its next Streamlit call (inside ``redraw``).
        """
        self.resume()
        self.playing = True
        last = time.perf_counter()
        interval = throttle
        while not self.done:
            tr = min((t for t in self.traces.values() if not t.done), key=lambda t: t.seconds)
            tr.advance()
            if time.perf_counter() - last >= interval and not self.done:
                cost = self.draw(redraw)
                interval = min(max(throttle, cost / OVERHEAD), max(throttle, MAX_INTERVAL))
                last = time.perf_counter()
        self.playing = False

    def play_slowly(self, redraw: Callable[[RunState], None], tick: float = SLOW_TICK) -> None:
        """Slow motion for a projector: per redraw, AM takes one iteration and GD 1/SLOW_TICKS
        of its budget; redraws at least ``tick`` seconds apart."""
        self.resume()
        self.playing = True
        gd_steps = max(1, math.ceil(self.settings["gd_iters"] / SLOW_TICKS))
        while not self.done:
            start = time.perf_counter()
            for tr in self.traces.values():
                for _ in range(gd_steps if tr.alg == "gd" else 1):
                    if not tr.done:
                        tr.advance()
            if not self.done:
                self.draw(redraw)
                time.sleep(max(0.0, tick - (time.perf_counter() - start)))
        self.playing = False

    def draw(self, redraw: Callable[[RunState], None]) -> float:
        """Call ``redraw(self)``; return (and count) the seconds it took."""
        start = time.perf_counter()
        redraw(self)
        cost = time.perf_counter() - start
        self.draws += 1
        self.draw_seconds += cost
        return cost

    def status(self) -> str:
        """One line per algorithm: iteration, relative error, compute time, stop reason."""
        lines = []
        for alg, tr in self.traces.items():
            rec = tr.last
            line = (f"**{NAMES[alg]}** · iteration {rec.t} · relative error {rec.rel_err:.2e} · "
                    f"{tr.seconds:.2f} s" + ("" if tr.done else " · running"))
            if tr.done:
                line += f" — {tr.message}"
            lines.append(line)
        return "  \n".join(lines)
