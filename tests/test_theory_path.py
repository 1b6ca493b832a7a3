"""Per-iterate theory along GD and AM runs, the proof-loss chain, and the ladder's helpers."""
import math

import numpy as np
import pytest

from shallowres import make_problem, path_run, run, theory, theory_path
from shallowres.ladder import (
    asymptotic_rate,
    count_ratio,
    first_below,
    iterations_superlinear,
    iterations_to,
    log_rate_ratio,
    measured_rung,
)
from shallowres.linear import masks, signed_masks
from shallowres.proof_loss import proof_losses
from shallowres.spectrum import extreme_singular_values
from shallowres.theory_path import EXCEEDED, HOLDS, LANDED, SKIPPED, VACUOUS, SpectraBudget, path_rung
from tests.reference import B_from_slides

POINT_KEYS = ("sigma_min", "sigma_max", "kappa", "rho3_sum", "rho3_rss", "rho3_norm_of_sum", "rho_gd", "rho_am")


@pytest.mark.parametrize("kw, eta", [(dict(d=20, n=1700, gamma=2.0), "theory"), (dict(d=6, n=300, gamma=1.0), "0.7x"),
                                     (dict(d=2, n=4000, gamma=0.01), "theory")])
def test_iterate_zero_equals_theory_at_the_start(kw, eta):
    p = make_problem(**kw)
    th = theory(p, eta=eta)
    for alg in ("gd", "am"):
        _, path = path_run(p, alg, eta=eta, iters=5, tol=1e-12)
        for k in POINT_KEYS:
            assert getattr(path, k)[0] == getattr(th, k), (alg, k)
        assert path.rho_am_tight[0] == th.rho_am_tight
        if alg == "gd":
            assert path.eta == th.eta and path.rho_gd_tight[0] == th.rho_gd_tight
        else:
            assert path.eta is None and np.isnan(path.rho_gd_tight).all()


def test_spectra_along_the_path_match_fresh_computations():
    """The cached / row-updated B^T B gives the same extreme singular values as a fresh
    dense computation (np.linalg.svd of B built from the slides) at every iterate."""
    p = make_problem(d=5, n=200, gamma=1.5, seed=4)
    res = run(p, "gd", iters=60, tol=1e-12, keep_W=True)
    path = theory_path(p, res)
    assert path.evaluated.all() and path.updates > 0
    for t in range(0, len(res.records), 7):
        B = B_from_slides(p.X, res.records[t].W + np.eye(5), p.v_star) / np.sqrt(p.n)
        s = np.linalg.svd(B, compute_uv=False)
        assert path.sigma_max[t] == pytest.approx(s[0], rel=1e-9)
        assert path.sigma_min[t] == pytest.approx(s[-1], rel=1e-7)


def test_theory_path_needs_every_W_and_agrees_with_path_run():
    p = make_problem(d=4, n=100, gamma=1.0, seed=1)
    with pytest.raises(ValueError, match="keep_W=True"):
        theory_path(p, run(p, "am"))
    res = run(p, "am", keep_W=True)
    a = theory_path(p, res)
    _, b = path_run(p, "am")
    for k in POINT_KEYS + ("err", "rho_am_tight"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))


def test_gd_triangle_terms_rebuild_the_measured_step():
    """e_{t+1} lies between |linear - E-term| and linear + E-term (the triangle inequality),
    and linear + E-term <= the tightened bound (operator norms)."""
    p = make_problem(d=6, n=400, gamma=1.0, seed=0)
    _, path = path_run(p, "gd", iters=200, tol=1e-12)
    f = path.factor
    lin, et = path.linear_term[:-1], path.e_term[:-1]
    assert np.all(f <= (lin + et) * (1 + 1e-9))
    assert np.all(f >= np.abs(lin - et) * (1 - 1e-9))
    assert np.all(lin + et <= path.bound("tight") * (1 + 1e-9))


@pytest.mark.parametrize("alg", ["gd", "am"])
@pytest.mark.parametrize("kw", [dict(d=12, n=700, gamma=1.5), dict(d=8, n=500, gamma=1.0, seed=3),
                                dict(d=5, n=300, gamma=0.5, seed=2, resample=True)])
