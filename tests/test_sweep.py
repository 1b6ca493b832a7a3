"""Phase-transition sweeps: seeds, Wilson intervals, success, executors, progress, cancellation."""
import concurrent.futures as cf
import math
import sys

import numpy as np
import pytest

from shallowres import executors
from shallowres.problem import make_problem
from shallowres.solvers import run
from shallowres.sweep import (
    COLUMNS,
    DETERMINISTIC_COLUMNS,
    SweepSpec,
    run_sweep,
    run_trial,
    summarize,
    trial_seed,
    wilson_interval,
)
from shallowres.sweep_batches import plan_batches
from shallowres.validation import MemoryBudgetError

# Small enough to run in well under a second serially; big enough that some
# cells succeed and some fail (n = 12 < d^2 = 16 cannot be recovered).
SMALL = SweepSpec(n=(12, 60), d=(4,), gamma=(1.0,), trials=3, gd_iters=300, am_iters=20)


def trial_key(r):
    return (r.cell, r.trial, r.seed, r.rel_err, r.n_iter, r.stop_reason, r.success)


@pytest.fixture(scope="module")
def serial_small():
    return run_sweep(SMALL, "serial")


@pytest.fixture(scope="module")
def dask_cluster():
    """A real distributed.LocalCluster on loopback TCP, workers as threads of this process."""
    import distributed
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp://",
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        yield cluster


# ----- Wilson interval --------------------------------------------------------------

def wilson_by_quadratic(k, m, z=1.959963984540054):
    """The Wilson interval's definition: the p with |p_hat - p| = z sqrt(p (1 - p) / m),
    i.e. the roots of (1 + z^2/m) p^2 - (2 p_hat + z^2/m) p + p_hat^2 = 0."""
    ph = k / m
    roots = np.roots([1 + z * z / m, -(2 * ph + z * z / m), ph * ph])
    return tuple(sorted(float(r.real) for r in roots))


@pytest.mark.parametrize("k,m", [(5, 10), (0, 10), (10, 10), (3, 10), (1, 7), (40, 50)])
def test_wilson_matches_its_definition(k, m):
    lo, hi = wilson_interval(k, m)
    ref_lo, ref_hi = wilson_by_quadratic(k, m)
    assert lo == pytest.approx(max(ref_lo, 0.0), abs=1e-12)
    assert hi == pytest.approx(min(ref_hi, 1.0), abs=1e-12)
    assert 0 <= lo <= k / m <= hi <= 1


def test_wilson_known_values():
    # 5 of 10: the textbook Wilson 95% interval (0.2366, 0.7634).
    lo, hi = wilson_interval(5, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.2366, 0.7634)
    # 0 of m and m of m: [0, z^2/(m + z^2)] and [m/(m + z^2), 1].
    z2 = 1.959963984540054**2
    assert wilson_interval(0, 10) == (0.0, pytest.approx(z2 / (10 + z2)))
    assert wilson_interval(10, 10) == (pytest.approx(10 / (10 + z2)), 1.0)


@pytest.mark.parametrize("k,m", [(1, 0), (-1, 5), (6, 5)])
def test_wilson_rejects_impossible_counts(k, m):
    with pytest.raises(ValueError, match="successes must be"):
        wilson_interval(k, m)


# ----- seeds and the success criterion --------------------------------------------------

def test_trial_seed_depends_on_problem_and_trial_only():
    s = trial_seed(0, 20, 700, 2.0, 0.0, 3)
    assert s == trial_seed(0, 20, 700, 2, -0.0, 3)          # same values, other spellings
    assert 0 <= s < 2**63
    others = {trial_seed(1, 20, 700, 2.0, 0.0, 3), trial_seed(0, 21, 700, 2.0, 0.0, 3),
              trial_seed(0, 20, 701, 2.0, 0.0, 3), trial_seed(0, 20, 700, 2.5, 0.0, 3),
              trial_seed(0, 20, 700, 2.0, 0.1, 3), trial_seed(0, 20, 700, 2.0, 0.0, 4)}
    assert s not in others and len(others) == 6


