"""Table I's baselines (SGD, Adam) and inexact AM against independent formulas."""
from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shallowres import initial_point, iterate, make_problem, run
from shallowres.baselines import (
    ADAM_BETAS,
    ADAM_EPS,
    epoch_order,
    minibatch_gradient,
    sgd_step,
    sgd_theory_eta,
    truncated_cg,
)
from shallowres.budget import run_bytes
from shallowres.interrupt import Cancelled
from shallowres.linear import masks, signed_masks
from shallowres.solvers import Stepper, plan_run
from tests.reference import B_from_slides, vec_cols


def gd_step_dense(p, W, eta):
    """Eq. (1) with B formed block by block from the slides."""
    U = W + np.eye(p.d)
    B = B_from_slides(p.X, U, p.v_star)
    return vec_cols(W) + eta / p.n * B.T @ (p.y - B @ vec_cols(U))


@pytest.mark.parametrize("b", [1, 2, 3])
def test_sgd_expected_step_over_all_minibatches_is_gds_step(b):
    """E_S[W - eta * grad_S] over every subset S of size b, drawn uniformly, equals eq. (1)."""
    p = make_problem(d=3, n=7, gamma=0.8, seed=2)
    W = 0.3 * np.random.default_rng(1).standard_normal((3, 3))
    eta = 0.37
    steps = [sgd_step(p.X, p.y, W, p.v_star, np.array(S), eta) for S in itertools.combinations(range(7), b)]
    assert np.allclose(vec_cols(np.mean(steps, axis=0)), gd_step_dense(p, W, eta), rtol=1e-12, atol=1e-14)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 6), st.integers(1, 5), st.integers(1, 6), st.integers(0, 10**6))
def test_the_mean_minibatch_gradient_of_an_epoch_is_the_full_gradient(d, batches, b, seed):
    """Over a partition of the n = batches * b samples into equal mini-batches."""
    n = batches * b
    p = make_problem(d=d, n=n, gamma=0.5, seed=seed % 1000, n_test=1)
    rng = np.random.default_rng(seed)
    U = np.eye(d) + 0.4 * rng.standard_normal((d, d))
    order = rng.permutation(n)
    mean = np.mean([minibatch_gradient(p.X[order[i:i + b]], p.y[order[i:i + b]], U, p.v_star)
                    for i in range(0, n, b)], axis=0)
    B = B_from_slides(p.X, U, p.v_star)
    full = -(B.T @ (p.y - B @ vec_cols(U))) / n
    assert np.allclose(vec_cols(mean), full, rtol=1e-10, atol=1e-12 * max(1.0, np.abs(full).max()))


def test_sgd_with_one_batch_per_epoch_is_gd():
    p = make_problem(d=6, n=150, gamma=1.0, seed=5)
    eta = 300.0
    sgd = list(itertools.islice(iterate(p, "sgd", eta=eta, batch_size=p.n, keep_W=True), 6))
    gd = list(itertools.islice(iterate(p, "gd", eta=eta, keep_W=True), 6))
    for a, b in zip(sgd, gd, strict=True):
        assert np.allclose(a.W, b.W, rtol=1e-12, atol=1e-15)
        assert a.flips_teacher == b.flips_teacher
    assert [r.inner_iters for r in sgd[1:]] == [1] * 5


def test_sgd_epoch_takes_ceil_n_over_b_steps_in_the_seeded_order():
    p = make_problem(d=4, n=50, gamma=0.6, seed=9)
    eta = 40.0
    rec = list(itertools.islice(iterate(p, "sgd", eta=eta, batch_size=16, keep_W=True), 2))
    assert rec[1].inner_iters == 4
    W = rec[0].W
    order = epoch_order(p.seed, 0, p.n)
    for lo in range(0, p.n, 16):
        W = sgd_step(p.X, p.y, W, p.v_star, order[lo:lo + 16], eta)
    assert np.array_equal(W, rec[1].W)


def test_sgd_theory_step_is_ma_bassily_belkin_with_dense_B():
    p = make_problem(d=5, n=200, gamma=1.0, seed=1)
    S = signed_masks(masks(p.X, np.eye(5)), p.v_star)
    B = B_from_slides(p.X, np.eye(5), p.v_star)
    beta = np.max(np.sum(B * B, axis=1))
    lam = np.linalg.eigvalsh(B.T @ B / p.n)[-1]
    for b in (1, 8, 200, 500):
        m = min(b, p.n)
        assert sgd_theory_eta(p.X, S, b) == pytest.approx(m / (beta + (m - 1) * lam), rel=1e-10)