def test_tightened_bounds_hold_at_every_step(alg, kw):
    kw = dict(kw)
    resample = kw.pop("resample", False)
    p = make_problem(**kw)
    _, path = path_run(p, alg, iters=300 if alg == "gd" else 30, tol=1e-12, resample=resample)
    v = path.verdicts("tight")
    assert not np.any(v == EXCEEDED), np.flatnonzero(v == EXCEEDED)
    assert np.count_nonzero((v == HOLDS) | (v == VACUOUS)) >= 1


def test_bounds_hold_preset_per_step_verdicts():
    """At the bounds-hold preset the AM bound (5) holds at every iterate and every tightened
    bound holds with a value < 1; (4) evaluated at W^t assumes the step retuned to
    2/(sigma_min,t^2 + sigma_max,t^2), while GD keeps W^0's, so near W* it is exceeded by a hair."""
    p = make_problem(d=2, n=4000, gamma=0.01, seed=0)
    _, gd = path_run(p, "gd", tol=1e-12)
    _, am = path_run(p, "am", tol=1e-12)
    assert set(am.verdicts("paper")) <= {HOLDS, LANDED}
    th = theory(p)
    assert set(gd.verdicts(th.rho_gd)) == {HOLDS} and set(am.verdicts(th.rho_am)) <= {HOLDS, LANDED}
    assert set(gd.verdicts("tight")) == {HOLDS} and set(am.verdicts("tight")) <= {HOLDS, LANDED}
    over = gd.verdicts("paper") == EXCEEDED
    assert over.any()
    worst = np.max(gd.factor[over] / gd.bound("paper")[over])
    assert 1 < worst < 1.01
    rung = path_rung(gd, am, 1e-8)
    assert math.isfinite(rung.t_gd) and rung.t_am == 2 and rung.ratio_eps == rung.t_gd / 2


def test_max_spectra_budget_and_skipped_verdicts():
    assert SpectraBudget(100, None).unlimited and SpectraBudget(10, 50).unlimited
    b = SpectraBudget(1000, 12)
    assert b.wants(0, False, 0) and b.wants(500, True, 100)          # t = 0, and cached patterns, always
    assert b.wants(500, False, 8) and not b.wants(500, False, 9)      # new patterns: 3/4 of the budget
    assert len(b.grid) <= 12 - 9 and 1000 in b.grid
    with pytest.raises(ValueError, match="max_spectra"):
        SpectraBudget(1000, 1)
    p = make_problem(d=6, n=300, gamma=1.0, seed=0)
    res, path = path_run(p, "gd", iters=200, tol=1e-12, eta="0.5x", max_spectra=10)
    assert path.evaluated[0] and path.evaluated[-1] and path.spectra_computed <= 11
    assert path.evaluated.sum() > path.spectra_computed or path.cache_hits == 0
    v = path.verdicts("tight")
    assert np.all((v == SKIPPED) == ~path.evaluated[:-1])
    assert np.isnan(path.sigma_min[~path.evaluated]).all()
    assert np.isfinite(path.rho3_sum).all()                    # cheap quantities at every iterate


def test_proof_losses_multiply_to_the_papers_over_the_measured():
    p = make_problem(d=8, n=600, gamma=1.0, seed=1)
    for alg in ("gd", "am"):
        _, path = path_run(p, alg, iters=40, tol=1e-12)
        for t in (0, 1):
            chain = proof_losses(path, t)
            total = np.prod([x.factor for x in chain])
            bound = path.bound("paper")[t]
            assert total == pytest.approx(bound / path.factor[t], rel=1e-9)
            for x in chain:
                if x.key != "proof_eta":            # every step but the last of GD's is an inequality
                    assert x.factor >= 1 - 1e-9, (alg, t, x.key, x.factor)
    with pytest.raises(ValueError, match=r"t must be an integer in \[0, "):
        proof_losses(path, len(path.err))


