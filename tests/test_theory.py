"""Theory quantities against dense formulas; the empirical side."""
import math

import numpy as np
import pytest

from shallowres import empirical, empirical_ratio, make_problem, run, theory
from shallowres.theory import contraction_factors, iterations_to, lemma1_terms, rho3_at
from tests.reference import B_from_slides, vec_cols


def test_spectrum_and_rates_match_dense_svd():
    p = make_problem(d=6, n=400, gamma=1.0, seed=2)
    th = theory(p, init="random")
    W0 = np.random.default_rng(np.random.SeedSequence(2, spawn_key=(4,))).standard_normal((6, 6)) / 6
    B = B_from_slides(p.X, W0 + np.eye(6), p.v_star) / np.sqrt(p.n)
    s = np.linalg.svd(B, compute_uv=False)
    assert np.isclose(th.sigma_max, s[0], rtol=1e-10) and np.isclose(th.sigma_min, s[-1], rtol=1e-8)
    kappa = s[0] ** 2 / s[-1] ** 2
    assert np.isclose(th.kappa, kappa, rtol=1e-7)
    # E_q = (B^t - B*) vec(W* + I) / sqrt(n) restricted to neuron q
    Bstar = B_from_slides(p.X, p.U_star, p.v_star) / np.sqrt(p.n)
    u = vec_cols(p.U_star)
    E = [np.linalg.norm((B[:, q * 6:(q + 1) * 6] - Bstar[:, q * 6:(q + 1) * 6]) @ u[q * 6:(q + 1) * 6])
         for q in range(6)]
    assert np.isclose(th.rho3, sum(E) / np.linalg.norm(W0 - p.W_star), rtol=1e-10)
    assert np.isclose(th.rho3, rho3_at(p.X, W0, p))
    assert np.isclose(th.rho_am, kappa * th.rho3 / s[0], rtol=1e-7)
    assert np.isclose(th.rho_gd, (kappa - 1) / (kappa + 1) + 2 * kappa * th.rho3 / (s[0] * (kappa + 1)), rtol=1e-7)
    assert np.isclose(th.rho_gd, th.rho4 + 2 * th.rho_am / (kappa + 1))   # the slides' identity
    assert np.isclose(th.rho_am_tight, th.rho3 / s[-1], rtol=1e-7)
    assert th.rho_am_tight <= th.rho_am


def test_bounds_hold_near_W_star_with_many_samples():
    """Close to W* with n >> d^2 both bounds are < 1 and T_GD/T_AM is finite and > 1."""
    p = make_problem(d=4, n=20000, gamma=0.5, seed=0)
    th = theory(p, W=p.W_star + 1e-4 * np.ones((4, 4)), eps=1e-8)
    assert th.rho_am < th.rho_gd < 1 and not th.vacuous()
    assert th.t_ratio_pred == pytest.approx(math.log(1 / th.rho_am) / math.log(1 / th.rho_gd))
    assert th.t_ratio_pred > 1
    assert th.t_gd == iterations_to(th.rho_gd, th.rel_err0, 1e-8) and math.isfinite(th.t_gd)


def test_vacuous_bounds_are_reported_plainly_never_nan():
    p = make_problem(d=20, n=1700, gamma=2.0, seed=0)
    th = theory(p)
    assert th.rho_gd >= 1 and th.t_ratio_pred is None and math.isinf(th.t_gd)
    why = th.vacuous()
    assert set(why) == {"rho_gd", "rho_am", "rho_am_tight"}
    assert "vacuous" in why["rho_gd"] and "kappa" in why["rho_gd"] and "fresh samples are off" in why["rho_gd"]
    d = th.as_dict()
    assert d["t_ratio_pred"] is None and d["t_gd"] is None
    assert all(not (isinstance(v, float) and (math.isnan(v) or v < 0)) for v in d.values())


def test_underdetermined_has_zero_sigma_min_and_says_why():
    th = theory(make_problem(d=10, n=50, seed=0))
    assert th.sigma_min == 0 and math.isinf(th.kappa)
    assert "n = 50 < d^2 = 100" in th.vacuous()["rho_am"]
    assert th.as_dict()["kappa"] is None


def test_assumption1_and_lemma1_terms():
    p = make_problem(d=16, n=300, gamma=1.5, seed=0)
    th = theory(p, delta=0.8)
    assert th.assumption1_bound == pytest.approx(0.8 * 4 / 1.8)
    assert th.assumption1_holds == (1.5 <= 0.8 * 4 / 1.8)
    assert not theory(p, delta=0.5).assumption1_holds
    s = np.linalg.svd(p.W_star + np.eye(16), compute_uv=False)
    assert np.allclose(th.singular_values_U_star, s)
    assert th.kappa_w == pytest.approx(s[0] / s[-1])
    assert th.lam == pytest.approx(np.prod(s) / s[-1] ** 16, rel=1e-9)
    assert th.balance_ratio == pytest.approx(1.0)
    assert th.n_over_d2 == pytest.approx(300 / 256)
    sv, kw, log_lam = lemma1_terms(np.diag([3.0, 2.0, 1.0]))
    assert kw == 3 and log_lam == pytest.approx(np.log10(6.0))


def test_empirical_side():
    err = np.array([1.0, 0.5, 0.25, 0.125, 1e-20])
    f = contraction_factors(err)
    assert np.allclose(f, [0.5, 0.5, 0.5, 8e-20])
    e = empirical(np.array([1.0, 0.5, 0.25, 0.125]), eps=0.2)
    assert e.geo_mean == pytest.approx(0.5) and e.iters_to_eps == 3
    assert empirical(np.array([1.0, 0.9]), 0.1).iters_to_eps is None
    p = make_problem(seed=0)
    g, a = run(p, "gd", tol=1e-2), run(p, "am", tol=1e-2)
    eg, ea = empirical(g.history["rel_err"], 1e-2), empirical(a.history["rel_err"], 1e-2)
    assert ea.geo_mean < eg.geo_mean < 1
    assert empirical_ratio(eg, ea) == eg.iters_to_eps / ea.iters_to_eps > 10


def test_B_zero_is_vacuous_with_a_reason_not_a_crash():
    th = theory(make_problem(d=2, n=1, gamma=0.5, seed=9))
    assert th.sigma_max == 0 and math.isinf(th.rho_gd) and math.isinf(th.rho_am)
    assert "B = 0" in th.vacuous()["rho_gd"]
    assert th.as_dict()["rho_gd"] is None
