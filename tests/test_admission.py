"""The admission controller: memory accounting, queue order, fair slices, liveness, no leaks."""
from __future__ import annotations

import dataclasses
import gc
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

import pytest

from dashboard.admission import Controller, Limits, Refused, available_cpus
from shallowres.validation import MB


class FakeJob:
    """A job that needs ``steps`` slices; records the order in which it ran."""

    def __init__(self, sid: str, mb: float, steps: int = 3, log: list | None = None, name: str = "",
                 cost: float = 0.0):
        self.cost = cost                  # seconds each slice takes (the controller measures them)
        self.session_id, self.bytes = sid, int(mb * MB)
        self.steps, self.log, self.name = steps, log if log is not None else [], name or sid
        self.released = self.cut_reason = None
        self.paused = False

    def run_slice(self, deadline: float) -> str:
        if self.cost:
            time.sleep(self.cost)
        self.log.append(self.name)
        self.steps -= 1
        if self.steps <= 0:
            return "done"
        return "idle" if self.paused else "more"

    def release(self) -> None:
        self.released = True

    def cut(self, reason: str) -> None:
        self.cut_reason = reason

    def estimate_seconds(self) -> float:
        return 2.0 * max(self.steps, 0)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def controller(memory_mb=100, workers=1, alive=None, clock=None, **kw) -> Controller:
    limits = Limits(memory=memory_mb * MB, workers=workers, **kw)
    return Controller(limits, is_alive=alive, clock=clock or Clock(), start=False)


def drain(ctl: Controller, limit: int = 1000) -> None:
    for _ in range(limit):
        if not ctl.work_once():
            return
    raise AssertionError("jobs did not finish")


def test_memory_is_reserved_while_admitted_and_returned_when_done():
    ctl = controller(memory_mb=100)
    a, b, c = FakeJob("a", 60), FakeJob("b", 30), FakeJob("c", 50)
    for j in (a, b, c):
        ctl.submit(j)
    s = ctl.stats()
    assert s.memory_held == 90 * MB and s.admitted == 2 and s.queued == 1
    assert ctl.place(c).state == "queued" and ctl.place(c).ahead == 0
    drain(ctl)
    s = ctl.stats()
    assert s.memory_held == 0 and s.admitted == 0 and s.queued == 0
    assert a.released and b.released and c.released
    assert ctl.place(a).state == "none"


def test_a_job_larger_than_the_budget_is_refused_with_sizes():
    ctl = controller(memory_mb=100)
    with pytest.raises(Refused, match=r"needs about 150 MB, more than the 100 MB"):
        ctl.submit(FakeJob("a", 150))
    assert ctl.stats().queued == 0


def test_queue_is_fifo_and_light_jobs_pass_a_heavy_one_that_waits():
    ctl = controller(memory_mb=100, light=0.1)
    big = FakeJob("big", 70, steps=50)
    ctl.submit(big)
    heavy2 = FakeJob("heavy2", 60)
    light = FakeJob("light", 5)
    heavy3 = FakeJob("heavy3", 25)
    for j in (heavy2, light, heavy3):
        ctl.submit(j)
    assert ctl.place(heavy2).state == "queued"
    assert ctl.place(light).state == "admitted"        # 5 MB <= 10% of the budget: passes
    assert ctl.place(heavy3).state == "queued"         # fits (70 + 5 + 25), but may not pass heavy2
    assert ctl.place(heavy3).ahead == 1


def test_heavy_jobs_leave_room_for_light_ones():
    """Heavy jobs fill at most (1 - reserve) of the budget: a class's d = 100 runs cannot
    keep a default run (about 19 MB of 600) waiting (the load test saw it queued 300 s)."""
    ctl = controller(memory_mb=600, light=0.1, reserve=0.1)
    heavies = [FakeJob(f"h{i}", 110, steps=100) for i in range(6)]
    for j in heavies:
        ctl.submit(j)
    assert ctl.stats().admitted == 4 and ctl.stats().memory_held == 440 * MB    # 5 x 110 > 540
    defaults = [FakeJob(f"d{i}", 19) for i in range(3)]
    for j in defaults:
        ctl.submit(j)
    assert all(ctl.place(j).state == "admitted" for j in defaults)               # 440 + 3 x 19 <= 600
    assert ctl.place(heavies[-1]).state == "queued"
    alone = controller(memory_mb=600, light=0.1, reserve=0.1)
    whole = FakeJob("w", 590)                  # past the heavy share, but alone: admitted
    alone.submit(whole)
    assert alone.place(whole).state == "admitted"