def test_all_methods_of_a_trial_share_its_problem(serial_small):
    seeds = {}
    for r in serial_small.trials:
        seeds.setdefault((r.cell.n, r.trial), set()).add(r.seed)
    assert all(len(s) == 1 for s in seeds.values())
    assert len({next(iter(s)) for s in seeds.values()}) == len(seeds)


def test_a_finer_grid_and_more_trials_repeat_the_old_trials(serial_small):
    bigger = SweepSpec(n=(12, 30, 60), d=(4,), gamma=(1.0,), trials=4, gd_iters=300, am_iters=20,
                       inits=("random", "identity"))
    res = run_sweep(bigger, "serial")
    old = {(r.cell, r.trial): trial_key(r) for r in serial_small.trials}
    new = {(r.cell, r.trial): trial_key(r) for r in res.trials}
    assert old.items() <= new.items()


def test_success_is_final_rel_err_below_threshold(serial_small):
    for r in serial_small.trials:
        assert r.success == (r.rel_err < SMALL.threshold)
    assert {r.success for r in serial_small.trials} == {True, False}
    for row in serial_small.rows:
        mine = [r for r in serial_small.trials if (r.cell.n, r.cell.alg, r.cell.init) == (row.n, row.alg, row.init)]
        assert row.trials == len(mine) == SMALL.trials
        assert row.successes == sum(r.rel_err < 0.01 for r in mine)
        assert row.probability == row.successes / row.trials
        assert (row.ci_low, row.ci_high) == wilson_interval(row.successes, row.trials)
        assert row.median_iters == np.median([r.n_iter for r in mine])
    # n = 12 < d^2 = 16: nobody recovers W*; n = 60: AM always does.
    assert all(row.successes == 0 for row in serial_small.rows if row.n == 12)
    assert all(row.successes == row.trials for row in serial_small.rows if row.n == 60 and row.alg == "am")


def test_a_trial_is_one_reproducible_run():
    spec = SweepSpec(n=(60,), d=(4,), gamma=(1.0,), trials=1, algs=("gd",), inits=("random",),
                     gd_iters=300)
    cell = spec.cells()[0]
    r = run_trial(spec, cell, 0)
    p = make_problem(4, 60, 1.0, 0.0, r.seed)
    ref = run(p, "gd", init="random", eta=spec.eta, iters=300, tol=spec.threshold)
    assert (r.rel_err, r.n_iter, r.stop_reason) == (ref.rel_err, ref.n_iter, ref.stop_reason)


def test_threshold_and_final_iterate_options():
    loose = SweepSpec(n=(60,), d=(4,), gamma=(1.0,), trials=2, algs=("am",), inits=("identity",),
                      threshold=0.5)
    r = run_sweep(loose, "serial").trials[0]
    assert r.success and r.stop_reason == "converged" and 1e-8 < r.rel_err < 0.5
    final = SweepSpec(n=(60,), d=(4,), gamma=(1.0,), trials=2, algs=("am",), inits=("identity",),
                      threshold=0.5, stop_at_threshold=False)
    r = run_sweep(final, "serial").trials[0]
    assert r.success and r.rel_err < 1e-8


# ----- executors: the same table bit for bit ----------------------------------------------

def test_serial_processes_and_dask_give_the_same_table(serial_small, dask_cluster, monkeypatch):
    procs = run_sweep(SMALL, "processes", workers=2)
    monkeypatch.setenv(executors.DASK_ENV, dask_cluster.scheduler_address)
    dask = run_sweep(SMALL, "dask")          # address from DASK_SCHEDULER_ADDRESS
    assert (procs.executor, procs.workers, dask.executor, dask.workers) == ("processes", 2, "dask", 2)
    for res in (procs, dask):
        assert not res.cancelled and res.done == SMALL.total == 2 * 2 * 2 * 3
        assert [trial_key(r) for r in res.trials] == [trial_key(r) for r in serial_small.trials]
        assert res.table(DETERMINISTIC_COLUMNS) == serial_small.table(DETERMINISTIC_COLUMNS)
        assert res.to_csv().splitlines()[0] == ",".join(COLUMNS)


