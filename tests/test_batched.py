"""Batched, lean sweep runs against the unbatched reference (iterate + Monitor)."""
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shallowres.batched import REASONS, AMRun, GDBatch, StopRules
from shallowres.problem import initial_point, make_problem
from shallowres.solvers import IterRecord, Monitor, iterate
from shallowres.sweep import SweepSpec, run_trial, summarize
from shallowres.sweep_batches import plan_batches, run_batch


def reference(problem, alg, W0, *, iters, tol, stall, resample=False, eta="0.9x"):
    """(rel_err, t, reason) of the unbatched run: iterate's full records, Monitor's rules."""
    mon = Monitor(alg, iters, tol, resample, stall_window=stall)
    for rec in iterate(problem, alg, W0, eta=eta, resample=resample):
        reason = mon(rec)
        if reason:
            return rec.rel_err, rec.t, reason


def lean_key(r):
    return (r.rel_err, r.n_iter, r.stop_reason)


# ----- the stop rules: vectorized = Monitor ------------------------------------------------

def record(t, err, loss, flips, scale=2.0):
    return IterRecord(t=t, err=err, rel_err=err / scale, train_loss=loss, test_loss=0.0, flips_teacher=0,
                      flips_teacher_per_neuron=np.zeros(1), flips_prev=flips, rho3=0.0, seconds=0.0)


errs = st.one_of(st.floats(1e-3, 2.0), st.sampled_from([0.5, 0.5, 0.5, float("nan"), float("inf"), 1e7]))
steps = st.lists(st.tuples(errs, st.sampled_from([0.1, 0.1, 0.2, float("nan")]), st.sampled_from([0, 0, 1, 5])),
                 min_size=1, max_size=60)


@settings(max_examples=300, deadline=None)
@given(stream=st.lists(steps, min_size=1, max_size=4), alg=st.sampled_from(["gd", "am"]),
       window=st.sampled_from([None, 1, 3, 7]), resample=st.booleans(), iters=st.integers(1, 70),
       tol=st.sampled_from([1e-8, 0.01, 0.3]))
def test_stop_rules_agree_with_monitor(stream, alg, window, resample, iters, tol):
    """Runs of a batch advance in lockstep: record t of run k is stream[k][t]. Each run stops
    at the first record where Monitor stops it, with the same reason."""
    T = max(len(s) for s in stream)
    runs = [s + [s[-1]] * (T - len(s)) for s in stream]          # pad: equal lengths
    expected = []
    for s in runs:
        mon = Monitor(alg, iters, tol, resample, stall_window=window)
        hit = None
        for t, (e, lo, f) in enumerate(s):
            reason = mon(record(t, e, lo, f))
            if reason:
                hit = (t, reason)
                break
        expected.append(hit)
    rules = StopRules(alg, iters, tol, resample, len(runs), window)
    got = [None] * len(runs)
    for t in range(T):
        e = np.array([s[t][0] for s in runs])
        code = rules.check(t, e, np.array([s[t][1] for s in runs]), e / 2.0, np.array([s[t][2] for s in runs]))
        for k, c in enumerate(code):
            if c and got[k] is None:
                got[k] = (t, REASONS[c])
    assert got == expected


# ----- runners: bit for bit equal to the unbatched run ------------------------------------

@pytest.mark.parametrize("n,eta,resample,noise", [(12, "0.9x", False, 0.0), (40, "theory", False, 0.0),
                                                  (40, 0.5, False, 0.0), (60, "0.9x", True, 0.0),
                                                  (60, "0.9x", False, 0.5)])
def test_gd_batch_equals_iterate_bit_for_bit(n, eta, resample, noise):
    probs, W0s, refs = [], [], []
    for seed in range(3):
        p = make_problem(d=4, n=n, gamma=1.0, noise=noise, seed=seed, n_test=1)
        for init in ("identity", "random", "delta"):
            W0 = initial_point(p, init, 0.5)
            probs.append(p)
            W0s.append(W0)
            refs.append(reference(p, "gd", W0, iters=400, tol=0.01, stall=100, resample=resample, eta=eta))
    b = GDBatch(probs, W0s, eta=eta, iters=400, tol=0.01, resample=resample, stall_window=100)
    assert not b.finished and b.advance()
    assert [lean_key(r) for r in b.results] == refs


