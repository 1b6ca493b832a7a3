"""A sweep driven by the admission controller's slices equals the same sweep run directly."""
from dashboard.admission import Controller, Limits, Refused
from dashboard.sweep_jobs import SweepAdmissionJob
from shallowres.sweep import SweepSpec, run_sweep
from shallowres.sweep_job import SweepJob
from shallowres.validation import MB

SPEC = SweepSpec(n=(12, 40, 60), d=(4,), gamma=(1.0,), trials=3, gd_iters=400, am_iters=20)


def key(trials):
    return [(r.cell, r.trial, r.rel_err, r.n_iter, r.stop_reason) for r in trials]


def test_the_controllers_slices_and_releases_give_the_direct_table():
    ctl = Controller(Limits(memory=100 * MB, workers=1, quantum=0.002), start=False)
    job = SweepAdmissionJob(SweepJob(SPEC), "s1")
    assert 0 < job.bytes < 100 * MB and job.estimate_seconds() > 0
    ctl.submit(job)
    slices = released = 0
    while not job.job.finished:
        assert ctl.work_once()
        slices += 1
        if slices % 7 == 0 and released < 3:
            job.release()                    # the controller took the memory back: the batch restarts
            released += 1
        rows, done, total, _ = job.snapshot()
        assert done <= total == SPEC.total and len(rows) <= len(SPEC.cells())
    assert slices > 5 and released == 3
    assert key(job.job.result().trials) == key(run_sweep(SPEC, "serial").trials)


def test_a_cut_job_stops_and_a_too_big_one_is_refused():
    ctl = Controller(Limits(memory=100 * MB, workers=1, quantum=0.001), start=False)
    job = SweepAdmissionJob(SweepJob(SPEC), "s2")
    ctl.submit(job)
    ctl.work_once()
    job.cut("the page was closed")
    assert job.run_slice(1e18) == "done" and job.job.cancelled and job.reason
    tiny = Controller(Limits(memory=10 * MB, workers=1), start=False)
    big = SweepAdmissionJob(SweepJob(SweepSpec(n=(20000,), d=(50,), algs=("gd",), trials=16)), "s3")
    assert big.bytes > 10 * MB
    try:
        tiny.submit(big)
    except Refused as e:
        assert "more than" in str(e)
    else:
        raise AssertionError("a sweep larger than the budget was admitted")


def test_stop_makes_the_job_idle_with_its_trials_and_request_resumes_it():
    ctl = Controller(Limits(memory=100 * MB, workers=1, quantum=0.002), start=False)
    job = SweepAdmissionJob(SweepJob(SPEC), "s4")
    ctl.submit(job)
    while job.job.done == 0:
        assert ctl.work_once()
    job.stop()                                   # a Stop while the worker computes: the slice ends "idle"
    assert not job.active and job.run_slice(1e18) == "idle"
    ctl.withdraw(job)
    done = job.job.done
    assert not ctl.work_once() and job.job.done == done and ctl.busy() == 0
    assert ctl.place(job).state == "admitted"    # idle: keeps its memory until the TTL
    job.request()
    ctl.submit(job)
    while job.active:
        assert ctl.work_once()
    assert job.job.finished and ctl.place(job).state == "none"
    assert key(job.result("serial").trials) == key(run_sweep(SPEC, "serial").trials)