def adam_reference(p, W, epochs, b, lr):
    """Kingma & Ba's Algorithm 1, written out with the slides' dense B for each mini-batch gradient."""
    m = np.zeros(p.d * p.d)
    v = np.zeros(p.d * p.d)
    w = vec_cols(W)
    k = 0
    for t in range(epochs):
        order = epoch_order(p.seed, t, p.n)
        for lo in range(0, p.n, b):
            rows = order[lo:lo + b]
            U = w.reshape(p.d, p.d, order="F") + np.eye(p.d)
            B = B_from_slides(p.X[rows], U, p.v_star)
            g = -(B.T @ (p.y[rows] - B @ vec_cols(U))) / len(rows)
            k += 1
            m = ADAM_BETAS[0] * m + (1 - ADAM_BETAS[0]) * g
            v = ADAM_BETAS[1] * v + (1 - ADAM_BETAS[1]) * g**2
            w = w - lr * (m / (1 - ADAM_BETAS[0] ** k)) / (np.sqrt(v / (1 - ADAM_BETAS[1] ** k)) + ADAM_EPS)
    return w


def test_adam_matches_algorithm_1():
    p = make_problem(d=4, n=60, gamma=0.8, seed=3)
    recs = list(itertools.islice(iterate(p, "adam", eta=0.01, batch_size=16, keep_W=True), 4))
    want = adam_reference(p, recs[0].W, 3, 16, 0.01)
    assert np.allclose(vec_cols(recs[3].W), want, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("init", ["identity", "random"])
def test_inexact_am_with_k_large_is_exact_am(init):
    p = make_problem(d=8, n=300, gamma=1.2, seed=6)
    exact = list(itertools.islice(iterate(p, "am", init=init, keep_W=True, am_solver="dense"), 5))
    inexact = list(itertools.islice(iterate(p, "am", init=init, keep_W=True, am_inner=500), 5))
    for a, b in zip(exact, inexact, strict=True):
        assert np.allclose(a.W, b.W, rtol=1e-8, atol=1e-10)
        assert a.flips_teacher == b.flips_teacher
    assert inexact[1].solver == "cg(500)" and 0 < inexact[1].inner_iters < 500


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 8))
def test_more_cg_iterations_never_raise_the_least_squares_objective(seed, K):
    p = make_problem(d=5, n=80, gamma=1.0, seed=seed % 500, n_test=1)
    W0 = initial_point(p, "random")
    S = signed_masks(masks(p.X, W0 + np.eye(5)), p.v_star)
    B = B_from_slides(p.X, W0 + np.eye(5), p.v_star)

    def objective(W):
        r = B @ vec_cols(W + np.eye(5)) - p.y
        return r @ r

    values = [objective(truncated_cg(p.X, S, p.y, W0, k)[0]) for k in range(K + 1)]
    assert all(b <= a * (1 + 1e-9) + 1e-20 for a, b in zip(values, values[1:], strict=False))
    assert values[-1] < values[0] or values[0] < 1e-20


def test_inexact_am_is_not_stopped_at_a_fixed_point_while_w_moves():
    p = make_problem(d=10, n=400, gamma=1.0, seed=2)
    r = run(p, "am", am_inner=1, iters=200)
    assert r.stop_reason == "converged" and r.n_iter > 10
    flat = np.flatnonzero(r.history["flips_prev"][1:] == 0)
    assert len(flat) > 0, "the masks settle before W does: exact AM would stop there"
    assert r.message.startswith("Inexact alternating minimization (K = 1 CG iteration per step) converged")


@pytest.mark.parametrize("alg", ["sgd", "adam"])
def test_baselines_reach_the_tolerance_at_a_small_setting(alg):
    p = make_problem(d=8, n=400, gamma=1.0, seed=1)
    r = run(p, alg, init="random", tol=1e-6)
    assert r.stop_reason == "converged" and r.rel_err < 1e-6
    assert "epochs" in r.message and r.config["batch_size"] == 64 and r.config["lr_decay"] == 0.0