def test_any_concurrent_futures_executor_in_any_order(serial_small):
    with cf.ThreadPoolExecutor(4) as pool:
        res = run_sweep(SMALL, pool)
    assert res.workers == 4 and res.executor == "ThreadPoolExecutor"
    assert res.table(DETERMINISTIC_COLUMNS) == serial_small.table(DETERMINISTIC_COLUMNS)


# ----- progress and cancellation -----------------------------------------------------------

class Recording(cf.Executor):
    """Wraps an executor and keeps every future it hands out."""

    def __init__(self, inner, workers):
        self.inner, self.max_workers, self.futures = inner, workers, []

    def submit(self, fn, /, *args, **kwargs):
        f = self.inner.submit(fn, *args, **kwargs)
        self.futures.append(f)
        return f


def test_progress_is_called_once_per_trial_batch_by_batch():
    calls = []
    res = run_sweep(SMALL, "serial", progress=lambda done, total, r: calls.append((done, total, r)))
    assert [c[0] for c in calls] == list(range(1, SMALL.total + 1))
    assert {c[1] for c in calls} == {SMALL.total}
    assert {trial_key(c[2]) for c in calls} == {trial_key(r) for r in res.trials}
    # serially, trials arrive batch by batch in plan order
    planned = [task for batch in plan_batches(SMALL) for task in batch]
    assert [(c[2].cell, c[2].trial) for c in calls] == planned


def test_cancel_from_progress_leaves_no_running_work():
    spec = SweepSpec(n=(12, 30, 45, 60), d=(4,), gamma=(1.0,), trials=3, gd_iters=300, am_iters=20)
    sizes = [len(b) for b in plan_batches(spec)]
    with executors.process_executor(2) as pool:
        rec = Recording(pool, 2)
        res = run_sweep(spec, rec, progress=lambda done, total, r: done >= 3)
        assert all(f.done() and not f.cancelled() for f in rec.futures)   # nothing left running
    assert res.cancelled and 3 <= res.done < spec.total
    assert len(rec.futures) <= 2 + 1 < len(sizes)     # at most one more batch per worker after the stop
    assert res.done == sum(sizes[:len(rec.futures)])  # every batch started was finished and kept
    assert sum(r.trials for r in res.rows) == res.done


def test_an_exception_in_the_caller_also_drains():
    class Stop(Exception):
        pass

    def progress(done, total, r):
        if done == 2:
            raise Stop
    with cf.ThreadPoolExecutor(2) as pool:
        rec = Recording(pool, 2)
        with pytest.raises(Stop):
            run_sweep(SMALL, rec, progress=progress)
        assert len(rec.futures) <= 2 + 2 and all(f.done() for f in rec.futures)


def test_cancel_on_dask_leaves_no_task_processing(dask_cluster):
    import distributed
    res = run_sweep(SMALL, "dask", scheduler=dask_cluster.scheduler_address,
                    progress=lambda done, total, r: done >= 2)
    assert res.cancelled and 2 <= res.done < SMALL.total
    with distributed.Client(dask_cluster.scheduler_address) as client:
        assert all(not tasks for tasks in client.processing().values())
        executing = client.run(lambda dask_worker: dask_worker.state.executing_count)
        assert set(executing.values()) == {0}


# ----- bad grids and settings --------------------------------------------------------------