def test_the_express_worker_takes_light_jobs_only():
    """Heavy jobs' slices can last an AM step (tens of seconds at d = 100): the express worker
    never takes one, so a light job (a default run) computes while they hold every worker."""
    log = []
    ctl = controller(memory_mb=600, light=0.1)
    heavy = FakeJob("h", 200, steps=5, log=log)
    ctl.submit(heavy)
    assert not ctl.work_once(express=True) and log == []       # nothing light to do
    light = FakeJob("l", 19, steps=2, log=log)
    ctl.submit(light)
    assert ctl.work_once(express=True) and ctl.work_once(express=True)
    assert log == ["l", "l"] and ctl.place(light).state == "none"
    assert ctl.work_once() and log[-1] == "h"


def test_waiting_time_estimate_counts_the_work_ahead():
    ctl = controller(memory_mb=100, workers=2)
    running = FakeJob("r", 90, steps=10)      # 20 s left
    ctl.submit(running)
    first, second = FakeJob("q1", 50, steps=5), FakeJob("q2", 50, steps=5)
    ctl.submit(first)
    ctl.submit(second)
    assert ctl.place(first).eta == pytest.approx(20.0 / 2)
    assert ctl.place(second).eta == pytest.approx((20.0 + 10.0) / 2)


def test_slices_go_to_the_session_with_the_least_recent_compute():
    clock = Clock()
    ctl = controller(memory_mb=100, clock=clock)
    log: list = []
    # the hog's slices take 20 ms each: a pause of the test process in the newcomer's
    # microsecond slices (a collection on another thread) must not make it look the heavier
    hog = FakeJob("hog", 10, steps=100, log=log, cost=0.02)
    ctl.submit(hog)
    for _ in range(5):
        ctl.work_once()
    newcomer = FakeJob("new", 10, steps=3, log=log)
    ctl.submit(newcomer)
    for _ in range(3):
        ctl.work_once()
    assert log[-3:] == ["new"] * 3        # the newcomer runs next, until it is done


def test_a_session_past_its_compute_limit_waits_while_others_wait():
    clock = Clock()
    ctl = controller(memory_mb=100, clock=clock, cpu_per_minute=0.0)     # any compute is past the limit
    log: list = []
    a, b = FakeJob("a", 10, steps=4, log=log), FakeJob("b", 10, steps=4, log=log)
    ctl.submit(a)
    ctl.work_once()
    ctl.submit(b)
    ctl.work_once()
    assert log == ["a", "b"]
    drain(ctl)
    assert sorted(log) == ["a"] * 4 + ["b"] * 4      # work-conserving: nobody starves


def test_usage_window_forgets_after_a_minute():
    clock = Clock()
    ctl = controller(clock=clock)
    ctl.submit(FakeJob("a", 10, steps=2))
    drain(ctl)
    assert ctl.usage("a") > 0
    clock.now += 61
    assert ctl.usage("a") == 0.0
    ctl.reap()
    assert ctl.stats().usage == {}


def test_idle_jobs_keep_memory_until_the_ttl_or_until_needed():
    clock = Clock()
    ctl = controller(memory_mb=100, clock=clock, idle_ttl=60)
    paused = FakeJob("p", 80, steps=10)
    paused.paused = True
    ctl.submit(paused)
    ctl.work_once()                                 # returns "idle": keeps its 80 MB
    assert ctl.stats().memory_held == 80 * MB and not paused.released
    other = FakeJob("o", 50)
    ctl.submit(other)                               # needs room: the idle job gives it up
    assert paused.released and ctl.place(other).state == "admitted"
    lone = FakeJob("l", 10, steps=10)
    lone.paused = True
    ctl.submit(lone)
    ctl.work_once()
    ctl.work_once()
    clock.now += 61
    ctl.reap()
    assert lone.released


def test_withdraw_leaves_the_queue_or_idles():
    ctl = controller(memory_mb=100)
    a, b = FakeJob("a", 80), FakeJob("b", 80)
    ctl.submit(a)
    ctl.submit(b)
    ctl.withdraw(b)
    assert ctl.place(b).state == "none" and ctl.stats().queued == 0
    ctl.withdraw(a)
    assert not ctl.work_once()                       # nothing wants CPU
    assert ctl.stats().memory_held == 80 * MB