def test_gd_batch_resumes_across_slices_and_counts_seconds():
    probs = [make_problem(d=4, n=60, gamma=1.0, seed=s, n_test=1) for s in range(4)]
    W0s = [initial_point(p, "random") for p in probs]
    whole = GDBatch(probs, W0s, iters=300, tol=1e-6, stall_window=None)
    whole.advance()
    sliced = GDBatch(probs, W0s, iters=300, tol=1e-6, stall_window=None)
    calls, ticks = 0, [0]

    def cancel():                 # stop after every 7 steps
        ticks[0] += 1
        return ticks[0] % 7 == 0
    while not sliced.advance(cancel=cancel):
        calls += 1
    assert calls > 5
    assert [lean_key(r) for r in sliced.results] == [lean_key(r) for r in whole.results]
    assert all(r.seconds > 0 for r in sliced.results)


@pytest.mark.parametrize("n,resample,noise", [(12, False, 0.0), (40, False, 0.0), (40, True, 0.0), (80, False, 0.3)])
def test_am_run_equals_iterate_bit_for_bit(n, resample, noise):
    for seed in range(3):
        p = make_problem(d=4, n=n, gamma=1.0, noise=noise, seed=seed, n_test=1)
        for init in ("identity", "random"):
            W0 = initial_point(p, init)
            a = AMRun(p, W0, iters=30, tol=0.01, resample=resample, stall_window=5)
            assert a.advance()
            assert lean_key(a.result) == reference(p, "am", W0, iters=30, tol=0.01, stall=5, resample=resample)


def test_runners_reject_mixed_batches():
    a, b = make_problem(d=4, n=40, n_test=1), make_problem(d=4, n=50, n_test=1)
    with pytest.raises(ValueError, match="same n and d"):
        GDBatch([a, b], [np.zeros((4, 4))] * 2, iters=10, tol=0.01)
    with pytest.raises(ValueError, match="problems and W0s must be non-empty lists of one length"):
        GDBatch([a], [], iters=10, tol=0.01)


# ----- sweeps: batches = run_trial, whatever the batch size ---------------------------------

RICH = SweepSpec(n=(12, 40, 70), d=(4,), gamma=(1.0,), noise=(0.0, 0.2), trials=3, gd_iters=400, am_iters=30,
                 inits=("identity", "random", "delta"), delta=0.5)


def test_every_batch_equals_the_unbatched_trials():
    for batch in plan_batches(RICH):
        got = run_batch(RICH, batch)
        assert [(r.cell, r.trial) for r in got] == list(batch)
        for r in got:
            ref = run_trial(RICH, r.cell, r.trial)
            assert (r.seed, r.success, *lean_key(r)) == (ref.seed, ref.success, ref.rel_err, ref.n_iter,
                                                          ref.stop_reason)


def test_no_number_depends_on_the_batch_size():
    def table(**kw):
        trials = [r for b in plan_batches(RICH, **kw) for r in run_batch(RICH, b)]
        return {(r.cell, r.trial): lean_key(r) for r in trials}
    one = table(max_runs=1)
    assert table(max_runs=4) == one == table(max_runs=16, max_bytes=2**20)
    assert len(one) == RICH.total
    assert {"converged", "stalled"} <= {key[2] for key in one.values()}     # the grid exercises both


def test_resampled_spec_batches_equal_the_unbatched_trials():
    spec = replace(RICH, resample=True, n=(40,), noise=(0.0,))
    for batch in plan_batches(spec):
        for r in run_batch(spec, batch):
            ref = run_trial(spec, r.cell, r.trial)
            assert lean_key(r) == (ref.rel_err, ref.n_iter, ref.stop_reason)


def test_paper_setting_batched_and_unbatched_agree():
    """d = 20, gamma = 2, three of the paper's n: the same success table, final errors equal
    (the target is 1e-10; the runners do iterate's arithmetic, so they are equal)."""
    spec = SweepSpec(n=(200, 700, 1700), trials=2)
    batched = [r for b in plan_batches(spec) for r in run_batch(spec, b)]
    unbatched = [run_trial(spec, r.cell, r.trial) for r in batched]
    for a, b in zip(batched, unbatched, strict=True):
        assert (a.success, a.n_iter, a.stop_reason) == (b.success, b.n_iter, b.stop_reason)
        assert abs(a.rel_err - b.rel_err) <= 1e-10
    table = lambda rs: [(r.n, r.alg, r.init, r.successes) for r in summarize(spec, rs)]
    assert table(batched) == table(unbatched)
    assert {r.success for r in batched} == {True, False}
