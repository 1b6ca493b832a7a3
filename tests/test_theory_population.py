"""Population (n -> infinity) closed forms against Monte-Carlo estimates and dense loops."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shallowres import make_problem, theory
from shallowres.linear import masks, normal_matrix, signed_masks
from shallowres.population import (
    indicator_second_moment,
    kappa_population,
    mismatch_energy,
    population_gram,
    population_spectrum,
    rho3_population,
)
from shallowres.theory import rho3_forms


def loop_gram(U, v):
    """K built block by block from indicator_second_moment (the reference for the vectorized one)."""
    d = U.shape[0]
    K = np.zeros((d * d, d * d))
    for p in range(d):
        for q in range(d):
            K[p * d:(p + 1) * d, q * d:(q + 1) * d] = v[p] * v[q] * indicator_second_moment(U[:, p], U[:, q])
    return K


@settings(max_examples=20, deadline=None)
@given(d=st.integers(2, 4), seed=st.integers(0, 10**6), spread=st.floats(0.05, 2.0))
def test_indicator_moment_and_mismatch_energy_against_monte_carlo(d, seed, spread):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(d)
    b = a + spread * rng.standard_normal(d)
    N = 200_000
    Z = rng.standard_normal((N, d))
    w = (Z @ a > 0) & (Z @ b > 0)
    samples = (w[:, None, None] * Z[:, :, None] * Z[:, None, :]).reshape(N, -1)
    mc, se = samples.mean(0), samples.std(0) / math.sqrt(N)
    assert np.all(np.abs(mc - indicator_second_moment(a, b).ravel()) <= 5 * se + 1e-3)
    m = (Z @ b) ** 2 * ((Z @ a) * (Z @ b) <= 0)
    assert abs(m.mean() - mismatch_energy(a, b)) <= 5 * m.std() / math.sqrt(N) + 1e-4


def test_special_angles():
    e1, e2 = np.eye(3)[0], np.eye(3)[1]
    assert np.allclose(indicator_second_moment(e1, e1), np.eye(3) / 2)
    assert np.allclose(indicator_second_moment(e1, -e1), 0)
    J = indicator_second_moment(e1, e2)
    assert J[0, 1] == pytest.approx(1 / (2 * math.pi)) and J[2, 2] == pytest.approx(0.25)
    assert mismatch_energy(e1, -2 * e1) == pytest.approx(4.0) and mismatch_energy(e1, e1) == 0
    assert mismatch_energy(np.zeros(3), 2 * e1) == pytest.approx(2.0)   # a neuron that never fires
    assert np.allclose(indicator_second_moment(np.zeros(3), e1), 0)


def test_vectorized_gram_equals_the_block_loop():
    rng = np.random.default_rng(1)
    U = np.eye(5) + 0.4 * rng.standard_normal((5, 5))
    U[:, 2] = 0                                          # a dead neuron
    v = rng.choice([-1.0, 1.0], 5)
    K = population_gram(U, v)
    assert np.allclose(K, loop_gram(U, v), atol=1e-12)
    assert np.allclose(K, K.T, atol=1e-14)


def test_kappa_inf_against_monte_carlo_at_large_n():
    """cond(E[B^T B]/n) against kappa of B/sqrt(n) on R independent batches of n = 200 000
    samples: the mean is within 4 standard errors, plus the finite-n bias (~ d^2/n relative)."""
    d = 3
    p = make_problem(d=d, n=10, gamma=0.8, seed=5)
    U = p.U_star
    k_inf = kappa_population(U, p.v_star)
    n, R = 200_000, 6
    rng = np.random.default_rng(0)
    kappas = []
    for _ in range(R):
        X = rng.standard_normal((n, d)) / math.sqrt(n)
        ev = np.linalg.eigvalsh(normal_matrix(X, signed_masks(masks(X, U), p.v_star)) / n)
        kappas.append(ev[-1] / ev[0])
    kappas = np.array(kappas)
    se = kappas.std(ddof=1) / math.sqrt(R)
    assert abs(kappas.mean() - k_inf) <= 4 * se + 10 * k_inf * d * d / n, (kappas.mean(), k_inf, se)


def test_kappa_levels_off_near_three_d_plus_one_at_the_identity():
    """At W^0 = 0 (U = I) kappa_inf is close to 3(d + 1), with lambda_min = 1/4 - 1/(2 pi):
    more samples cannot bring kappa towards 1."""
    for d in (2, 5, 10, 20):
        lo, hi = population_spectrum(np.eye(d), np.ones(d))
        assert lo == pytest.approx(0.25 - 1 / (2 * math.pi), rel=1e-9)
        assert abs(hi / lo - 3 * (d + 1)) <= 0.12 * 3 * (d + 1)
    p = make_problem(d=20, n=1700, seed=0)
    th = theory(p)
    assert th.kappa_inf == pytest.approx(62.79, abs=0.01) and th.kappa > 3 * th.kappa_inf
    assert th.kappa_inf_star > th.kappa_inf     # W* is farther from orthogonal than I


def test_rho3_population_against_large_n():
    p = make_problem(d=4, n=400_000, gamma=1.0, seed=2)
    W = np.zeros((4, 4))
    r_sum, r_rss = rho3_population(W, p.W_star)
    fin = rho3_forms(p.X, W, p)
    sq = math.sqrt(p.n)
    assert fin.sum * sq == pytest.approx(r_sum, rel=0.02) and fin.rss * sq == pytest.approx(r_rss, rel=0.02)
    assert rho3_population(p.W_star, p.W_star) == (0.0, 0.0)


def test_population_needs_d_at_most_50():
    with pytest.raises(ValueError, match=r"d must be an integer in \[2, 50\]"):
        population_spectrum(np.eye(51), np.ones(51))
    th = theory(make_problem(d=51, n=2700, gamma=1.0, seed=0))
    d = th.as_dict()
    assert d["kappa_inf"] is None and "d <= 50" in d["kappa_inf_reason"]


def test_gamma_threshold_is_where_rho_am_crosses_one():
    """The largest gamma with the paper's rho_AM < 1 at the identity start as n -> infinity:
    tiny at d = 20 (below the paper's gamma = 2 by three decades), larger than the Bounds hold
    preset's 0.01 at d = 2; rho_AM there agrees with theory()'s population value."""
    from shallowres.population import gamma_threshold, rho_am_identity_start

    for d, gamma in ((2, 0.01), (20, 2.0)):
        p = make_problem(d=d, n=4000 if d == 2 else 1700, gamma=gamma, seed=0)
        g = gamma_threshold(p.W_star, p.v_star)
        D = p.W_star / np.linalg.norm(p.W_star)
        assert rho_am_identity_start(g * D, p.v_star) == pytest.approx(1.0, rel=1e-6)
        assert rho_am_identity_start(0.9 * g * D, p.v_star) < 1 < rho_am_identity_start(1.1 * g * D, p.v_star)
        assert rho_am_identity_start(p.W_star, p.v_star) == pytest.approx(theory(p).rho_am_inf, rel=1e-9)
        assert (g > gamma) == (d == 2)
    with pytest.raises(ValueError, match="W_star must be nonzero"):
        gamma_threshold(np.zeros((3, 3)), np.ones(3))