@pytest.mark.parametrize("kw,message", [
    (dict(n=()), r"n must be a non-empty list, each an integer in \[1, 10\^6\]; got \(\)"),
    (dict(n=[]), r"n must be a non-empty list"),
    (dict(n=(0, 100)), r"n must be an integer in \[1, 10\^6\]; got 0"),
    (dict(n=(-5,)), r"n must be an integer in \[1, 10\^6\]; got -5"),
    (dict(n=(100.5,)), r"n must be an integer"),
    (dict(trials=0), r"trials must be an integer in \[1, 10\^5\]; got 0"),
    (dict(algs=("gd", "sgd")), r"alg must be one of 'gd', 'am'; got 'sgd'"),
    (dict(algs=()), r"alg must be a non-empty list"),
    (dict(inits=("zeros",)), r"init must be one of 'identity', 'random', 'delta'; got 'zeros'"),
    (dict(d=(1,)), r"d must be an integer in \[2, 200\]; got 1"),
    (dict(gamma=(-1.0,)), r"gamma must be a float in \[0, 100\]; got -1"),
    (dict(threshold=0), r"threshold must be a float in \(0, 1\]; got 0"),
    (dict(gd_iters=0), r"gd_iters must be an integer"),
    (dict(eta="fast"), r"eta must be"),
    (dict(n=range(1, 10**12)), r"n must be a list of at most 10,000 values; got 999,999,999,999"),
    (dict(n=range(100, 2001, 100), trials=100_000), r"trials x grid cells must be at most 1,000,000; got "
                                                    r"100,000 x 80 = 8,000,000"),
])
def test_bad_grids_give_clear_errors(kw, message):
    with pytest.raises(ValueError, match=message):
        SweepSpec(**kw)


def test_grid_lists_are_sorted_and_deduplicated():
    s = SweepSpec(n=[700, 200, 700], d=20, gamma=2, algs=["am", "gd", "am"], inits="random")
    assert s.n == (200, 700) and s.d == (20,) and s.gamma == (2.0,)
    assert s.algs == ("am", "gd") and s.inits == ("random",)
    assert s.total == 2 * 2 * 1 * 10
    assert SweepSpec().n == (200, 700, 1200, 1700) and SweepSpec().key() == SweepSpec().key()


def test_bad_executor_settings(monkeypatch):
    with pytest.raises(ValueError, match="executor must be one of 'serial', 'processes', 'dask'; got 'gpu'"):
        run_sweep(SMALL, "gpu")
    monkeypatch.delenv(executors.DASK_ENV, raising=False)
    with pytest.raises(ValueError, match="scheduler must be 'local' or an address like tcp://HOST:PORT"):
        run_sweep(SMALL, "dask")
    with pytest.raises(ValueError, match="workers must be an integer"):
        run_sweep(SMALL, "processes", workers=0)
    with pytest.raises(ValueError, match="spec must be a SweepSpec"):
        run_sweep({"n": 5}, "serial")


def test_dask_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)      # as if not installed
    with pytest.raises(ValueError, match=r"needs the packages dask and distributed"):
        run_sweep(SMALL, "dask", scheduler="tcp://127.0.0.1:1")


def test_unreachable_scheduler_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(ValueError, match="scheduler tcp://127.0.0.1:9 did not answer"):
        run_sweep(SMALL, "dask", scheduler="tcp://127.0.0.1:9")


def test_memory_budget_is_checked_before_anything_runs():
    big = SweepSpec(n=(10**6,), d=(200,), trials=1, memory_budget=10 * 2**20)
    calls = []
    with pytest.raises(MemoryBudgetError, match="memory budget"):
        run_sweep(big, "serial", progress=lambda *a: calls.append(a))
    assert calls == []


def test_partial_tables_and_json():
    first = len(plan_batches(SMALL)[0])
    res = run_sweep(SMALL, "serial", progress=lambda done, total, r: done >= first - 1)
    assert res.cancelled and res.done == first      # the rest of the batch is kept, nothing more runs
    assert res.rows == summarize(SMALL, res.trials)
    d = res.as_dict()
    assert d["done"] == first and d["total"] == SMALL.total and d["cancelled"] is True
    assert set(d["rows"][0]) == set(COLUMNS) and d["spec"]["n"] == [12, 60]
    assert all(math.isfinite(r["median_rel_err"]) for r in d["rows"])
