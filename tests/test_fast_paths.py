"""The fast paths against the dense reference, and the memory budget's path choice.

Every AM solver path (dense, cholesky, gram, cg, lsqr), forced, must give the
iterates of np.linalg.lstsq on B formed from the slides (eq. 3, minimum-norm W)
to 1e-8 relative, in every size regime: overdetermined, underdetermined
(n < d^2), a neuron never active (a zero block of B) and a neuron active on
fewer than d samples (a null space inside its block). Each spectrum method must
match the SVD of B / sqrt(n). No wall-clock assertions here: speed is measured by
benchmarks/run.py.
"""
from __future__ import annotations

import dataclasses
import itertools
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from shallowres import MemoryBudgetError, am, gd, make_problem, problem_from_arrays, run
from shallowres.budget import (
    choose_am_path,
    iteration_bytes,
    path_bytes,
    run_bytes,
    spectrum_bytes,
)
from shallowres.linear import EXACT_RANK_MACS, B_rank_deficient, gram_apply, masks, normal_matrix, signed_masks, vec
from shallowres.lsq import PopulationPreconditioner, solve_am_step
from shallowres.problem import problem_bytes, relu_output
from shallowres.spectrum import extreme_singular_values
from shallowres.validation import MB
from tests.reference import B_from_slides, vec_cols

PATHS = ("dense", "cholesky", "gram", "cg", "lsqr")
AM_RTOL = 1e-8


def B_blocks(X, U, v):
    """B = [v_1 P_1 X, ..., v_d P_d X], block by block (B_from_slides without the n x n P_q)."""
    return np.hstack([v[q] * (X @ U[:, q] > 0)[:, None] * X for q in range(U.shape[1])])


def lstsq_step(X, y, v, W):
    """Eq. (3) from the slides: B at W, minimum-norm vec(W') with B vec(W' + I) ~ y."""
    d = W.shape[0]
    B = B_blocks(X, W + np.eye(d), v) if len(X) > 300 else B_from_slides(X, W + np.eye(d), v)
    w = np.linalg.lstsq(B, y - B @ vec_cols(np.eye(d)), rcond=None)[0]
    return w.reshape(d, d, order="F")


def rel(a, b) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def assert_am_matches_lstsq(problem, path, W0, steps=3):
    """The first ``steps`` AM iterates of ``path`` equal the dense reference's."""
    recs = itertools.islice(am(problem, W0=W0, keep_W=True, am_solver=path), 1, steps + 1)
    W_ref = np.array(W0, dtype=float)
    for rec in recs:
        W_ref = lstsq_step(problem.X, problem.y, problem.v_star, W_ref)
        assert rel(rec.W, W_ref) <= AM_RTOL, (path, rec.t, rel(rec.W, W_ref))


def random_W0(d, seed, scale=0.3):
    return scale * np.random.default_rng(seed).standard_normal((d, d)) / np.sqrt(d)


# ----- AM paths against lstsq -----------------------------------------------------------

@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("d, n", [(3, 40), (5, 60), (6, 200), (9, 250)])
def test_paths_overdetermined(path, d, n):
    p = make_problem(d=d, n=n, gamma=1.0, seed=d + n)
    assert_am_matches_lstsq(p, path, random_W0(d, n))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("d, n", [(4, 9), (5, 15), (7, 40)])
def test_paths_underdetermined_take_min_norm(path, d, n):
    """n < d^2: W' is the interpolating solution of least ||W'||_F (closest to U = I)."""
    p = make_problem(d=d, n=n, gamma=1.0, seed=n)
    assert_am_matches_lstsq(p, path, np.zeros((d, d)), steps=2)


@pytest.mark.parametrize("path", PATHS)
def test_paths_neuron_never_active(path):
    """u_2 = 0: 1{x . u_2 > 0} = 0 for every sample, so B's second block is zero and
    the minimum-norm step sets w_2 = 0 whatever W^0 held there."""
    d, n = 5, 120
    p = make_problem(d=d, n=n, gamma=1.0, seed=11)
    W0 = random_W0(d, 1)
    W0[:, 2] = -np.eye(d)[:, 2]
    S = signed_masks(masks(p.X, W0 + np.eye(d)), p.v_star)
    assert not S[:, 2].any()
    assert_am_matches_lstsq(p, path, W0, steps=2)
    W1 = next(itertools.islice(am(p, W0=W0, keep_W=True, am_solver=path), 1, None)).W
    assert np.allclose(W1[:, 2], 0.0, atol=1e-12)