def test_ensure_puts_a_job_its_page_shows_running_back_on_the_books():
    ctl = controller(memory_mb=100)
    job = FakeJob("a", 10, steps=5)
    job.paused = True
    ctl.submit(job)
    ctl.work_once()                                  # answered "idle": the controller stops scheduling it
    assert ctl.stats().admitted == 1 and ctl.busy() == 0
    job.paused = False
    ctl.ensure(job)                                  # the page still shows it running: back in
    assert ctl.busy() == 1
    ctl.forget(job)
    ctl.ensure(job)                                  # released altogether: submitted again
    assert ctl.busy() == 1
    job.active = False
    ctl.forget(job)
    ctl.ensure(job)                                  # ended meanwhile: nothing to do
    assert ctl.busy() == 0


def test_jobs_of_closed_sessions_are_cut_and_released_after_the_grace():
    clock = Clock()
    alive = {"a": True, "b": True}
    ctl = controller(memory_mb=100, clock=clock, alive=lambda s: alive[s], grace=10)
    a, b = FakeJob("a", 60, steps=100), FakeJob("b", 60, steps=100)
    ctl.submit(a)
    ctl.submit(b)                                    # queued behind a
    alive["a"] = alive["b"] = False
    ctl.reap()
    assert a.cut_reason is None                      # a moment's disconnection is forgiven
    clock.now += 11
    ctl.reap()
    assert "closed" in a.cut_reason and a.released and "closed" in b.cut_reason
    s = ctl.stats()
    assert s.memory_held == 0 and s.admitted == 0 and s.queued == 0 and s.cut == 2


def test_no_leak_after_a_hundred_sessions():
    clock = Clock()
    live: set = set()
    ctl = controller(memory_mb=200, workers=2, clock=clock, alive=lambda s: s in live, grace=5)
    refs = []
    for i in range(100):
        sid = f"s{i}"
        live.add(sid)
        job = FakeJob(sid, 30, steps=1 + i % 5)
        refs.append(weakref.ref(job))
        ctl.submit(job)
        if i % 3 == 0:
            ctl.work_once()
        if i % 4 == 0:
            live.discard(sid)                        # the student closes the tab
        del job
    drain(ctl)
    live.clear()
    clock.now += 61
    ctl.reap()
    gc.collect()
    s = ctl.stats()
    assert s.memory_held == 0 and s.admitted == 0 and s.queued == 0 and s.usage == {}
    assert not ctl._tickets and not ctl._queue and not ctl._usage
    assert all(r() is None for r in refs), "the controller kept a finished job alive"


def test_worker_threads_run_jobs_and_a_failing_job_does_not_kill_them():
    class Boom(FakeJob):
        def run_slice(self, deadline):
            raise RuntimeError("boom")

    ctl = Controller(Limits(memory=100 * MB, workers=2), start=True)
    try:
        bad, good = Boom("x", 10), FakeJob("y", 10, steps=5)
        ctl.submit(bad)
        ctl.submit(good)
        deadline = time.monotonic() + 10
        while (good.steps > 0 or not bad.released) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert good.steps <= 0 and "boom" in bad.cut_reason and ctl.stats().memory_held == 0
    finally:
        ctl.close()
    assert not any(t.is_alive() for t in threading.enumerate() if t.name.startswith("shallowres-worker"))


def test_limits_from_env_and_secrets():
    lim = Limits.from_env(env={"SHALLOWRES_MEMORY_MB": "512", "SHALLOWRES_WORKERS": "3"},
                          secrets={"memory_mb": 256, "cpu_seconds_per_minute": 20})
    assert lim.memory == 512 * MB and lim.workers == 3 and lim.cpu_per_minute == 20
    assert Limits.from_env(env={}).workers == available_cpus() >= 1
    with pytest.raises(ValueError, match="SHALLOWRES_MEMORY_MB must be a positive number; got 'lots'"):
        Limits.from_env(env={"SHALLOWRES_MEMORY_MB": "lots"})