def test_sgd_diverges_with_a_huge_step_and_says_so():
    p = make_problem(d=6, n=200, gamma=1.0, seed=1)
    r = run(p, "sgd", eta=1e6, iters=50)
    assert r.stop_reason == "diverged" and "Mini-batch SGD diverged at epoch" in r.message
    assert "step size" in r.message


@pytest.mark.parametrize("alg", ["sgd", "adam"])
def test_a_cancelled_epoch_leaves_the_stepper_and_the_next_epoch_is_unchanged(alg):
    p = make_problem(d=6, n=300, gamma=1.0, seed=4)
    ref = Stepper(p, alg, batch_size=10)
    want = [ref.step().err for _ in range(2)]
    s = Stepper(p, alg, batch_size=10)
    s.step()
    calls = iter(range(10**6))
    with pytest.raises(Cancelled):
        s.step(cancel=lambda: next(calls) >= 12)       # midway through the 30 mini-batches
    assert s.t == 1
    assert s.step().err == want[1]


def test_sgd_restarted_from_a_saved_iterate_continues_bit_for_bit():
    p = make_problem(d=6, n=200, gamma=1.0, seed=3)
    full = Stepper(p, "sgd", batch_size=32)
    recs = [full.step() for _ in range(8)]
    half = Stepper(p, "sgd", batch_size=32)
    for _ in range(4):
        half.step()
    again = Stepper(p, "sgd", half.W, eta=half.eta, batch_size=32, t0=half.t)
    for want in recs[4:]:
        assert again.step().err == want.err


@pytest.mark.parametrize("kw, name", [(dict(alg="sgd", batch_size=0), "batch_size"),
                                      (dict(alg="adam", lr_decay=-1.0), "lr_decay"),
                                      (dict(alg="am", am_inner=0), "am_inner"),
                                      (dict(alg="gd", am_inner=3), "am_inner"),
                                      (dict(alg="lbfgs"), "alg")])
def test_bad_parameters_name_themselves(kw, name):
    p = make_problem(d=4, n=40, seed=0)
    with pytest.raises(ValueError, match=f"^{name} "):
        run(p, **kw)


def test_memory_plan_of_the_baselines():
    assert plan_run(1700, 20, "am", am_inner=5) == "inexact"
    assert plan_run(1700, 20, "sgd") is None
    assert run_bytes(1700, 20, "sgd", None, 100, False, False) > run_bytes(1700, 20, "gd", None, 100, False, False)
    assert run_bytes(1700, 20, "am", "inexact", 100, False, False) == run_bytes(1700, 20, "am", "cg", 100, False,
                                                                               False)


def test_gd_and_am_records_are_unchanged_by_the_new_keywords():
    p = make_problem(d=6, n=200, gamma=1.0, seed=8)
    for alg in ("gd", "am"):
        a = list(itertools.islice(iterate(p, alg), 5))
        b = list(itertools.islice(iterate(p, alg, batch_size=7, lr_decay=3.0), 5))
        assert [r.err for r in a] == [r.err for r in b]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "shallowres", "run", *args], capture_output=True, text=True)


def test_cli_runs_the_baselines_and_refuses_bad_flags_in_one_line():
    out = cli("--alg", "sgd", "--d", "5", "--n", "100", "--iters", "3", "--batch-size", "20")
    assert out.returncode == 0 and out.stdout.startswith("Mini-batch SGD on d = 5")
    out = cli("--alg", "am", "--am-inner", "2", "--d", "5", "--n", "100", "--iters", "3", "--json")
    assert out.returncode == 0 and '"alg": "am"' in out.stdout.splitlines()[-1]
    for flags, flag in ((("--alg", "adam", "--batch-size", "0"), "--batch-size"),
                        (("--am-inner", "4"), "--am-inner"), (("--alg", "sgd", "--lr-decay", "-2"), "--lr-decay")):
        bad = cli(*flags)
        assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
        assert f"argument {flag}:" in bad.stderr


def test_sweeps_and_the_per_iterate_theory_still_take_only_gd_and_am():
    from shallowres import path_run
    from shallowres.sweep import SweepSpec

    p = make_problem(d=4, n=40, seed=0)
    with pytest.raises(ValueError, match="^alg must be one of 'gd', 'am'; got 'sgd'"):
        path_run(p, "sgd")
    with pytest.raises(ValueError, match="^alg must be one of 'gd', 'am'; got 'adam'"):
        SweepSpec(algs=("adam",))
