"""Where recovery becomes likely: the 50% threshold n* from success counts, and the
exponent alpha in n* ~ C d^alpha.

Threshold (:func:`fit_threshold`). At sample sizes n_j, k_j of m_j trials
succeeded. The model is a logistic curve in log n,

    P(success | n) = 1 / (1 + exp(-b (log n - log n*))),      b >= 0,

fitted by maximum likelihood with Firth's penalty (the Jeffreys prior,
+ 1/2 log det of the Fisher information of (a, b), a = -b log n*), which keeps
the estimate finite when the data separate (all failures below some n, all
successes above), as a sharp transition on a coarse grid does. The 95% interval
for n* is the profile-likelihood interval: the log n* whose best fit (over b)
lies within chi^2_1(0.95)/2 = 1.92 of the maximum. A cell group with no success
(or no failure) at all has no threshold inside the grid: status "above" ("below").

Exponent (:func:`fit_exponent`). log n*(d) = log C + alpha log d, fitted by
weighted least squares (``scipy.optimize.curve_fit``), each point weighted by
1/s^2 with s = (log high - log low) / (2 * 1.96) from its interval. If the points
scatter more than their intervals allow (reduced chi^2 > 1), the standard error
is scaled by sqrt(reduced chi^2) (Birge ratio); the interval uses Student's t
with (points - 2) degrees of freedom.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

LEVEL = 0.95
_CUT = stats.chi2.ppf(LEVEL, 1) / 2          # 1.92: profile drop for a 95% interval
T_RANGE = (-3.0, 3.0)      # threshold searched within 3 grid spans of the grid's centre (in log n)
LOG_SLOPE = (-8.0, 8.0)    # log of the slope per grid span


@dataclass(frozen=True)
class ThresholdFit:
    """n* with P(success | n*) = 1/2, and its 95% profile-likelihood interval.

    status: "fit" (an estimate; ``low``/``high`` may be 0 or inf when the interval
    reaches past the searched range), "above" (no success anywhere: n* > max n),
    "below" (no failure anywhere: n* < min n). ``slope``: b, per unit of log n.
    """

    n_star: float
    low: float
    high: float
    slope: float
    status: str
    n: tuple[int, ...]
    successes: tuple[int, ...]
    trials: tuple[int, ...]

    @property
    def bracketed(self) -> bool:
        """A finite estimate with a finite, positive interval."""
        return self.status == "fit" and 0 < self.low and math.isfinite(self.high)


def _counts(n, successes, trials):
    n = np.asarray(n, dtype=float)
    k = np.asarray(successes, dtype=float)
    m = np.asarray(trials, dtype=float)
    if n.ndim != 1 or not (len(n) == len(k) == len(m)) or len(n) < 2:
        raise ValueError(f"n, successes and trials must be lists of one length >= 2; got "
                         f"{np.shape(n)}, {np.shape(k)}, {np.shape(m)}")
    if np.any(n <= 0) or not np.all(np.isfinite(n)):
        raise ValueError(f"n must hold positive sample sizes; got {n.tolist()}")
    if np.any(m < 1) or np.any(k < 0) or np.any(k > m):
        raise ValueError("successes must be in [0, trials] and trials >= 1 at every n; got "
                         f"{k.tolist()} of {m.tolist()}")
    return np.log(n), k, m


def _penalized_nll(a: float, b: float, x: np.ndarray, k: np.ndarray, m: np.ndarray) -> float:
    """- (log likelihood + 1/2 log det I(a, b)) of the grouped logistic model a + b x."""
    eta = a + b * x
    # log p = -log(1 + e^-eta), log (1 - p) = -log(1 + e^eta), computed stably
    ll = np.sum(-k * np.logaddexp(0.0, -eta) - (m - k) * np.logaddexp(0.0, eta))
    p = 0.5 * (1 + np.tanh(eta / 2))
    w = m * p * (1 - p)
    det = np.sum(w) * np.sum(w * x * x) - np.sum(w * x) ** 2
    return float(-(ll + 0.5 * math.log(max(det, 1e-300))))


def fit_threshold(n: Sequence[float], successes: Sequence[int], trials: Sequence[int]) -> ThresholdFit:
    """The 50% threshold n* of a logistic curve in log n (module doc), with its 95% interval.

    ``n``: sample sizes (>= 2 distinct); ``successes``, ``trials``: counts at each.
    Raises ValueError for impossible counts.
    """
    x, k, m = _counts(n, successes, trials)
    order = np.argsort(x)
    x, k, m = x[order], k[order], m[order]
    n_sorted = np.asarray(n, dtype=float)[order]
    meta = (tuple(int(round(v)) for v in n_sorted), tuple(int(v) for v in k), tuple(int(v) for v in m))
    if k.sum() == 0:
        return ThresholdFit(math.inf, float(n_sorted[-1]), math.inf, 0.0, "above", *meta)
    if k.sum() == m.sum():
        return ThresholdFit(0.0, 0.0, float(n_sorted[0]), 0.0, "below", *meta)
    mid, span = x.mean(), max(x[-1] - x[0], 1e-6)
    xc = (x - mid) / span                         # centred and scaled: t and log b of order 1

    def nll(t: float, lb: float) -> float:       # threshold t (scaled units), slope b = e^lb > 0
        b = math.exp(lb)
        return _penalized_nll(-b * t, b, xc, k, m)

    def profile(t: float) -> float:
        r = optimize.minimize_scalar(lambda lb: nll(t, lb), bounds=LOG_SLOPE, method="bounded",
                                     options={"xatol": 1e-6})
        return float(r.fun)

    # start where the observed success rate crosses 1/2, then the joint maximum over (t, log b)
    rate = k / m
    t0 = float(np.interp(0.5, np.maximum.accumulate(rate), xc)) if rate.max() > 0.5 else float(xc[-1])
    starts = [(t0, math.log(4.0)), (t0, math.log(20.0)), (0.0, 0.0)]
    best_fit = min((optimize.minimize(lambda v: nll(*v), s0, method="Nelder-Mead", bounds=[T_RANGE, LOG_SLOPE],
                                      options={"xatol": 1e-7, "fatol": 1e-10})
                    for s0 in starts), key=lambda r: r.fun)
    t_hat, lb_hat = (float(v) for v in best_fit.x)
    best = min(float(best_fit.fun), profile(t_hat))

    def excess(t: float) -> float:
        return profile(t) - best - _CUT

    low = high = None
    if excess(T_RANGE[0]) > 0:
        low = optimize.brentq(excess, T_RANGE[0], t_hat, xtol=1e-6)
    if excess(T_RANGE[1]) > 0:
        high = optimize.brentq(excess, t_hat, T_RANGE[1], xtol=1e-6)
    back = lambda t: float(np.exp(mid + t * span))
    return ThresholdFit(back(t_hat), back(low) if low is not None else 0.0,
                        back(high) if high is not None else math.inf, float(math.exp(lb_hat) / span), "fit", *meta)


@dataclass(frozen=True)
class ExponentFit:
    """n* ~ C d^alpha over the dimensions with a bracketed threshold.

    ``low``, ``high``: the 95% interval of alpha; ``scale``: the factor applied to the
    standard error (sqrt of the reduced chi^2 when above 1, else 1).
    """

    alpha: float
    low: float
    high: float
    C: float
    scale: float
    d: tuple[float, ...]
    n_star: tuple[float, ...]

    def predict(self, d) -> np.ndarray:
        return self.C * np.asarray(d, dtype=float) ** self.alpha


def fit_exponent(d: Sequence[float], fits: Sequence[ThresholdFit]) -> ExponentFit:
    """alpha and C in n*(d) = C d^alpha (module doc), from thresholds with intervals.

    Uses the ``fits`` that are bracketed; needs three of them at distinct d.
    Raises ValueError otherwise.
    """
    if len(d) != len(fits):
        raise ValueError(f"d and fits must have one length; got {len(d)} and {len(fits)}")
    keep = [(float(di), f) for di, f in zip(d, fits, strict=True) if f.bracketed]
    if len({di for di, _ in keep}) < 3:
        raise ValueError(f"fit_exponent needs thresholds bracketed inside the grid at 3 or more values of d; "
                         f"got {len(keep)}")
    z = stats.norm.ppf(0.5 + LEVEL / 2)
    x = np.log([di for di, _ in keep])
    y = np.log([f.n_star for _, f in keep])
    s = np.array([(math.log(f.high) - math.log(f.low)) / (2 * z) for _, f in keep])
    s = np.maximum(s, 1e-6)
    (c, alpha), cov = optimize.curve_fit(lambda x, c, a: c + a * x, x, y, p0=(0.0, 2.0), sigma=s,
                                         absolute_sigma=True)
    dof = len(x) - 2
    chi2 = float(np.sum(((y - c - alpha * x) / s) ** 2))
    scale = math.sqrt(max(1.0, chi2 / dof)) if dof > 0 else 1.0
    se = math.sqrt(cov[1, 1]) * scale
    q = stats.t.ppf(0.5 + LEVEL / 2, dof) if dof > 0 else math.inf
    return ExponentFit(float(alpha), float(alpha - q * se), float(alpha + q * se), float(math.exp(c)), scale,
                       tuple(float(v) for v in np.exp(x)), tuple(float(v) for v in np.exp(y)))