def test_call_runs_a_page_computation_as_a_job_and_cancels_it_when_the_page_goes():
    from shallowres.interrupt import checkpoint

    ctl = Controller(Limits(memory=100 * MB, workers=1), start=True)
    try:
        assert ctl.call(lambda: 6 * 7, session_id="s", nbytes=10 * MB) == 42
        with pytest.raises(ZeroDivisionError):
            ctl.call(lambda: 1 / 0, session_id="s", nbytes=10 * MB)
        with pytest.raises(Refused):
            ctl.call(lambda: 0, session_id="s", nbytes=200 * MB)
        spins = []

        def forever():
            while True:
                spins.append(1)
                checkpoint()          # where the page's cancel is heard
                time.sleep(0.01)

        class PageGone(Exception):
            pass

        def poll(place):
            if spins:
                raise PageGone

        with pytest.raises(PageGone):
            ctl.call(forever, session_id="s", nbytes=10 * MB, poll=poll)
        deadline = time.monotonic() + 5
        while ctl.stats().computing and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ctl.stats().computing == 0 and ctl.stats().memory_held == 0
    finally:
        ctl.close()


def test_a_closed_page_holds_its_am_step_at_once_and_a_reconnect_resumes_it(monkeypatch):
    """Issue 15: at d = 60, n = d^2 one AM step runs 22,000 inner iterations (about 40 s). A page that
    goes away mid-step has the step dropped at the solver's next checkpoint and gets no more slices;
    when it comes back the run carries on, and the server's per-step budget then ends it, saying why."""
    from dashboard import runs
    from dashboard.state import defaults

    alive = {"s": True}
    ctl = Controller(Limits(memory=2000 * MB, workers=1, grace=60), is_alive=lambda s: alive[s], start=False)
    job = runs.RunJob(dict(defaults(), d=60, n=3600, alg="am", am_iters=2, tol=1e-300, seed=1), session_id="s")
    job.request("run")
    ctl.submit(job)
    worker = threading.Thread(target=ctl.work_once)
    worker.start()
    while not (job.runs["am"].t == 0 and job._stepping.locked()):      # AM's first step under way
        assert worker.is_alive(), "the slice ended before AM's first step began"
        time.sleep(0.005)
    time.sleep(0.5)
    alive["s"] = False
    held, cpu = time.perf_counter(), time.process_time()
    ctl.reap()                                        # the reaper does this every second
    worker.join(timeout=60)
    print(f"\nheld after {time.perf_counter() - held:.3f} s and {time.process_time() - cpu:.3f} s of CPU")
    assert not worker.is_alive()
    assert job.runs["am"].t == 0 and job.active       # the step was dropped; the run still wants to go on
    assert not ctl.work_once()                        # no slice for a page that is away
    monkeypatch.setattr(runs, "STEP_BUDGET", 1.0)     # the resumed step meets the server's limit
    alive["s"] = True
    ctl.reap()
    assert ctl.work_once()
    r = job.runs["am"]
    assert r.stop_reason == "step_budget" and r.t == 0 and not job.active
    assert "took more than 1 s of compute" in r.message and "n/d² = 1.00" in r.message
    ctl.reap()
    assert ctl.stats().memory_held == 0


def test_waits_from_submit_to_first_slice_are_counted_by_kind(tmp_path):
    import json

    from dashboard.admission import write_stats

    clock = Clock()
    ctl = controller(memory_mb=100, clock=clock)
    light, heavy = FakeJob("a", 5, steps=2), FakeJob("b", 50, steps=2)
    ctl.submit(heavy)
    ctl.submit(light)
    clock.now += 3
    ctl.work_once()                                  # the session with less compute: either; both wait 3 s
    clock.now += 2
    drain(ctl)
    waits = ctl.stats().waits
    assert sorted(waits["light"] + waits["heavy"]) == [3.0, 5.0] and len(waits["light"]) == 1
    write_stats(ctl.stats(), str(tmp_path / "stats.json"))
    saved = json.loads((tmp_path / "stats.json").read_text())
    assert saved["waits"] == waits and saved["memory_held"] == 0