@pytest.mark.parametrize("path", PATHS)
def test_paths_neuron_active_on_few_samples(path):
    """x_i1 < 0 for all but 2 samples and u_0 = e_1: neuron 0 is active on 2 < d
    samples, so its block of B has a null space; the minimum-norm step is unique."""
    d, n = 4, 90
    rng = np.random.default_rng(5)
    X = rng.standard_normal((n, d)) / np.sqrt(n)
    X[:, 1] = -np.abs(X[:, 1])
    X[:2, 1] = np.abs(X[:2, 1]) + 0.5 / np.sqrt(n)
    p = problem_from_arrays(0.2 * rng.standard_normal((d, d)) / d, rng.choice([-1.0, 1.0], d), X)
    W0 = np.zeros((d, d))
    W0[:, 0] = np.eye(d)[:, 1] - np.eye(d)[:, 0]          # u_0 = e_1
    S = signed_masks(masks(X, W0 + np.eye(d)), p.v_star)
    assert np.count_nonzero(S[:, 0]) == 2
    recs = list(itertools.islice(am(p, W0=W0, keep_W=True, am_solver=path), 2))
    assert rel(recs[1].W, lstsq_step(X, p.y, p.v_star, W0)) <= AM_RTOL


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(d=st.integers(2, 6), ratio=st.sampled_from([0.4, 0.8, 1.6, 3.0, 6.0]),
       seed=st.integers(0, 10**6), path=st.sampled_from(PATHS), init_scale=st.floats(0.0, 1.0))
def test_any_path_one_step_equals_lstsq(d, ratio, seed, path, init_scale):
    """On problems with kappa(B) <= 1e3 (nonzero singular values when n < d^2):
    normal-equation paths lose kappa(B)^2 eps, so far worse-conditioned B may
    differ from lstsq by more than 1e-8 (tests above cover the singular structures)."""
    n = max(2, int(ratio * d * d))
    p = make_problem(d=d, n=n, gamma=1.0, seed=seed)
    W0 = random_W0(d, seed, init_scale)
    s = np.linalg.svd(B_blocks(p.X, W0 + np.eye(d), p.v_star), compute_uv=False)
    assume(s[min(n, d * d) - 1] >= 1e-3 * s[0])
    S = signed_masks(masks(p.X, W0 + np.eye(d)), p.v_star)
    W1, info = solve_am_step(path, p.X, S, p.y, W0)
    assert rel(W1, lstsq_step(p.X, p.y, p.v_star, W0)) <= AM_RTOL
    assert info.underdetermined == (n < d * d)


def test_auto_path_runs_equal_dense_reference_at_paper_size():
    """d = 20, n = 1700 (auto: Cholesky refined from float32) against lstsq, 6 steps."""
    p = make_problem(d=20, n=1700, seed=0)
    assert choose_am_path(1700, 20, 2**30) == "cholesky"
    assert_am_matches_lstsq(p, "auto", np.zeros((20, 20)), steps=4)


def test_cg_at_larger_d_equals_cholesky():
    """CG (the large-d path) against the exact normal equations at d = 30, n = 2 d^2."""
    p = make_problem(d=30, n=1800, seed=1)
    it_cg = am(p, keep_W=True, am_solver="cg")
    it_ch = am(p, keep_W=True, am_solver="cholesky")
    for a, b in itertools.islice(zip(it_cg, it_ch, strict=False), 5):
        assert rel(a.W, b.W) <= AM_RTOL if b.t else np.array_equal(a.W, b.W)
        assert a.flips_prev == b.flips_prev


def test_cholesky_cache_updates_equal_fresh_assembly():
    """The cached float32 B^T B, updated by the rows whose masks changed, tracks a
    fresh assembly, and the solves equal the uncached ones, over a run of mask changes. (Above the
    exact rank test's size: below it the certified float64 factor is the solve, and nothing is cached.)"""
    d, n = 20, 800
    assert n * d**4 / 2 > EXACT_RANK_MACS
    p = make_problem(d=d, n=n, seed=6)
    rng = np.random.default_rng(0)
    cache: dict = {}
    U = np.eye(d)
    for step in range(12):
        S = signed_masks(masks(p.X, U), p.v_star)
        W_cached, _ = solve_am_step("cholesky", p.X, S, p.y, cache=cache)
        W_fresh, _ = solve_am_step("cholesky", p.X, S, p.y)
        assert rel(W_cached, W_fresh) <= 1e-12
        G = normal_matrix(p.X, S, lower_only=True)
        assert np.abs(np.tril(cache["G"]) - np.tril(G)).max() <= 1e-5 * np.abs(G).max()
        U = U + (0.02 if step % 3 else 0.3) * rng.standard_normal((d, d)) / d   # small and large moves


