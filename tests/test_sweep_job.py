"""A sweep advanced in slices (the dashboard, a scheduler) and on executors that lose workers."""
import concurrent.futures as cf
import os
import signal

import pytest

from shallowres import executors
from shallowres.sweep import DETERMINISTIC_COLUMNS, SweepSpec, run_sweep
from shallowres.sweep_batches import plan_batches
from shallowres.sweep_job import SweepJob

SPEC = SweepSpec(n=(12, 40, 60), d=(4,), gamma=(1.0,), trials=4, gd_iters=400, am_iters=20)


def key(res):
    return res.table(DETERMINISTIC_COLUMNS)


def trials(res):
    return [(r.cell, r.trial, r.seed, r.rel_err, r.n_iter, r.stop_reason) for r in res.trials]


@pytest.fixture(scope="module")
def whole():
    return run_sweep(SPEC, "serial")


def test_tiny_slices_resume_mid_batch_and_give_the_same_table(whole):
    job = SweepJob(SPEC)
    calls, mid_batch = 0, 0
    while not job.finished:
        job.advance(seconds=0.0005)
        calls += 1
        mid_batch += job.runner is not None
    assert calls > len(job.batches) and mid_batch > 0        # stopped inside batches, and resumed there
    res = job.result()
    assert trials(res) == trials(whole) and key(res) == key(whole)
    assert not res.cancelled and res.done == SPEC.total


def test_a_job_never_looks_finished_with_a_batch_in_between(monkeypatch, whole):
    """A page reads ``finished`` from its own thread while a worker advances the job. It must never
    see it finished while a batch is being built or its trials recorded: a loaded CI machine once
    showed "All 192 trials" of 200, the last batch of 8 missing. Here the job is read at both moments."""
    import shallowres.sweep_job as sweep_job

    job = SweepJob(SPEC)
    seen = []

    class Watched(sweep_job.BatchRunner):
        def __init__(self, *args):
            seen.append(("built", job.finished, job.done))
            super().__init__(*args)

    monkeypatch.setattr(sweep_job, "BatchRunner", Watched)
    while not job.finished:
        job.advance(seconds=10.0, progress=lambda done, total, r: seen.append(("recorded", job.finished, done)))
    assert not [s for s in seen if s[1]], [s for s in seen if s[1]][:3]
    assert job.done == SPEC.total and trials(job.result()) == trials(whole)


def test_progress_estimates_and_memory_of_a_job():
    job = SweepJob(SPEC, batch_bytes=2**20)
    assert job.eta_seconds() is None and job.done == 0 and job.nbytes == 0
    job.advance(seconds=0.05)
    while job.done == 0:
        job.advance(seconds=0.05)
    eta = job.eta_seconds()
    assert eta is not None and eta > 0
    assert 0 < job.done < job.total or job.finished
    while not job.finished:
        job.advance(seconds=0.05)
        assert job.nbytes <= 2**20 + 8 * 61 * 5 * 16
    assert job.eta_seconds() == 0


def test_release_drops_the_batch_in_progress_and_the_table_is_unchanged(whole):
    job = SweepJob(SPEC)
    peak = job.peak_bytes()
    assert peak > 0
    released = 0
    while not job.finished:
        job.advance(seconds=0.0005)
        assert job.nbytes <= peak
        if job.runner is not None and released < 5:
            job.release()
            released += 1
            assert job.runner is None and job.nbytes == 0
    assert released == 5
    assert trials(job.result()) == trials(whole)


def test_cancel_callback_stops_an_advance_at_once():
    job = SweepJob(SweepSpec(n=(60,), d=(4,), gamma=(1.0,), trials=4, algs=("gd",), gd_iters=5000,
                             stop_at_threshold=False, stall=False))
    assert job.advance(seconds=60, cancel=lambda: True) == 0     # one GD step, then back
    assert job.runner is not None and job.runner.runners[0].t == 1


def test_advance_on_an_executor_keeps_batches_in_flight_between_calls(whole):
    job = SweepJob(SPEC)
    with cf.ThreadPoolExecutor(2) as pool:
        job.advance(seconds=0.0005)                    # an inline start moves over to the pool
        while not job.finished:
            job.advance_on(pool, seconds=0.001)
    assert trials(job.result()) == trials(whole)


# ----- lost workers ------------------------------------------------------------------------

def kill_one_worker(pool: cf.ProcessPoolExecutor) -> int:
    pid = next(iter(pool._processes))
    os.kill(pid, signal.SIGKILL)
    return pid


def test_a_killed_process_worker_is_replaced_and_its_batches_run_again(whole):
    """run_sweep's own pool: the batch running in the killed worker (and any other pending
    on the broken pool) runs again on a new pool; the table is complete and unchanged."""
    job = SweepJob(SPEC)
    pools, killed = [], []

    def factory():
        pool = executors.process_executor(2)
        pools.append(pool)
        return pool

    def progress(done, total, r):
        if not killed:
            killed.append(kill_one_worker(pools[-1]))

    res = job.run_on(factory, progress, "processes")
    assert killed and len(pools) == 2
    assert res.retried >= 1 and res.lost == 0 and not res.cancelled
    assert trials(res) == trials(whole)


def test_a_killed_worker_of_a_pool_you_passed_keeps_the_finished_trials_and_reports_the_rest():
    job = SweepJob(SPEC)
    killed = []
    with executors.process_executor(2) as pool:
        def progress(done, total, r):
            if not killed:
                killed.append(kill_one_worker(pool))
        res = job.run_on(pool, progress)
    assert killed and res.cancelled and res.lost > 0
    assert res.done + res.lost == SPEC.total
    assert res.done >= len(plan_batches(SPEC)[0])             # the first batch's trials were kept
    assert sum(r.trials for r in res.rows) == res.done


def test_advance_on_a_broken_pool_queues_its_batches_again(whole):
    job = SweepJob(SPEC)
    pool = executors.process_executor(2)
    try:
        job.advance_on(pool, seconds=0.01)
        kill_one_worker(pool)
        with pytest.raises(RuntimeError, match="the worker pool broke"):
            while not job.finished:
                job.advance_on(pool, seconds=0.2)
    finally:
        pool.shutdown(wait=True)
    assert not job.pending and job.queue                      # nothing lost: all queued again
    while not job.finished:
        job.advance(seconds=1.0)                              # finish here
    assert trials(job.result()) == trials(whole)
