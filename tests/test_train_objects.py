"""The iterates a Train-page run keeps for its pictures, and their place in the memory estimate."""
from __future__ import annotations

import time

import numpy as np

from dashboard.history import on_grid
from dashboard.iterates import ITERATE_DENSITY, Iterates, iterates_bytes, kept_count
from dashboard.runs import RunJob, run_estimate
from dashboard.state import defaults
from shallowres import make_problem, run

SMALL = dict(defaults(), d=6, n=150, gamma=0.8, gd_iters=300, am_iters=15, seed=3)


def finish(job: RunJob) -> RunJob:
    job.request("run")
    deadline = time.monotonic() + 60
    while job.run_slice(time.perf_counter() + 0.5) == "more":
        assert time.monotonic() < deadline
    return job


def test_iterates_keep_the_grid_and_answer_at_or_before_t():
    it = Iterates(2, density=4)
    for t in range(40):
        it.offer(t, np.full((2, 2), float(t)))
    ts, Ws = it.path()
    assert list(ts) == [t for t in range(40) if on_grid(t, 4)] and ts[:8].tolist() == list(range(8))
    assert Ws.shape == (len(ts), 2, 2) and np.all(Ws[:, 0, 0] == ts)
    assert it.at(13)[0] == 12 and it.at(12)[0] == 12 and it.at(None)[0] == ts[-1]
    assert it.at(-1) is None
    assert not it.offer(8, np.zeros((2, 2)))               # not after the last kept t
    assert it.nbytes() == len(ts) * (8 * 4 + 8) <= iterates_bytes(2, 39, 4)


def test_run_keeps_the_exact_iterates_of_shallowres_run():
    job = finish(RunJob(SMALL))
    prob = make_problem(d=6, n=150, gamma=0.8, seed=3)
    for alg in ("gd", "am"):
        ref = run(prob, alg, iters=SMALL[f"{alg}_iters"], keep_W=True)
        ts, Ws = job.runs[alg].iterates.path()
        assert len(ts) == sum(on_grid(t, ITERATE_DENSITY) for t in range(job.runs[alg].t + 1))
        for t, W in zip(ts, Ws, strict=True):
            np.testing.assert_array_equal(W, ref.records[t].W)
        assert job.iterate(alg)[0] == job.runs[alg].t == ref.n_iter
        np.testing.assert_array_equal(job.iterate(alg)[1], ref.W)
    t, _ = job.iterate("gd", 101)
    assert t == 100 and job.iterate("gd", 101)[0] < 101


def test_memory_estimate_counts_the_kept_iterates():
    without = run_estimate(dict(SMALL, alg="gd", gd_iters=1))
    grown = run_estimate(dict(SMALL, alg="gd", gd_iters=20000))
    assert kept_count(20000) < 200
    assert iterates_bytes(6, 20000) == kept_count(20000) * (8 * 36 + 8)
    assert grown - without >= iterates_bytes(6, 20000) - iterates_bytes(6, 1)
    job = finish(RunJob(SMALL))
    kept = sum(r.iterates.nbytes() for r in job.runs.values())
    assert kept > 0 and job.nbytes_kept() == kept + sum(r.history.nbytes() for r in job.runs.values())
    assert kept <= sum(iterates_bytes(6, SMALL[f"{a}_iters"]) for a in ("gd", "am"))


def test_rebuilt_teachers_are_dropped_once_unread(monkeypatch):
    """The pictures rebuild a released run's teacher into a cache of two (16 MB each at d = 100,
    n = 20000); the server's reaper drops them once unread for TEACHER_IDLE s, so a class that
    left does not keep them."""
    from dashboard import server, train_objects

    built, hooks = [], []
    monkeypatch.setattr(train_objects, "build_problem", lambda s: built.append(s) or make_problem(**s, n_test=1))
    monkeypatch.setattr(server, "controller", lambda: type("Stub", (), {"on_idle": staticmethod(hooks.append)}))
    train_objects._teacher.clear()
    job = RunJob({**defaults(), "d": 4, "n": 40, "seed": 7})
    assert job.problem() is None                          # not built: the pictures rebuild it
    first = train_objects.teacher(job)
    assert train_objects.teacher(job) is first and len(built) == 1 and hooks == [train_objects.expire_teachers] * 2
    train_objects.expire_teachers()                       # read just now: kept
    assert train_objects.teacher(job) is first
    monkeypatch.setattr(train_objects, "TEACHER_IDLE", 0.0)
    train_objects.expire_teachers()                       # unread long enough: dropped
    monkeypatch.setattr(train_objects, "TEACHER_IDLE", 60.0)
    again = train_objects.teacher(job)
    assert again is not first and len(built) == 2 and np.array_equal(again.X, first.X)