@pytest.mark.parametrize("case, deficient", [("generic", False), ("n < d^2", True), ("dead", True),
                                             ("few active", True), ("same pattern", True),
                                             ("few patterns", True)])
def test_B_rank_deficient_sees_structural_rank_loss(case, deficient):
    d, n = 4, 200
    p = make_problem(d=d, n=n, seed=9)
    S = signed_masks(masks(p.X, np.eye(d)), p.v_star)
    if case == "n < d^2":
        S = S[:12]
    elif case == "dead":
        S[:, 1] = 0
    elif case == "few active":
        S[3:, 1] = 0
    elif case == "same pattern":
        S[:, 2] = S[:, 1] != 0
    elif case == "few patterns":      # 3 distinct rows of masks: rank(B) <= 3 d < d^2
        S = np.tile(np.array([[1.0, 1, 0, 1], [0, 1, 1, 1], [1, 0, 1, 1]]), (n // 3 + 1, 1))[:n]
    assert B_rank_deficient(S) == deficient
    B = np.hstack([S[:, [q]] * p.X[:len(S)] for q in range(d)])
    assert (np.linalg.matrix_rank(B) < d * d) == deficient


# ----- GD's two-product gradient -----------------------------------------------------------

def test_gd_iterates_equal_dense_B_products_for_any_v():
    """eq. (1) with B formed, 30 steps, also for second-layer weights other than +-1
    (the gradient applies v to the d x d result: X^T (M * r) diag(v))."""
    rng = np.random.default_rng(3)
    d, n = 6, 150
    v = np.array([1.0, -1.0, 2.5, -0.5, 1.0, -3.0])
    p = problem_from_arrays(0.3 * rng.standard_normal((d, d)) / d, np.sign(v), rng.standard_normal((n, d)) / np.sqrt(n))
    # the public constructors accept only v* in {+1, -1}; the operator identity holds for any v
    p = dataclasses.replace(p, v_star=v, y=relu_output(p.X, p.U_star, v), y_test=relu_output(p.X_test, p.U_star, v))
    eta = 0.5
    W = np.zeros((d, d))
    for rec in itertools.islice(gd(p, eta=eta, keep_W=True), 30):
        assert rel(rec.W, W) <= 1e-10 if rec.t else np.array_equal(rec.W, W)
        B = B_from_slides(p.X, W + np.eye(d), v)
        W = W + (eta / n) * (B.T @ (p.y - B @ vec_cols(W + np.eye(d)))).reshape(d, d, order="F")


# ----- operators and the spectrum ---------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_normal_matrix_chunks_and_precisions(dtype):
    p = make_problem(d=5, n=70, seed=2)
    S = signed_masks(masks(p.X, np.eye(5)), p.v_star)
    B = B_from_slides(p.X, np.eye(5), p.v_star)
    tol = 1e-13 if dtype == np.float64 else 1e-6
    for chunk in (8 * 25 * 3, 2**25):
        G = normal_matrix(p.X.astype(dtype), S.astype(dtype), chunk_bytes=chunk)
        assert G.dtype == dtype and np.allclose(G, B.T @ B, atol=tol * np.abs(B.T @ B).max())
        L = normal_matrix(p.X.astype(dtype), S.astype(dtype), chunk_bytes=chunk, lower_only=True)
        assert np.allclose(np.tril(L), np.tril(G))
    W = np.random.default_rng(0).standard_normal((5, 5))
    assert np.allclose(vec(gram_apply(p.X, S, W)), B.T @ B @ vec_cols(W), atol=1e-12)


def test_population_model_is_the_large_n_limit():
    """A_pop(W) -> B^T B vec(W) as n grows (Gaussian x; the rank-2 angle terms included)."""
    d, n = 4, 400_000
    p = make_problem(d=d, n=n, gamma=1.5, seed=0, n_test=1)
    S = signed_masks(masks(p.X, p.U_star), p.v_star)
    P = PopulationPreconditioner(p.X, S)
    W = np.random.default_rng(1).standard_normal((d, d))
    exact = gram_apply(p.X, S, W)
    assert rel(P.model(W), exact) < 0.02
    kron_only = P.C @ W @ P.D
    assert rel(kron_only, exact) > 5 * rel(P.model(W), exact)


def svd_extremes(X, U, v):
    n = X.shape[0]
    s = np.linalg.svd(B_from_slides(X, U, v) / np.sqrt(n), compute_uv=False)
    return (s[-1] if n >= U.size else 0.0), s[0]


@pytest.mark.parametrize("d, n, init", [(6, 400, "random"), (8, 200, "identity"), (10, 350, "random"),
                                        (7, 30, "identity")])
def test_spectrum_methods_match_svd(d, n, init):
    p = make_problem(d=d, n=n, gamma=1.0, seed=d)
    W0 = random_W0(d, d) if init == "random" else np.zeros((d, d))
    S = signed_masks(masks(p.X, W0 + np.eye(d)), p.v_star)
    lo, hi = svd_extremes(p.X, W0 + np.eye(d), p.v_star)
    dlo, dhi = extreme_singular_values(p.X, S, method="dense")
    assert dhi == pytest.approx(hi, rel=1e-10) and dlo == pytest.approx(lo, rel=1e-8, abs=1e-12)
    mlo, mhi = extreme_singular_values(p.X, S, method="matrix_free", rtol=1e-8)
    assert mhi == pytest.approx(hi, rel=1e-8)
    assert mlo == pytest.approx(lo, rel=1e-4, abs=1e-12)
    assert mlo >= lo * (1 - 1e-10)        # a Ritz value: an upper bound on sigma_min
    looser, _ = extreme_singular_values(p.X, S, method="matrix_free", rtol=1e-2)
    assert lo * (1 - 1e-10) <= looser <= lo * (1 + 1e-2)


@pytest.mark.parametrize("active", [0, 3])
def test_spectrum_is_exactly_singular_with_a_neuron_active_on_fewer_than_d_samples(active):
    d, n = 6, 300
    p = make_problem(d=d, n=n, seed=4)
    U = np.eye(d)
    U[:, 3] = 0.0
    S = signed_masks(masks(p.X, U), p.v_star)
    S[:active, 3] = p.v_star[3]
    B = np.hstack([S[:, [q]] * p.X for q in range(d)])    # [v_1 P_1 X, ..., v_d P_d X]
    top = np.linalg.svd(B / np.sqrt(n), compute_uv=False)[0]
    for method in ("dense", "matrix_free"):
        lo, hi = extreme_singular_values(p.X, S, method=method)
        assert lo == 0.0 and hi == pytest.approx(top, rel=1e-8)


# ----- the memory budget ----------------------------------------------------------------------

def test_path_choice_follows_speed_when_memory_is_plentiful():
    big = 64 * 2**30
    assert choose_am_path(1700, 20, big) == "cholesky"
    assert choose_am_path(20000, 100, big) == "cg"
    assert choose_am_path(200, 20, big) == "gram"         # n < d^2


@pytest.mark.parametrize("n, d, fast, lean", [(1700, 20, "cholesky", "cg"), (3000, 100, "gram", "lsqr")])
def test_small_budgets_pick_lean_paths(n, d, fast, lean):
    base = problem_bytes(n, d) + iteration_bytes(n, d)
    assert choose_am_path(n, d, base + path_bytes(fast, n, d) + MB) == fast
    squeezed = base + path_bytes(lean, n, d) + MB
    assert path_bytes(fast, n, d) > path_bytes(lean, n, d) + MB
    assert choose_am_path(n, d, squeezed) == lean


def test_nothing_fits_raises_memory_budget_error():
    p = make_problem(d=40, n=20000, seed=0)
    need = run_bytes(20000, 40, "am", "cg", 50, False, False)
    assert need > 10 * MB
    with pytest.raises(MemoryBudgetError, match="memory budget"):
        am(p, memory_budget=10 * MB)
    with pytest.raises(MemoryBudgetError):
        run(p, "am", memory_budget=10 * MB)
    with pytest.raises(MemoryBudgetError):   # a forced path past the budget is refused too
        am(make_problem(d=20, n=1700), am_solver="dense", memory_budget=12 * MB)


@pytest.mark.parametrize("path,d,n", [(p, 24, 400) if p in ("gram", "lsqr") else (p, 16, 600) for p in PATHS]
                         + [("cholesky", 20, 1700)])        # the dashboard's default (one chunk of B is all of B)
def test_estimates_bound_what_numpy_allocates(path, d, n):
    """Peak NumPy allocation of 4 AM iterations stays within run_bytes (minus the
    problem, allocated before tracing)."""
    p = make_problem(d=d, n=n, seed=1)
    tracemalloc.start()
    try:
        run(p, "am", am_solver=path, iters=4)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= run_bytes(n, d, "am", path, 4, False, False) - problem_bytes(n, d)


@pytest.mark.parametrize("d,n", [(45, 4500), (20, 1700)])   # matrix-free spectrum (d^2 > 1600); dense
def test_gd_estimate_bounds_its_spectrum(d, n):
    p = make_problem(d=d, n=n, seed=2)
    tracemalloc.start()
    try:
        run(p, "gd", iters=3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= iteration_bytes(n, d) + spectrum_bytes(n, d)
