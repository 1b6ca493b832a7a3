"""A sweep as resumable state: advance it in slices, in this thread or on an executor.

:class:`SweepJob` holds a spec's batches (:func:`shallowres.sweep_batches.plan_batches`),
the trials finished so far and, between slices, the batch in progress. It is what
the dashboard keeps per session and what a server-wide scheduler can drive:

    job = SweepJob(spec, batch_bytes=32 * 2**20)
    reserve(job.peak_bytes())                                        # the most any batch needs
    while not job.finished:
        job.advance(seconds=0.5, cancel=lambda: session_closed)   # computes ~0.5 s, returns
        draw(job.rows(), job.done, job.total, job.eta_seconds())
    result = job.result()

``release()`` drops the batch in progress (it restarts on the next ``advance``, with
the same numbers), for a scheduler that needs the memory back while the job waits.

``advance`` computes in the calling thread (one BLAS thread) and returns within
about ``seconds`` (one GD step or one AM least-squares solve past it at most);
stopping between calls loses nothing, and calling ``advance`` again resumes in
the middle of the batch. Memory: the trials' results (~100 bytes each) plus the
batch in progress (``nbytes``; at most ``batch_bytes`` of stacked arrays for GD,
one problem at a time for AM).

:meth:`SweepJob.run_on` runs the rest of the job on an executor (processes,
Dask), at most one batch per worker in flight, and survives a lost worker: a
process pool that breaks is reopened and its lost batches run again, once.
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import time
from collections.abc import Callable

from .batched import Cancel
from .executors import parallelism
from .sweep import Progress, SweepResult, SweepSpec, TrialResult, summarize
from .sweep_batches import (
    BATCH_BYTES,
    MAX_BATCH_RUNS,
    BatchRunner,
    Task,
    batch_bytes,
    batch_cost,
    plan_batches,
    run_batch,
)

RETRIES = 1                 # times a batch lost with its worker is run again
DRAIN_POLL = 0.5            # seconds between checks while waiting for running batches


def lost_work(exc: BaseException) -> bool:
    """Whether a batch failed because its worker went away (not because of the batch):
    a broken process pool, a Dask task whose workers kept dying, a cancelled future."""
    return (isinstance(exc, cf.BrokenExecutor | cf.CancelledError)
            or type(exc).__name__ in ("KilledWorker", "FutureCancelledError"))


class SweepJob:
    """Resumable state of one sweep (module doc). ``max_runs`` and ``batch_bytes``
    bound a batch; neither changes any number in the table."""

    def __init__(self, spec: SweepSpec, *, max_runs: int = MAX_BATCH_RUNS, batch_bytes: int = BATCH_BYTES):
        if not isinstance(spec, SweepSpec):
            raise ValueError(f"spec must be a SweepSpec; got {type(spec).__name__}")
        self.spec = spec
        self.batches = plan_batches(spec, max_runs, batch_bytes)
        self.costs = [batch_cost(spec, b) for b in self.batches]
        self.queue = list(range(len(self.batches)))    # batches not started (inline) or not submitted
        self.runner: BatchRunner | None = None          # inline: the batch in progress
        self.runner_index: int | None = None
        self.trials: dict[Task, TrialResult] = {}
        self.pending: dict[cf.Future, int] = {}         # advance_on: batches in flight, kept across calls
        self.attempts: dict[int, int] = {}
        self.lost: list[int] = []                       # batches given up on
        self.retried = 0
        self.cancelled = False
        self.compute_seconds = 0.0                      # time spent computing (inline) or waiting (executor)
        self.done_cost = 0.0
        self._order = {task: i for i, task in enumerate(spec.tasks())}

    # ----- where it stands ------------------------------------------------------------

    @property
    def total(self) -> int:
        return self.spec.total

    @property
    def done(self) -> int:
        return len(self.trials)

    @property
    def finished(self) -> bool:
        """Nothing left to run (all done, or the rest lost)."""
        return not self.queue and self.runner is None and not self.pending

    @property
    def nbytes(self) -> int:
        """Memory held by the batch in progress (estimate)."""
        return self.runner.nbytes if self.runner is not None else 0

    def peak_bytes(self) -> int:
        """The most memory any of the job's batches needs while it runs (estimate, what an
        admission controller should reserve for the job; ``sweep_batches.batch_bytes``)."""
        return max(batch_bytes(self.spec, b) for b in self.batches)

    def release(self) -> None:
        """Drop the batch in progress (its memory goes; it starts over on the next
        ``advance``, with the same results). Finished trials are kept. Quick."""
        if self.runner is not None:
            self.queue.insert(0, self.runner_index)
            self.runner = self.runner_index = None

    def eta_seconds(self) -> float | None:
        """Seconds of compute left, extrapolated from the batches done so far by their
        modelled cost (``batch_cost``); None before the first batch has finished."""
        if self.done_cost <= 0:
            return None
        left = sum(self.costs[i] for i in self.queue)
        if self.runner_index is not None:
            left += self.costs[self.runner_index]
        left += sum(self.costs[i] for i in self.pending.values())
        return self.compute_seconds * left / self.done_cost

    def rows(self):
        return summarize(self.spec, self.trials.values())

    def result(self, seconds: float | None = None, executor: str = "serial", workers: int = 1) -> SweepResult:
        trials = tuple(sorted(self.trials.values(), key=lambda r: self._order[(r.cell, r.trial)]))
        lost = sum(len(self.batches[i]) for i in self.lost)
        return SweepResult(self.spec, trials, summarize(self.spec, trials),
                           self.cancelled or len(trials) < self.total,
                           self.compute_seconds if seconds is None else seconds, executor, workers,
                           lost=lost, retried=self.retried)

    def _record(self, index: int, results, progress: Progress | None) -> bool:
        """Keep a finished batch's trials; True if ``progress`` asked to stop."""
        self.done_cost += self.costs[index]
        stop = False
        for r in results:
            self.trials[(r.cell, r.trial)] = r
            if progress is not None and progress(self.done, self.total, r):
                stop = True
        if stop:
            self.cancelled = True
        return stop

    # ----- in this thread ---------------------------------------------------------------

    def advance(self, seconds: float = 0.5, cancel: Cancel | None = None,
                progress: Progress | None = None) -> int:
        """Compute in this thread for about ``seconds`` (or until ``cancel()`` or the end);
        returns the number of trials finished during the call. Resumable."""
        start = time.perf_counter()
        deadline = start + seconds
        before = self.done
        try:
            while not self.finished:
                # Another thread (a page) may read ``finished`` at any moment: the runner is set before
                # its batch leaves the queue and cleared only once its trials are recorded, so the job
                # never looks finished with a batch in between (a page once showed "All 192 trials"
                # of 200: it read the job between the last batch's pop and its runner).
                if self.runner is None:
                    index = self.queue[0]
                    self.runner = BatchRunner(self.spec, self.batches[index])
                    self.runner_index = index
                    self.queue.pop(0)
                if not self.runner.advance(deadline, cancel):
                    break
                stop = self._record(self.runner_index, self.runner.results(), progress)
                self.runner = self.runner_index = None
                if stop:
                    break
                if time.perf_counter() >= deadline or (cancel is not None and cancel()):
                    break
        finally:
            self.compute_seconds += time.perf_counter() - start
        return self.done - before

    def run_inline(self, progress: Progress | None = None, cancel: Cancel | None = None) -> SweepResult:
        """Run to the end in this thread, or until ``progress`` returns True or ``cancel()``
        (checked between GD steps and AM solves: the batch in progress is dropped)."""
        start = time.perf_counter()
        while not self.finished and not self.cancelled:
            self.advance(seconds=3600.0, cancel=cancel, progress=progress)
            if cancel is not None and cancel():
                self.cancelled = True
        self.runner = self.runner_index = None
        return self.result(time.perf_counter() - start, "serial", 1)

    # ----- on an executor --------------------------------------------------------------

    def advance_on(self, executor: cf.Executor, seconds: float = 0.5, cancel: Cancel | None = None,
                   progress: Progress | None = None) -> int:
        """Like :meth:`advance`, with the batches computed on ``executor`` (one per worker
        in flight). Batches still running when the call returns stay in flight and are
        collected by the next call, so stopping between calls loses nothing while the
        executor lives. A batch lost with its worker runs again once, then counts lost;
        a broken process pool raises RuntimeError (open a new executor and call again:
        the lost batches are back in the queue). Returns the trials finished in the call."""
        start = time.perf_counter()
        deadline = start + seconds
        before = self.done
        if self.runner is not None:          # an inline batch in progress starts over on the executor
            self.queue.insert(0, self.runner_index)
            self.runner = self.runner_index = None
        workers = parallelism(executor)
        broken = False
        try:
            while not broken:
                while len(self.pending) < workers and self.queue and not self.cancelled:
                    i = self.queue.pop(0)
                    self.pending[executor.submit(run_batch, self.spec, self.batches[i])] = i
                left = deadline - time.perf_counter()
                if not self.pending or left <= 0:
                    break
                done, _ = cf.wait(self.pending, timeout=min(left, DRAIN_POLL), return_when=cf.FIRST_COMPLETED)
                for f in done:
                    i = self.pending.pop(f)
                    exc = f.exception()
                    if exc is None:
                        self._record(i, f.result(), progress)
                    elif lost_work(exc):
                        broken |= isinstance(exc, cf.BrokenExecutor)
                        if self.attempts.get(i, 0) < RETRIES:
                            self.attempts[i] = self.attempts.get(i, 0) + 1
                            self.retried += 1
                            self.queue.insert(0, i)
                        else:
                            self.lost.append(i)
                    else:
                        raise exc
                if cancel is not None and cancel():
                    break
        finally:
            self.compute_seconds += time.perf_counter() - start
        if broken:
            for f, i in list(self.pending.items()):
                f.cancel()
                self.queue.insert(0, i)
            self.pending.clear()
            raise RuntimeError("the worker pool broke (a worker process died); its batches are queued again: "
                               "call advance_on with a new executor, or advance to run them here")
        return self.done - before

    def run_on(self, executor: cf.Executor | Callable, progress: Progress | None = None,
               name: str | None = None, cancel: Cancel | None = None) -> SweepResult:
        """Run the remaining batches on ``executor`` (an open Executor), or on executors
        opened by ``executor()`` (a context-manager factory: then a process pool that
        breaks is replaced by a new one). At most one batch per worker in flight.

        Cancelling (``progress`` returning True, ``cancel()`` (polled every DRAIN_POLL
        seconds), or an exception here such as KeyboardInterrupt) submits nothing more
        and waits for the batches already running; their trials are kept. A batch lost with its worker (broken pool,
        Dask's KilledWorker) runs again up to RETRIES times where an executor can take
        it, else it is reported in ``SweepResult.lost``.
        """
        start = time.perf_counter()
        factory = None if isinstance(executor, cf.Executor) else executor
        attempts: dict[int, int] = {}
        pending: dict[cf.Future, int] = {}
        with contextlib.ExitStack() as stack:
            ex = stack.enter_context(factory()) if factory else executor
            workers = parallelism(ex)
            name = name or type(ex).__name__

            def submit_more():
                while len(pending) < workers and self.queue and not self.cancelled:
                    i = self.queue.pop(0)
                    pending[ex.submit(run_batch, self.spec, self.batches[i])] = i

            try:
                submit_more()
                while pending:
                    done, _ = cf.wait(pending, timeout=DRAIN_POLL, return_when=cf.FIRST_COMPLETED)
                    if cancel is not None and not self.cancelled and cancel():
                        self.cancelled = True
                    lost, broken = [], False
                    for f in done:
                        i = pending.pop(f)
                        exc = f.exception()
                        if exc is None:
                            self._record(i, f.result(), progress)
                        elif lost_work(exc):
                            lost.append(i)
                            broken |= isinstance(exc, cf.BrokenExecutor)
                        else:
                            raise exc
                    if broken:             # a broken pool fails everything it still holds
                        cf.wait(pending)
                        lost.extend(pending.pop(f) for f in list(pending))
                    if lost:
                        retry = [i for i in lost if attempts.get(i, 0) < RETRIES and (factory or not broken)]
                        self.lost.extend(i for i in lost if i not in retry)
                        for i in retry:
                            attempts[i] = attempts.get(i, 0) + 1
                        self.retried += len(retry)
                        self.queue[:0] = sorted(retry)
                        if broken:
                            if factory is None:       # not ours to reopen: the rest cannot run
                                self.lost.extend(self.queue)
                                self.queue.clear()
                            else:
                                stack.close()
                                ex = stack.enter_context(factory())
                    submit_more()
            finally:
                self._drain(pending, progress)
        return self.result(time.perf_counter() - start, name, workers)

    def _drain(self, pending: dict[cf.Future, int], progress: Progress | None) -> None:
        """Wait for the batches still running and keep what they computed; a batch
        whose worker died is counted lost. Dask's ``cancel()`` would not stop a running
        task, only forget it, so the wait is the only way to leave nothing running."""
        while pending:
            done, _ = cf.wait(pending, timeout=DRAIN_POLL)
            for f in done:
                i = pending.pop(f)
                exc = f.exception()
                if exc is None:
                    self._record(i, f.result(), None if self.cancelled else progress)
                else:
                    self.lost.append(i)
