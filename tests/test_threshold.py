"""The threshold estimator recovers known thresholds and exponents from synthetic success data."""
import math

import numpy as np
import pytest

from shallowres.threshold import ThresholdFit, fit_exponent, fit_threshold

N = np.array([300, 400, 450, 500, 550, 600, 700, 900])


def logistic(n, n_star, slope):
    return 1 / (1 + np.exp(-slope * (np.log(n) - np.log(n_star))))


def draws(rng, n_star, slope, n=N, m=20):
    return rng.binomial(m, logistic(n, n_star, slope)), [m] * len(n)


def test_recovers_a_known_threshold_and_its_interval_covers_it():
    rng = np.random.default_rng(12)
    covered, estimates = 0, []
    for _ in range(60):
        k, m = draws(rng, 520.0, 8.0)
        f = fit_threshold(N, k, m)
        assert f.status == "fit" and f.low < f.n_star < f.high
        estimates.append(f.n_star)
        covered += f.low <= 520.0 <= f.high
    assert covered >= 51                          # nominal 95%: 57 of 60; 51 leaves room for chance
    assert abs(np.median(estimates) / 520.0 - 1) < 0.03
    assert abs(np.median([fit_threshold(N, *draws(rng, 520.0, 8.0)).slope for _ in range(20)]) / 8.0 - 1) < 0.35


def test_exact_probabilities_give_the_threshold_exactly():
    """With counts that are (nearly) the curve itself, the fit returns the curve's n*."""
    m = 10**6
    k = np.round(m * logistic(N, 512.0, 6.0)).astype(int)
    f = fit_threshold(N, k, [m] * len(N))
    assert f.n_star == pytest.approx(512.0, rel=1e-3)
    assert f.slope == pytest.approx(6.0, rel=1e-2)
    assert f.high / f.low < 1.01


def test_a_sharp_transition_between_grid_points_is_bracketed_by_them():
    """All failures up to 500, all successes from 550 on (separated data): the estimate lies
    between the two and the interval stays near them (Firth's penalty keeps it finite)."""
    k = [0, 0, 0, 0, 20, 20, 20, 20]
    f = fit_threshold(N, k, [20] * 8)
    assert f.status == "fit" and 500 < f.n_star < 550
    assert 450 <= f.low < f.n_star < f.high <= 600


def test_no_success_or_no_failure_has_no_threshold_inside_the_grid():
    above = fit_threshold(N, [0] * 8, [10] * 8)
    assert (above.status, above.n_star, above.low) == ("above", math.inf, 900.0) and not above.bracketed
    below = fit_threshold(N, [10] * 8, [10] * 8)
    assert (below.status, below.n_star, below.high) == ("below", 0.0, 300.0) and not below.bracketed


def test_recovers_a_known_exponent():
    rng = np.random.default_rng(4)
    d = [5, 10, 15, 20, 30, 40, 50]
    fits = []
    for di in d:
        n0 = 0.8 * di**2.4
        grid = n0 * np.array([0.7, 0.85, 0.95, 1.0, 1.05, 1.15, 1.3, 1.6])
        fits.append(fit_threshold(grid, *draws(rng, n0, 12.0, grid)))
    e = fit_exponent(d, fits)
    assert e.low < 2.4 < e.high and abs(e.alpha - 2.4) < 0.05
    assert e.high - e.low < 0.2
    assert e.C == pytest.approx(0.8, rel=0.2)
    assert e.predict(20) == pytest.approx(e.C * 20**e.alpha)


def test_exponent_interval_widens_when_points_scatter_beyond_their_intervals():
    """A kink (n* ~ d^2 then d^3) is not a power law: the error scale grows above 1."""
    d = [5, 10, 20, 40, 80]
    fits = [ThresholdFit(n, n * 0.97, n * 1.03, 10.0, "fit", (), (), ())
            for n in (25.0, 100.0, 400.0, 400.0 * 8, 400.0 * 64)]
    e = fit_exponent(d, fits)
    assert e.scale > 3 and e.low < e.alpha < e.high


def test_bad_inputs_name_the_parameter():
    with pytest.raises(ValueError, match="successes must be in \\[0, trials\\]"):
        fit_threshold([100, 200], [3, 12], [10, 10])
    with pytest.raises(ValueError, match="n must hold positive sample sizes"):
        fit_threshold([0, 200], [1, 2], [10, 10])
    with pytest.raises(ValueError, match="n, successes and trials must be lists of one length >= 2"):
        fit_threshold([100], [1], [10])
    one = fit_threshold(N, [0, 0, 1, 5, 9, 10, 10, 10], [10] * 8)
    with pytest.raises(ValueError, match="needs thresholds bracketed inside the grid at 3 or more values of d"):
        fit_exponent([5, 10], [one, one])
    with pytest.raises(ValueError, match="d and fits must have one length"):
        fit_exponent([5, 10, 20], [one])