def test_proof_loss_of_gd_eta():
    """At W^0 with the theory step the proof's eta is GD's (factor 1); with half that step and a
    small E-term, (4) falls below the tightened bound: it is then no bound for the step taken."""
    p = make_problem(d=2, n=4000, gamma=0.01, seed=0)
    _, path = path_run(p, "gd", iters=5)
    assert proof_losses(path, 0)[-1].factor == pytest.approx(1.0, rel=1e-12)
    _, path = path_run(p, "gd", iters=5, eta="0.5x")
    last = proof_losses(path, 0)[-1]
    assert last.key == "proof_eta" and last.factor < 1


def test_ladder_helpers():
    assert iterations_to(0.5, 1.0, 0.25) == 2 and iterations_to(0.0, 1.0, 0.1) == 1
    assert math.isinf(iterations_to(1.0, 1.0, 0.1)) and iterations_to(0.9, 0.1, 0.2) == 0
    assert iterations_superlinear(0.5, 1.5, 0.5, 1e-3) == 4     # 0.177, 0.0372, 0.00358, 1.1e-4
    assert math.isinf(iterations_superlinear(3.0, 1.5, 0.5, 1e-3))
    assert first_below(1.0, np.array([0.5, 0.5, 0.5]), 0.2) == 3
    assert first_below(1.0, np.array([2.0, 0.5]), 0.2, tail=0.5) == 2 + 3
    assert math.isinf(first_below(1.0, np.array([0.9]), 0.1, tail=1.2))
    r, why = log_rate_ratio(0.9, 0.5, 1.0)
    assert r == pytest.approx(math.log(2) / math.log(1 / 0.9)) and why is None
    assert log_rate_ratio(0.9, 0.0, 1.0)[0] is None and "one step" in log_rate_ratio(0.9, 0.0, 1.0)[1]
    assert "nothing to learn" in log_rate_ratio(0.9, 0.5, 0.0)[1]
    assert count_ratio(10.0, 2.0, 1.0, 1e-3) == (5.0, None)
    assert "already within" in count_ratio(0.0, 0.0, 1e-4, 1e-3)[1]


def test_measured_rung_and_finite_termination():
    gd = 0.5 * 0.9 ** np.arange(200.0)
    am = np.array([0.5, 0.1, 1e-3, 1e-15])
    rung = measured_rung(gd, am, 1e-4)
    assert rung.rate_gd == pytest.approx(0.9) and rung.rate_am == 0.0
    assert rung.t_gd == 81 and rung.t_am == 3 and rung.ratio_eps == 27
    assert rung.ratio_log is None and "landed on W* at t = 3" in rung.reasons["ratio_log"]
    # landing read from the masks: AM's solver leaves 1e-11, not round-off
    am2 = np.array([0.5, 0.1, 1e-3, 1e-11])
    assert asymptotic_rate(am2)[0] > 0
    assert asymptotic_rate(am2, flips=np.array([900, 80, 0, 0]))[0] == 0.0
    assert asymptotic_rate(np.array([0.0]))[0] is None
    r = measured_rung(gd, gd[:3], 1e-4, stop_am="max_iters")
    assert r.t_am == math.inf and "did not reach" in r.reasons["t_am"] and r.ratio_eps is None


def test_eta_of_the_path_is_the_solvers():
    """The recorder recomputes GD's theory step at W^0 exactly as the solver does."""
    from shallowres.solvers import theory_eta

    p = make_problem(d=5, n=200, gamma=1.0, seed=0)
    _, path = path_run(p, "gd", iters=3, eta="0.7x")
    S = signed_masks(masks(p.X, np.eye(5)), p.v_star)
    assert path.eta == 0.7 * theory_eta(p.X, S)
    lo, hi = extreme_singular_values(p.X, S)
    assert path.eta == pytest.approx(0.7 * 2 / (lo * lo + hi * hi), rel=1e-12)


def test_path_run_refuses_past_the_memory_budget():
    from shallowres import MemoryBudgetError
    from shallowres.validation import MB

    p = make_problem(d=30, n=2000, gamma=1.0, seed=0)
    with pytest.raises(MemoryBudgetError, match="theory at every iterate"):
        path_run(p, "gd", iters=10, memory_budget=40 * MB)     # the run alone needs ~28 MB, with theory ~56
