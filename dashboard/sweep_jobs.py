"""A sweep as a job of the server's admission controller (``dashboard.admission``).

:class:`SweepAdmissionJob` wraps a :class:`shallowres.sweep_job.SweepJob` in the
controller's ``Job`` protocol: it reserves the most memory any of its batches needs
(``SweepJob.peak_bytes``), computes in the controller's time slices
(``SweepJob.advance`` until the slice's deadline, resumable mid-batch), drops the
batch in progress when the controller wants the memory back (``release``: the batch
restarts later with the same numbers) and stops for good when the session is gone
(``cut``). The page keeps the wrapper in its session and reads ``job.rows()``,
``job.done`` and ``job.eta_seconds()`` to draw.

A Stop is ``stop()`` plus ``Controller.withdraw``: the next slice (or the one under
way, at its end) answers "idle", so the job keeps its finished trials and its memory
until the idle TTL; ``request()`` and a new ``submit`` resume it.
"""
from __future__ import annotations

import contextlib
import threading
import time

from shallowres.interrupt import Cancelled, cancelled
from shallowres.sweep_job import SweepJob


class SweepAdmissionJob:
    """The controller's view of one session's sweep (see the module doc)."""

    def __init__(self, job: SweepJob, session_id: str):
        self.job, self.session_id = job, session_id
        self.bytes = job.peak_bytes()
        self.reason = ""                       # why the server cut it, for the page
        self._lock = threading.Lock()          # the page reads while a worker advances
        self._cut = threading.Event()
        self.wanted = True                     # False after stop(): slices answer "idle"

    @property
    def cut_reason(self) -> str:
        """Why the server stopped it for good ("" if it did not)."""
        return self.reason if self._cut.is_set() else ""

    @property
    def active(self) -> bool:
        """Wants CPU: requested, not stopped, not finished, not cut."""
        return self.wanted and not self._cut.is_set() and not self.job.finished

    def request(self) -> None:
        """Run (again): the next ``submit`` computes it."""
        self.wanted = True

    def stop(self) -> None:
        """Stop after the slice under way (if any); finished trials are kept."""
        self.wanted = False

    @contextlib.contextmanager
    def locked(self):
        """Hold the job (no worker computes it meanwhile): the page's own loop on an executor."""
        with self._lock:
            yield self.job

    def run_slice(self, deadline: float):
        if self._cut.is_set():
            return "done"
        if not self.wanted:
            return "idle"
        with self._lock:
            # cut for good, or held by the controller (the page went away): stop between steps, or
            # inside an AM solve (Cancelled: the step starts over on the next slice, same numbers)
            try:
                self.job.advance(max(deadline - time.perf_counter(), 0.0),
                                 cancel=lambda: self._cut.is_set() or cancelled())
            except Cancelled:
                return "done" if self._cut.is_set() else "more"
            if self.job.finished or self._cut.is_set():
                return "done"
            return "more" if self.wanted else "idle"

    def release(self) -> None:
        with self._lock:
            self.job.release()

    def cut(self, reason: str) -> None:
        self.reason = reason
        self._cut.set()
        self.job.cancelled = True

    def estimate_seconds(self) -> float:
        eta = self.job.eta_seconds()
        return eta if eta is not None else float(sum(self.job.costs[i] for i in self.job.queue))

    def snapshot(self):
        """(rows, done, total, eta seconds) read consistently while a worker computes."""
        with self._lock:
            return self.job.rows(), self.job.done, self.job.total, self.job.eta_seconds()

    def result(self, executor: str):
        with self._lock:
            return self.job.result(executor=executor)
