"""GD (eq. 1) and AM (eqs. 2-3) against dense formulas, and run()'s stop reasons."""
import itertools

import numpy as np
import pytest

from shallowres import am, gd, iterate, make_problem, problem_from_arrays, run
from shallowres.linear import masks, signed_masks
from shallowres.solvers import theory_eta
from tests.reference import B_from_slides, loss, vec_cols


def _first_steps(it, k):
    return list(itertools.islice(it, k))


@pytest.fixture(scope="module")
def small():
    return make_problem(d=5, n=80, gamma=1.0, seed=3)


def test_gd_step_equals_eq1_with_dense_B(small):
    p = small
    eta = 0.7 * theory_eta(p.X, signed_masks(masks(p.X, np.eye(5)), p.v_star))
    recs = _first_steps(gd(p, eta=eta, keep_W=True), 4)
    for a, b in zip(recs, recs[1:], strict=False):
        U = a.W + np.eye(5)
        B = B_from_slides(p.X, U, p.v_star)
        expected = vec_cols(a.W) + eta / p.n * B.T @ (p.y - B @ vec_cols(U))
        assert np.allclose(vec_cols(b.W), expected, rtol=1e-12, atol=1e-14)


def test_gradient_matches_finite_differences(small):
    """-(1/n) B^T (y - B vec(W + I)) is the gradient of L (away from ReLU kinks)."""
    p = small
    rng = np.random.default_rng(0)
    W = 0.2 * rng.standard_normal((5, 5))
    U = W + np.eye(5)
    B = B_from_slides(p.X, U, p.v_star)
    grad = -(B.T @ (p.y - B @ vec_cols(U))) / p.n
    h = 1e-6
    fd = np.zeros(25)
    for k in range(25):
        E = np.zeros(25)
        E[k] = h
        Ek = E.reshape(5, 5, order="F")
        fd[k] = (loss(p.X, p.y, W + Ek, p.v_star) - loss(p.X, p.y, W - Ek, p.v_star)) / (2 * h)
    assert np.allclose(fd, grad, rtol=1e-5, atol=1e-9 * np.abs(grad).max())


