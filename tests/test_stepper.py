"""The Stepper: the same records as iterate(), cancellation mid-step, restart from a saved iterate."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from shallowres import iterate, make_problem
from shallowres.interrupt import Cancelled, cancellable, checkpoint
from shallowres.solvers import Stepper

FIELDS = ("t", "err", "rel_err", "train_loss", "test_loss", "flips_teacher", "flips_prev", "rho3")


def same(a, b) -> None:
    for f in FIELDS:
        assert getattr(a, f) == getattr(b, f), f
    assert np.array_equal(a.flips_teacher_per_neuron, b.flips_teacher_per_neuron)


@pytest.mark.parametrize("alg", ["gd", "am"])
@pytest.mark.parametrize("resample", [False, True])
def test_stepper_gives_the_records_of_iterate(alg, resample):
    p = make_problem(d=8, n=300, gamma=1.0, seed=4)
    it = iterate(p, alg, resample=resample)
    s = Stepper(p, alg, resample=resample)
    same(next(it), s.record)
    for _ in range(6):
        same(next(it), s.step())


class CountingCheck:
    """A cancel check that turns true at its ``trip``-th call (never if None) and counts calls."""

    def __init__(self, trip: int | None = None):
        self.calls, self.trip = 0, trip

    def __call__(self) -> bool:
        self.calls += 1
        return self.trip is not None and self.calls >= self.trip


@pytest.mark.parametrize("d,n,solver", [(30, 2000, "cg"), (12, 144, "lsqr"), (12, 400, "cholesky")])
def test_a_cancelled_am_step_leaves_the_iterate_and_can_be_taken_again(d, n, solver):
    p = make_problem(d=d, n=n, gamma=1.0, seed=1)
    reference = Stepper(p, "am", am_solver=solver)
    want = reference.step()
    probe = CountingCheck()
    Stepper(p, "am", am_solver=solver).step(cancel=probe)
    assert probe.calls >= 3, "the inner solver must check for a stop between its iterations"

    s = Stepper(p, "am", am_solver=solver)
    W0, rec0 = s.W.copy(), s.record
    with pytest.raises(Cancelled):
        s.step(cancel=CountingCheck(trip=max(2, probe.calls // 2)))     # cut midway
    assert s.t == 0 and s.record is rec0 and np.array_equal(s.W, W0)
    got = s.step()
    assert got.t == 1
    assert got.err == pytest.approx(want.err, rel=1e-9, abs=1e-12)


def test_a_stop_from_another_thread_interrupts_a_long_cg_solve():
    p = make_problem(d=40, n=1700, gamma=1.0, seed=2)       # n ~ d^2: CG needs many iterations
    s = Stepper(p, "am", am_solver="cg")
    flag = threading.Event()
    timer = threading.Timer(0.05, flag.set)
    timer.start()
    with pytest.raises(Cancelled):
        s.step(cancel=flag.is_set)
    timer.cancel()
    assert s.t == 0


@pytest.mark.parametrize("resample", [False, True])
def test_gd_restarted_from_a_saved_iterate_continues_bit_for_bit(resample):
    p = make_problem(d=10, n=400, gamma=1.5, seed=3)
    full = Stepper(p, "gd", resample=resample)
    recs = [full.step() for _ in range(12)]
    half = Stepper(p, "gd", resample=resample)
    for _ in range(5):
        half.step()
    again = Stepper(p, "gd", half.W, eta=half.eta, resample=resample, t0=half.t)
    assert again.record.t == 5 and again.record.err == recs[4].err
    for want in recs[5:]:
        got = again.step()
        assert got.t == want.t and got.err == want.err and got.train_loss == want.train_loss


def test_am_restarted_from_a_saved_iterate_agrees_to_rounding():
    p = make_problem(d=10, n=400, gamma=1.5, seed=3)
    full = Stepper(p, "am")
    recs = [full.step() for _ in range(4)]
    half = Stepper(p, "am")
    half.step()
    half.step()
    again = Stepper(p, "am", half.W, t0=half.t)
    for want in recs[2:]:
        got = again.step()
        assert got.t == want.t
        assert got.err == pytest.approx(want.err, rel=1e-8, abs=1e-13)


def test_checkpoint_only_fires_inside_its_scope():
    checkpoint()                                  # no scope: nothing happens
    with cancellable(lambda: True), pytest.raises(Cancelled):
        checkpoint()
    with cancellable(lambda: False):
        checkpoint()
    checkpoint()
