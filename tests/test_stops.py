"""Stop reasons that say what happened (issue 11, items 6-7; issue 15, item 4)."""
from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from shallowres import Monitor, make_problem, run
from shallowres.solvers import GREW_FACTOR, IterRecord


def test_label_noise_floor_stalls_and_states_the_floor():
    """d = 20, n = 1700, noise 0.1: AM never reaches a fixed point (tens of ReLUs flip each
    step) and its error oscillates near 0.03; it used to stop at max_iters about 1e-8."""
    p = make_problem(d=20, n=1700, noise=0.1, seed=0)
    res = run(p, "am", iters=50)
    assert res.stop_reason == "stalled" and res.n_iter < 50
    assert res.history["flips_prev"][-1] > 10                       # no fixed point in sight
    lo, hi = map(float, re.search(r"stayed between (\S+) and (\S+) ", res.message).groups())
    assert 0.02 < lo <= hi < 0.04 and lo == pytest.approx(res.history["rel_err"][-6:].min(), rel=1e-2)
    assert "settled at this floor" in res.message and "1e-08" in res.message
    off = run(p, "am", iters=12, stall_window=None)
    assert off.stop_reason == "max_iters"


def test_error_growth_is_said_and_the_best_iterate_returned():
    """n ~ d^2: AM's error rises from 0.41 to 3.4-17 (it used to say only max_iters)."""
    p = make_problem(d=20, n=420, seed=1)
    res = run(p, "am", iters=30)
    assert res.stop_reason == "stalled"
    assert res.best_t == 0 and res.best_rel_err == pytest.approx(0.411, abs=1e-3)
    assert res.rel_err > GREW_FACTOR * res.best_rel_err
    assert "its error grew" in res.message and "at iteration 0 (the start)" in res.message
    assert f"{res.rel_err:.2e}" in res.message and "W_best" in res.message
    assert np.linalg.norm(res.W_best - p.W_star) / p.scale == pytest.approx(res.best_rel_err)
    no_stall = run(p, "am", iters=30, stall_window=None)
    assert no_stall.stop_reason == "max_iters" and "used all 30 iterations, and its error grew" in no_stall.message
    assert no_stall.summary()["best_t"] == 0


def test_best_iterate_of_a_converging_run_is_its_last():
    p = make_problem(d=6, n=200, seed=0)
    res = run(p, "am")
    assert res.stop_reason == "converged" and res.best_t == res.n_iter and np.array_equal(res.W_best, res.W)


def record(t, rel, loss=1.0, flips=1):
    return IterRecord(t=t, err=rel, rel_err=rel, train_loss=loss, test_loss=loss, flips_teacher=0,
                      flips_teacher_per_neuron=np.zeros(2, int), flips_prev=flips, rho3=0.0, seconds=0.0)


def test_monitor_keeps_its_four_argument_form_and_messages():
    m = Monitor("gd", 10, 1e-8, False)
    assert m(record(0, 0.5)) is None and m.stall_window is None
    # a tiny start that grew 1e6-fold but is still small: not blamed on eta
    m = Monitor("gd", 10, 1e-8)
    m(record(0, 1e-12))
    assert m(record(1, 1e-5)) == "diverged"
    assert "η is too large" not in m.message("diverged", record(1, 1e-5))
    big = Monitor("gd", 10, 1e-8)
    big(record(0, 0.5))
    assert big(record(1, 1e7)) == "diverged" and "η is too large" in big.message("diverged", record(1, 1e7))
    start = Monitor("am", 10, 1e-8)
    assert start(record(0, float("inf"))) == "diverged"
    assert "cannot start" in start.message("diverged", record(0, float("inf")))


def test_closed_pipe_is_quiet_with_status_0():
    proc = subprocess.Popen([sys.executable, "-m", "shallowres", "run", "--alg", "gd", "--iters", "300",
                             "--d", "10", "--n", "300", "--every", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = [proc.stdout.readline() for _ in range(3)]       # `| head -3`
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert err == "" and b"Gradient descent on d = 10" in head[0]