def test_the_reaper_collects_garbage_only_while_nothing_computes(monkeypatch):
    """Closed sessions' objects sit in reference cycles: the reaper collects them (and trims the
    heap) every GC_EVERY s, but never while a job wants the CPU."""
    from dashboard import admission

    calls = []
    monkeypatch.setattr(admission, "GC_EVERY", 0.05)
    monkeypatch.setattr(admission, "collect", lambda: calls.append(time.monotonic()))
    ctl = Controller(Limits(memory=100 * MB, workers=1), start=False)
    hooked = []

    def broken():
        raise RuntimeError("a cache's trouble")

    for hook in (broken, lambda: hooked.append(1)):
        ctl.on_idle(hook)
    ctl.on_idle(broken)                   # added twice: kept once
    busy = FakeJob("a", 1, steps=10**9)
    ctl.submit(busy)
    reaper = threading.Thread(target=ctl._reaper, daemon=True)
    reaper.start()
    time.sleep(2.5)                       # the reaper wakes once a second
    assert calls == [] and hooked == [], "collected while a job wanted the CPU"
    ctl.withdraw(busy)
    deadline = time.monotonic() + 5
    while not calls and time.monotonic() < deadline:
        time.sleep(0.05)
    ctl.close()
    assert calls, "no collection once idle"
    assert len(hooked) == len(calls) and ctl.stats().collections == len(calls)   # past the broken hook
    assert len(ctl._idle_hooks) == 2


def test_a_sweep_held_inside_its_am_solves_starts_each_step_over_and_gives_the_same_table():
    """A hold (the page went away for a moment) can land inside an AM solve: the slice answers
    "more", the step starts over, and the finished table equals an uninterrupted run's."""
    from dashboard.sweep_jobs import SweepAdmissionJob
    from shallowres.interrupt import cancellable
    from shallowres.sweep import SweepSpec, run_sweep
    from shallowres.sweep_job import SweepJob

    spec = SweepSpec(n=(200, 300), d=(10,), algs=("am",), inits=("random",), trials=3)
    want = run_sweep(spec, "serial").rows
    job = SweepAdmissionJob(SweepJob(spec), "s")
    checks, held, answers = [0], [0], []

    def hold() -> bool:
        checks[0] += 1
        if checks[0] in (3, 10, 25, 60, 140):     # a few holds, inside solves
            held[0] += 1
            return True
        return False

    for _ in range(10_000):
        if job.job.finished:
            break
        with cancellable(hold):
            answers.append(job.run_slice(time.perf_counter() + 0.02))
    assert job.job.finished and held[0] > 0 and "more" in answers and job.cut_reason == ""
    def untimed(rows):
        return [dataclasses.replace(r, median_seconds=0.0) for r in rows]

    assert untimed(job.result("serial").rows) == untimed(want)
    print(f"\n{held[0]} holds inside AM solves; slices answered {sorted(set(answers))}")


ARENA_SCRIPT = """
import ctypes, os, sys, threading
import numpy as np
from dashboard.admission import tune_malloc
from dashboard.devserver import memory_anatomy
big = np.ones(300_000)          # a 2.4 MB array, freed: glibc raises its trim threshold to 4.8 MB
del big
if sys.argv[1] == "tuned":
    assert tune_malloc()
elif sys.argv[1] == "mmap only":            # the threshold for mmap alone (the server before the fix)
    ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)
together = threading.Barrier(6)
def session():      # a session thread: 4 MB of messages (under the mmap threshold), one kept
    together.wait()                 # six at once, so each gets a heap of its own
    messages = [b"m" * 200_000 for _ in range(20)]
    together.wait()
    return messages[0]          # the others are freed, last first: they merge into the heap's top
kept = []
threads = [threading.Thread(target=lambda: kept.append(session())) for _ in range(6)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(memory_anatomy(os.getpid())[0]["thread arenas"])
"""


@pytest.mark.parametrize("mode", ["tuned", "mmap only"])
def test_tuned_malloc_gives_the_free_tops_of_threads_heaps_back(mode):
    """Each thread's heap (arena) keeps its free top until it exceeds glibc's trim threshold,
    which glibc raises as large blocks are freed, and ``malloc_trim`` leaves threads' tops alone.
    ``tune_malloc`` fixes the threshold at 1 MB: the session threads' freed arrays go back to the
    OS, where with only the mmap threshold set their heaps keep them resident. (Streamlit's
    messages and mid-size arrays are freed this way; ``malloc_trim`` gives back free pages inside
    a heap, not its top.)"""
    out = subprocess.run([sys.executable, "-c", ARENA_SCRIPT, mode], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parents[1])
    arenas_mb = float(out.stdout.split()[-1])
    print(f"\n{mode}: {arenas_mb:.1f} MB resident in threads' heaps")
    if mode == "tuned":         # per heap: the kept message, a top under 1 MB and glibc's 128 KB pad
        assert arenas_mb < 6 * 1.6
    else:                       # per heap: 3.8 MB, the freed messages in its top
        assert arenas_mb > 6 * 3