@pytest.mark.parametrize("solver", ["auto", "dense", "cholesky", "gram", "cg", "lsqr"])
def test_am_step_equals_lstsq_on_dense_B(small, solver):
    p = small  # n = 80 > d^2 = 25: unique solution
    recs = _first_steps(am(p, init="random", keep_W=True, am_solver=solver), 4)
    for a, b in zip(recs, recs[1:], strict=False):
        B = B_from_slides(p.X, a.W + np.eye(5), p.v_star)
        u, *_ = np.linalg.lstsq(B, p.y, rcond=None)
        assert np.allclose(vec_cols(b.W + np.eye(5)), u, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("solver", ["auto", "dense", "gram", "lsqr"])
def test_am_underdetermined_takes_min_norm_W(solver):
    p = make_problem(d=6, n=20, gamma=1.0, seed=4)   # n < d^2 = 36
    recs = _first_steps(am(p, keep_W=True, am_solver=solver), 3)
    B = B_from_slides(p.X, np.eye(6), p.v_star)
    w, *_ = np.linalg.lstsq(B, p.y - B @ vec_cols(np.eye(6)), rcond=None)   # min ||W||_F
    assert np.allclose(vec_cols(recs[1].W), w, rtol=1e-8, atol=1e-10)
    assert recs[1].underdetermined and not recs[0].underdetermined
    assert np.allclose(B @ vec_cols(recs[1].W + np.eye(6)), p.y, atol=1e-10)   # interpolates


@pytest.mark.parametrize("seed", range(5))
def test_paper_setting_both_algorithms_converge(seed):
    p = make_problem(d=20, n=1700, gamma=2.0, seed=seed)
    r_am = run(p, "am", init="identity", iters=20, tol=1e-8)
    assert r_am.rel_err < 1e-8 and r_am.n_iter <= 20 and r_am.stop_reason == "converged"
    r_gd = run(p, "gd", init="identity", iters=3000, tol=1e-2, eta="theory")
    assert r_gd.rel_err < 1e-2 and r_gd.stop_reason == "converged"


def test_records_are_consistent(small):
    p = small
    recs = _first_steps(gd(p, init="random", keep_W=True), 3)
    assert [r.t for r in recs] == [0, 1, 2]
    r = recs[1]
    U = r.W + np.eye(5)
    assert np.isclose(r.err, np.linalg.norm(r.W - p.W_star))
    assert np.isclose(r.rel_err, r.err / np.linalg.norm(p.W_star + np.eye(5)))
    assert np.isclose(r.train_loss, loss(p.X, p.y, r.W, p.v_star))
    assert np.isclose(r.test_loss, loss(p.X_test, p.y_test, r.W, p.v_star))
    mism = masks(p.X, U) != masks(p.X, p.U_star)
    assert r.flips_teacher == mism.sum()
    assert np.array_equal(r.flips_teacher_per_neuron, mism.sum(0))
    assert r.flips_prev == (masks(p.X, U) != masks(p.X, recs[0].W + np.eye(5))).sum()
    assert recs[0].flips_prev == 0
    Zs = p.X @ p.U_star
    E = [np.sqrt(np.sum((Zs[:, q] ** 2) * mism[:, q]) / p.n) for q in range(5)]
    assert np.isclose(r.rho3, sum(E) / r.err)
    assert all(a.seconds <= b.seconds for a, b in zip(recs, recs[1:], strict=False))


def test_same_seed_identical_histories():
    for alg in ("gd", "am"):
        h1 = run(make_problem(d=8, n=300, seed=11), alg, init="random", iters=30).history
        h2 = run(make_problem(d=8, n=300, seed=11), alg, init="random", iters=30).history
        for k in ("err", "train_loss", "test_loss", "flips_teacher", "flips_prev", "rho3"):
            assert np.array_equal(h1[k], h2[k]), k
        h3 = run(make_problem(d=8, n=300, seed=12), alg, init="random", iters=30).history
        assert not np.array_equal(h1["err"], h3["err"])


def test_resampling_changes_the_batch_every_iteration():
    p = make_problem(d=5, n=100, seed=2)
    X0, _ = p.batch(0, resample=True)
    batches = [p.batch(t, resample=True)[0] for t in range(1, 6)]
    assert np.array_equal(X0, p.X)
    for a, b in itertools.combinations([X0, *batches], 2):
        assert not np.array_equal(a, b)
    assert np.array_equal(p.batch(3, resample=True)[0], batches[2])   # reproducible
    assert np.array_equal(p.batch(3, resample=False)[0], p.X)
    # the labels follow the teacher on the fresh batch
    X3, y3 = p.batch(3, resample=True)
    assert np.allclose(y3, np.maximum(X3 @ p.U_star, 0) @ p.v_star)
    # and a resampled AM run never stops at a "fixed point", since the batch moves
    r = run(make_problem(d=10, n=500, seed=1), "am", resample=True, iters=15)
    assert r.stop_reason in ("converged", "max_iters")


def test_resampled_gd_uses_each_batch_once():
    p = make_problem(d=5, n=200, seed=5)
    recs = _first_steps(gd(p, resample=True, keep_W=True, eta=1.0), 3)
    X1, y1 = p.batch(1, resample=True)
    r = y1 - np.maximum(X1 @ (recs[1].W + np.eye(5)), 0) @ p.v_star
    assert np.isclose(recs[1].train_loss, r @ r / (2 * p.n))


def test_huge_eta_diverges_and_stops():
    p = make_problem(d=10, n=400, seed=0)
    with np.errstate(all="raise"):   # no floating point warnings escape either
        r = run(p, "gd", eta=1e11, iters=500)
    assert r.stop_reason == "diverged"
    assert r.n_iter < 500
    assert "diverged" in r.message and "step size" in r.message


def test_am_stops_at_fixed_point():
    # With label noise AM cannot reach W*; its activation pattern settles instead.
    p = make_problem(d=10, n=2000, noise=0.01, seed=0)
    r = run(p, "am", iters=50)
    assert r.stop_reason == "fixed_point"
    assert r.history["flips_prev"][-1] == 0
    assert 1e-8 < r.rel_err < 1e-2
    assert "fixed point" in r.message


def test_max_iters_and_callback_stop():
    p = make_problem(d=10, n=400, seed=0)
    r = run(p, "gd", iters=5)
    assert r.stop_reason == "max_iters" and r.n_iter == 5 and len(r.history["t"]) == 6
    seen = []
    r = run(p, "gd", iters=100, callback=lambda rec: seen.append(rec.t) or rec.t == 3)
    assert r.stop_reason == "stopped" and r.n_iter == 3 and seen == [0, 1, 2, 3]


def test_run_result_contents():
    p = make_problem(d=6, n=200, seed=0)
    r = run(p, "am", iters=10)
    assert r.W.shape == (6, 6)
    assert np.isclose(np.linalg.norm(r.W - p.W_star) / p.scale, r.rel_err)
    assert r.flips_per_neuron.shape == (r.n_iter + 1, 6)
    assert r.config["alg"] == "am" and r.config["n"] == 200
    assert all(rec.W is None for rec in r.records)
    assert set(r.summary()) >= {"stop_reason", "n_iter", "rel_err", "seconds"}


def test_identity_init_at_W_star_zero_converges_at_once():
    p = make_problem(d=4, n=50, gamma=0.0, seed=0)
    r = run(p, "gd")
    assert r.stop_reason == "converged" and r.n_iter == 0


def test_byo_arrays_run():
    rng = np.random.default_rng(0)
    W = 0.1 * rng.standard_normal((4, 4))
    v = np.array([1.0, -1, 1, 1])
    X = rng.standard_normal((100, 4)) / 10
    p = problem_from_arrays(W, v, X)
    assert np.allclose(p.y, np.maximum(X @ (W + np.eye(4)), 0) @ v)
    assert p.X_test.shape == (500, 4)
    r = run(p, "am", iters=30)
    assert r.rel_err < 1e-8


def test_iterate_rejects_bad_W0(small):
    with pytest.raises(ValueError, match="W0 must be a finite 5 x 5 array"):
        iterate(small, "gd", np.zeros((3, 3)))


def test_seconds_count_compute_time_not_time_suspended(monkeypatch):
    """A stepped run (the dashboard's Step button) does not count the gaps between steps."""
    import shallowres.solvers as solvers
    clock = [100.0]
    monkeypatch.setattr(solvers.time, "perf_counter", lambda: clock[0])
    it = gd(make_problem(d=4, n=40, seed=0), eta=1.0)
    r0 = next(it)
    clock[0] += 1000.0            # the user waits between clicks
    r1 = next(it)
    assert r0.seconds == 0.0 and r1.seconds == 0.0


def test_plan_run_checks_memory_before_allocating():
    from shallowres import MemoryBudgetError
    from shallowres.solvers import plan_run
    assert plan_run(1700, 20, "gd") is None
    assert plan_run(1700, 20, "am") in ("cholesky", "cg")
    assert plan_run(200, 20, "am") == "gram"
    with pytest.raises(MemoryBudgetError, match="AM with n = 1000000, d = 200"):
        plan_run(10**6, 200, "am")


def test_no_active_relu_stops_at_a_fixed_point_with_a_reason():
    """B = 0 (every x_i . u_q <= 0): the gradient vanishes; both stop, neither crashes."""
    p = make_problem(d=2, n=1, gamma=0.5, seed=9)
    assert np.all(p.X <= 0)
    for alg in ("gd", "am"):
        r = run(p, alg)
        assert r.stop_reason == "fixed_point" and r.n_iter == 1, alg
        assert np.isfinite(r.rel_err)
    assert "gradient is zero" in run(p, "gd").message
