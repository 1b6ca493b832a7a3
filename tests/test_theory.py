"""Theory quantities at one point against dense formulas written from the slides; the ladder
of predictions; the edge cases' words; the empirical side."""
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shallowres import empirical, empirical_ratio, make_problem, run
from shallowres.lsq import solve_dense
from shallowres.theory import contraction_factors, iterations_to, lemma1_terms, rho3_at, rho3_forms, theory
from tests.reference import B_from_slides, vec_cols


def dense_terms(p, W):
    """B/sqrt(n) at W, and the E_q blocks, straight from the slides: E_q is block q of
    (B - B*) vec(W* + I) / sqrt(n)."""
    d, n = p.d, p.n
    B = B_from_slides(p.X, W + np.eye(d), p.v_star) / np.sqrt(n)
    Bstar = B_from_slides(p.X, p.U_star, p.v_star) / np.sqrt(n)
    u = vec_cols(p.U_star)
    E = [(B[:, q * d:(q + 1) * d] - Bstar[:, q * d:(q + 1) * d]) @ u[q * d:(q + 1) * d] for q in range(d)]
    return B, Bstar, E


def test_spectrum_and_rates_match_dense_svd():
    p = make_problem(d=6, n=400, gamma=1.0, seed=2)
    th = theory(p, init="random")
    W0 = np.random.default_rng(np.random.SeedSequence(2, spawn_key=(4,))).standard_normal((6, 6)) / 6
    B, Bstar, E = dense_terms(p, W0)
    s = np.linalg.svd(B, compute_uv=False)
    assert np.isclose(th.sigma_max, s[0], rtol=1e-10) and np.isclose(th.sigma_min, s[-1], rtol=1e-8)
    kappa = s[0] ** 2 / s[-1] ** 2
    assert np.isclose(th.kappa, kappa, rtol=1e-7)
    err = np.linalg.norm(W0 - p.W_star)
    rho3 = sum(np.linalg.norm(e) for e in E) / err
    assert np.isclose(th.rho3, rho3, rtol=1e-10) and th.rho3_sum == th.rho3
    assert np.isclose(th.rho3, rho3_at(p.X, W0, p))
    assert np.isclose(th.rho_am, kappa * rho3 / s[0], rtol=1e-7)
    assert np.isclose(th.rho_gd, (kappa - 1) / (kappa + 1) + 2 * kappa * rho3 / (s[0] * (kappa + 1)), rtol=1e-7)
    assert np.isclose(th.rho_gd, th.rho4 + 2 * th.rho_am / (kappa + 1))   # the slides' identity
    # rung (b): ||sum_q E_q|| / sigma_min for AM, GD's own linear part plus eta sigma_max ||sum_q E_q||
    nos = np.linalg.norm(sum(E)) / err
    assert np.isclose(th.rho_am_tight, nos / s[-1], rtol=1e-7)
    G = B.T @ B
    lin = np.linalg.norm(np.eye(36) - th.eta * G, 2)
    assert np.isclose(th.rho_gd_tight, lin + th.eta * s[0] * nos, rtol=1e-7)
    assert th.eta == pytest.approx(2 / (s[0] ** 2 + s[-1] ** 2), rel=1e-9)
    assert th.rho_am_tight <= th.rho_am and th.rho_gd_tight <= th.rho_gd * (1 + 1e-12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(d=st.integers(2, 5), ratio=st.sampled_from([1.5, 3.0, 8.0]), gamma=st.floats(0.05, 4.0),
       scale=st.floats(0.01, 1.5), seed=st.integers(0, 10**6))
def test_three_rho3_forms_against_dense_blocks(d, ratio, gamma, scale, seed):
    """Each form of rho_3 against the E_q blocks of the dense B; the order between them:
    ||sum E_q|| <= sum ||E_q|| <= sqrt(k) sqrt(sum ||E_q||^2), and rss <= sum."""
    p = make_problem(d=d, n=int(ratio * d * d) + 1, gamma=gamma, seed=seed)
    W = p.W_star + scale * np.random.default_rng(seed).standard_normal((d, d))
    _, _, E = dense_terms(p, W)
    err = np.linalg.norm(W - p.W_star)
    r = rho3_forms(p.X, W, p)
    assert r.sum == pytest.approx(sum(np.linalg.norm(e) for e in E) / err, rel=1e-9, abs=1e-15)
    assert r.rss == pytest.approx(np.sqrt(sum(np.linalg.norm(e) ** 2 for e in E)) / err, rel=1e-9, abs=1e-15)
    assert r.norm_of_sum == pytest.approx(np.linalg.norm(sum(E)) / err, rel=1e-9, abs=1e-15)
    assert r.norm_of_sum <= r.sum * (1 + 1e-12) and r.rss <= r.sum * (1 + 1e-12)
    assert r.sum <= math.sqrt(d) * r.rss * (1 + 1e-12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(d=st.integers(2, 4), ratio=st.sampled_from([2.0, 5.0]), gamma=st.floats(0.05, 3.0),
       scale=st.floats(0.001, 0.5), mult=st.sampled_from([0.5, 1.0, 1.5]), seed=st.integers(0, 10**6))
def test_tightened_bounds_hold_for_one_step_from_any_point(d, ratio, gamma, scale, mult, seed):
    """Rung (b) is a rigorous one-step bound: one GD step (with its eta) and one exact AM step
    (np.linalg.lstsq) from W never shrink the error by less than the bound promises."""
    p = make_problem(d=d, n=int(ratio * d * d), gamma=gamma, seed=seed)
    W = p.W_star + scale * np.random.default_rng(seed + 1).standard_normal((d, d))
    th = theory(p, W=W, eta=f"{mult}x")
    err = np.linalg.norm(W - p.W_star)
    B, _, _ = dense_terms(p, W)
    r = p.y - B @ vec_cols(W + np.eye(d)) * np.sqrt(p.n)          # y - B vec(W + I), B unnormalized
    W_gd = W + th.eta / p.n * (np.sqrt(p.n) * B.T @ r).reshape(d, d, order="F")
    assert np.linalg.norm(W_gd - p.W_star) <= th.rho_gd_tight * err * (1 + 1e-9) + 1e-12
    S = (p.X @ (W + np.eye(d)) > 0) * p.v_star
    W_am, info = solve_dense(p.X, S, p.y)
    if not info.rank_deficient:
        assert np.linalg.norm(W_am - p.W_star) <= th.rho_am_tight * err * (1 + 1e-9) + 1e-12


def test_bounds_hold_preset_every_step_respects_the_theorems_rates():
    """d = 2, n = 4000, gamma = 0.01, seed 0: the paper's bounds are < 1 (rho_GD ~ 0.91,
    rho_AM ~ 0.49), T_GD/T_AM is a number, and every measured step of both runs contracts by
    at least the theorem's rate (4)/(5) evaluated at W^0."""
    p = make_problem(d=2, n=4000, gamma=0.01, seed=0)
    th = theory(p, eps=1e-8)
    assert 0.9 < th.rho_gd < 0.92 and 0.48 < th.rho_am < 0.5 and th.rho_am < th.rho_gd < 1
    assert not th.vacuous()
    assert isinstance(th.t_ratio_pred, float) and th.t_ratio_pred > 1
    assert th.t_ratio_pred == pytest.approx(math.log(1 / th.rho_am) / math.log(1 / th.rho_gd))
    assert isinstance(th.as_dict()["t_ratio_pred"], float)
    for alg, rho in (("gd", th.rho_gd), ("am", th.rho_am)):
        res = run(p, alg, tol=1e-12)
        assert res.stop_reason == "converged"
        f = contraction_factors(res.history["err"], p.scale)
        assert len(f) and np.all(f <= rho), (alg, f.max(), rho)
    assert th.t_gd == iterations_to(th.rho_gd, th.rel_err0, 1e-8) and math.isfinite(th.t_gd)


def test_vacuous_bounds_are_reported_plainly_never_nan():
    p = make_problem(d=20, n=1700, gamma=2.0, seed=0)
    th = theory(p)
    assert th.rho_gd >= 1 and th.t_ratio_pred is None and math.isinf(th.t_gd)
    why = th.vacuous()
    assert set(why) == {"rho_gd", "rho_am", "rho_gd_tight", "rho_am_tight"}
    assert "vacuous" in why["rho_gd"] and "kappa" in why["rho_gd"] and "fresh samples are off" in why["rho_gd"]
    assert "kappa_inf" in why["rho_gd"] and "towards 1" not in why["rho_gd"].replace("not towards 1", "")
    d = th.as_dict()
    assert d["t_ratio_pred"] is None and d["t_gd"] is None
    assert ">= 1" in d["t_ratio_pred_reason"]
    assert all(not (isinstance(v, float) and (math.isnan(v) or v < 0)) for v in d.values())
    json.dumps(d)


def test_units_and_the_three_forms_at_the_paper_setting():
    """Issue 9: rho_3 (sum) = 0.0312 is 1.28 in the lemmas' N(0, 1) units: above Corollary 1's
    sqrt(0.14) = 0.374; the Lemma-2 form (root-sum-square) is 0.289 in those units: below."""
    p = make_problem(seed=0)
    th = theory(p)
    assert th.rho3_sum == pytest.approx(0.0312, abs=5e-5)
    assert th.rho3_rss == pytest.approx(0.0070, abs=5e-5)
    assert th.rho3_norm_of_sum == pytest.approx(0.0065, abs=5e-5)
    assert th.rho3_unit_scale == pytest.approx(math.sqrt(1700) * th.rho3_sum)
    assert th.rho3_unit_scale > math.sqrt(0.14) > th.rho3_rss_unit_scale
    assert th.rho3_norm_of_sum_unit_scale == pytest.approx(math.sqrt(1700) * th.rho3_norm_of_sum)


def test_local_model_at_the_paper_setting():
    """Rung (c): GD's linear map at B* with the eta used. With the theory step chosen at W^0,
    eta sigma*_max^2 > 2 at W*, so GD cannot converge (it stalls, as the README says); 0.9x
    converges at max|1 - eta sigma*^2| and its count to 1e-8 is within 20% of the run's."""
    p = make_problem(seed=0)
    th = theory(p, eps=1e-8)
    Bs = B_from_slides(p.X, p.U_star, p.v_star) / np.sqrt(p.n)
    ev = np.linalg.eigvalsh(Bs.T @ Bs)
    assert th.sigma_max_star == pytest.approx(np.sqrt(ev[-1]), rel=1e-9)
    assert th.rho_gd_local == pytest.approx(max(abs(1 - th.eta * ev[0]), abs(1 - th.eta * ev[-1])), rel=1e-9)
    assert th.rho_gd_local > 1 and th.t_ratio_local is None
    assert "> 2" in th.reasons["t_gd_local"] and "cannot settle" in th.reasons["t_gd_local"]
    th9 = theory(p, eps=1e-8, eta="0.9x")
    assert th9.eta == pytest.approx(0.9 * th.eta) and th9.rho_gd_local < 1
    gd = run(p, "gd", eta="0.9x", tol=1e-8, iters=5000)
    am = run(p, "am", tol=1e-8)
    assert abs(th9.t_gd_local - gd.n_iter) < 0.2 * gd.n_iter
    assert th9.t_am_local == am.n_iter                          # the e^(3/2) law from AM's exact first step
    assert th9.am_first_factor == pytest.approx(am.history["rel_err"][1] / am.history["rel_err"][0])
    assert isinstance(th9.t_ratio_local, float) and th9.t_ratio_local == th9.t_gd_local / th9.t_am_local


@pytest.mark.parametrize("kw", [dict(d=20, n=1700, gamma=2.0), dict(d=10, n=800, gamma=1.0),
                                dict(d=10, n=3000, gamma=2.0, seed=3), dict(d=12, n=1500, gamma=2.5, seed=2)])
def test_am_is_locally_superlinear_and_lands_once_the_masks_match(kw):
    """The local law behind rung (c): while many ReLUs still disagree, log e_{t+1} against
    log e_t has slope ~3/2 (not 1: AM is superlinear), and a step from an iterate whose masks
    all match the teacher's lands on W* (the least-squares problem is then exact)."""
    p = make_problem(**kw)
    res = run(p, "am", tol=1e-14)
    e, flips = res.history["rel_err"], res.history["flips_teacher"]
    many = np.flatnonzero(flips[:-1] >= 20)
    assert len(many) >= 3
    order = np.polyfit(np.log(e[many]), np.log(e[many + 1]), 1)[0]
    assert 1.3 < order < 1.9, order
    matched = np.flatnonzero(flips[:-1] == 0)
    assert len(matched) and e[matched[0] + 1] < 1e-12


def test_rho3_zero_at_the_start_says_lands_not_vacuous():
    """Issue 9, edge case: d = 2, n = 40, gamma = 0.01: no ReLU disagrees at W^0, so rho_3 = 0,
    every bound < 1, and T_GD/T_AM by the log formula is not a number because rho_AM = 0."""
    th = theory(make_problem(d=2, n=40, gamma=0.01, seed=0))
    assert th.rho3 == 0 and th.rho_am == 0 and th.rho_gd < 1 and not th.vacuous()
    d = th.as_dict()
    assert d["t_ratio_pred"] is None
    why = d["t_ratio_pred_reason"]
    assert "lands on W* in one step" in why and "vacuous" not in why and ">= 1" not in why
    assert th.t_am == 1 and th.t_gd > 1
    assert th.rung("paper").ratio_eps == th.t_gd / th.t_am   # the counts still compare


def test_gamma_zero_has_nothing_to_learn():
    th = theory(make_problem(d=4, n=200, gamma=0.0, seed=0))
    d = th.as_dict()
    assert th.rel_err0 == 0 and th.t_gd == 0 and th.t_am == 0 and not th.vacuous()
    assert d["t_ratio_pred"] is None and "nothing to learn" in d["t_ratio_pred_reason"]
    assert d["am_first_factor"] is None and "no error" in d["am_first_factor_reason"]


def test_underdetermined_kappa_is_infinite_with_a_reason_not_vacuous():
    th = theory(make_problem(d=10, n=50, seed=0))
    assert th.sigma_min == 0 and math.isinf(th.kappa)
    assert "n = 50 < d^2 = 100" in th.vacuous()["rho_am"]
    d = th.as_dict()
    assert d["kappa"] is None and "not a bound" in d["kappa_reason"] and "vacuous" not in d["kappa_reason"]
    assert d["t_am_local"] is None and "null space" in d["t_am_local_reason"]


def test_every_null_in_the_json_has_a_reason():
    for kw in (dict(d=20, n=1700), dict(d=2, n=40, gamma=0.01), dict(d=4, n=200, gamma=0.0),
               dict(d=10, n=50), dict(d=2, n=1, gamma=0.5, seed=9)):
        d = theory(make_problem(**kw)).as_dict()
        missing = [k for k, v in d.items() if v is None and f"{k}_reason" not in d]
        assert not missing, (kw, missing)
        assert all(isinstance(d[f"{k}_reason"], str) and d[f"{k}_reason"] for k, v in d.items() if v is None)
        assert not any(isinstance(v, str) for k, v in d.items() if k.startswith("t_ratio") and
                       not k.endswith("_reason"))


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
    assert th.as_dict()["rho_gd"] is None and "B = 0" in th.as_dict()["rho_gd_reason"]
