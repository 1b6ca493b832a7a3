"""Predicted iteration counts T_GD, T_AM and their ratio, rung by rung, from worst case to sharp.

A rung is a pair of per-step rates (GD, AM) and what it assumes. From a relative start
error e_0 = ||W^0 - W*||_F / ||W* + I||_F and a target eps it predicts

    T = ceil(log(e_0 / eps) / log(1 / rho))           (a constant rate rho < 1; slides, "Comparison")
    T_GD / T_AM = log(1 / rho_AM) / log(1 / rho_GD)   (the slides' ratio of log-rates: eps-free)
    T_GD(eps) / T_AM(eps)                             (the ratio of the counts: like for like with a run)

Every prediction is a number or None, and each None comes with a sentence saying why
(``Rung.reasons``). The rungs themselves are assembled by ``theory.theory`` (at one point),
``theory_path.path_rung`` (along a run) and :func:`measured_rung` (from the runs).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

FLOOR = 1e-13         # relative errors below this are round-off: the iterate has landed on W*
SUPERLINEAR_CAP = 10_000


def iterations_to(rho: float, start: float, target: float) -> float:
    """Smallest T with rho^T start <= target: ceil(log(start/target) / log(1/rho)).

    0 when start <= target; inf when rho >= 1 (no contraction promised); 1 when rho = 0
    (one step lands on W*).
    """
    if start <= target:
        return 0.0
    if not rho < 1:
        return math.inf
    if rho <= 0:
        return 1.0
    return float(math.ceil(math.log(start / target) / math.log(1 / rho)))


def iterations_superlinear(c: float, order: float, start: float, target: float,
                           cap: int = SUPERLINEAR_CAP) -> float:
    """Steps of e <- c e^order from ``start`` until e <= target (inf if it stops shrinking).

    The local law of AM near W* (order 3/2, see ``theory``): c = 0 lands in one step.
    """
    if start <= target:
        return 0.0
    e = start
    for t in range(1, cap + 1):
        nxt = c * e**order
        if nxt <= target:
            return float(t)
        if not nxt < e:
            return math.inf
        e = nxt
    return math.inf


def first_below(start: float, factors: np.ndarray, target: float, tail: float | None = None) -> float:
    """First T with start * prod_{t<T} factors[t] <= target; after the last factor, ``tail``
    (a rate assumed to continue) or, if None, no further steps. inf if never."""
    if start <= target:
        return 0.0
    f = np.asarray(factors, dtype=float)
    with np.errstate(divide="ignore"):
        logs = np.log(start) + np.cumsum(np.log(f))
    hit = np.flatnonzero(logs <= math.log(target)) if len(f) else np.empty(0, dtype=int)
    if len(hit):
        return float(hit[0] + 1)
    if tail is None or not tail < 1 or not np.isfinite(logs[-1] if len(f) else start):
        return math.inf
    last = float(np.exp(logs[-1])) if len(f) else start
    return float(len(f) + iterations_to(tail, last, target))


def _name(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x:.3g}"


def log_rate_ratio(rho_gd: float, rho_am: float, start: float,
                   names: tuple[str, str] = ("rho_GD", "rho_AM")) -> tuple[float | None, str | None]:
    """(log(1/rho_AM) / log(1/rho_GD), None) or (None, why it is not a number)."""
    g, a = names
    if start == 0:
        return None, "W^0 = W*: there is nothing to learn, so no iteration counts to compare"
    if not rho_gd < 1 and not rho_am < 1:
        return None, f"{g} = {_name(rho_gd)} and {a} = {_name(rho_am)} are >= 1: neither promises a contraction"
    if not rho_gd < 1:
        return None, f"{g} = {_name(rho_gd)} >= 1 promises no contraction for GD"
    if not rho_am < 1:
        return None, f"{a} = {_name(rho_am)} >= 1 promises no contraction for AM"
    if rho_am <= 0:
        return None, (f"{a} = 0: AM lands on W* in one step (no ReLU disagrees with the teacher), so "
                      f"log(1/{a}) is infinite and the ratio of log-rates unbounded; compare the counts at eps")
    if rho_gd <= 0:
        return None, f"{g} = 0: GD lands on W* in one step, so log(1/{g}) is infinite"
    return math.log(1 / rho_am) / math.log(1 / rho_gd), None


def count_ratio(t_gd: float, t_am: float, start: float, eps: float) -> tuple[float | None, str | None]:
    """(T_GD(eps) / T_AM(eps), None) or (None, why not)."""
    if start <= eps:
        return None, f"the start is already within eps = {eps:g} (relative error {start:.3g}): no iterations needed"
    if math.isinf(t_gd) and math.isinf(t_am):
        return None, "neither count is finite"
    if math.isinf(t_gd):
        return None, f"GD's count to eps = {eps:g} is not finite on this rung"
    if math.isinf(t_am):
        return None, f"AM's count to eps = {eps:g} is not finite on this rung"
    return t_gd / t_am, None


@dataclass(frozen=True)
class Rung:
    """One rung of the ladder: rates, predicted counts to eps and the two ratios.

    ``rate_gd``/``rate_am`` are per-step contraction factors (None where a rung has no single
    rate, e.g. a product along a path); ``t_gd``/``t_am`` iterations to eps (inf: never);
    ``ratio_log`` the ratio of log-rates, ``ratio_eps`` the ratio of the counts.
    ``reasons`` maps each of these that is None (or inf) to a sentence.
    """

    key: str
    label: str
    assumes: str
    rate_gd: float | None
    rate_am: float | None
    t_gd: float
    t_am: float
    ratio_log: float | None
    ratio_eps: float | None
    reasons: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        out = {}
        for k in ("key", "label", "assumes", "rate_gd", "rate_am", "t_gd", "t_am", "ratio_log", "ratio_eps"):
            v = getattr(self, k)
            out[k] = None if isinstance(v, float) and not math.isfinite(v) else v
        out["reasons"] = dict(self.reasons)
        return out


def constant_rung(key: str, label: str, assumes: str, rho_gd: float, rho_am: float, start: float,
                  eps: float, names: tuple[str, str] = ("rho_GD", "rho_AM")) -> Rung:
    """A rung whose rates hold at every step (the theorem's form)."""
    t_gd, t_am = iterations_to(rho_gd, start, eps), iterations_to(rho_am, start, eps)
    ratio_log, why_log = log_rate_ratio(rho_gd, rho_am, start, names)
    ratio_eps, why_eps = count_ratio(t_gd, t_am, start, eps)
    reasons = {}
    if why_log:
        reasons["ratio_log"] = why_log
    if why_eps:
        reasons["ratio_eps"] = why_eps
    for alg, rho, t, nm in (("gd", rho_gd, t_gd, names[0]), ("am", rho_am, t_am, names[1])):
        if math.isinf(t):
            reasons[f"t_{alg}"] = f"{nm} = {_name(rho)} >= 1: the bound never reaches eps"
    return Rung(key, label, assumes, rho_gd, rho_am, t_gd, t_am, ratio_log, ratio_eps, reasons)


def asymptotic_rate(rel_err: np.ndarray, flips: np.ndarray | None = None,
                    tail: float = 0.25) -> tuple[float | None, str]:
    """A run's asymptotic contraction per step and how it was read off.

    0.0 when the run landed on W*: its relative error fell below FLOOR, or (given ``flips``,
    the history of ReLU states mismatched with the teacher) a step from an iterate whose masks
    all matched the teacher's cut the error a millionfold, the exact least-squares landing of
    AM up to its solver's accuracy. Otherwise the geometric mean of the factors over the last
    ``tail`` of the steps taken. None when there is no step.
    """
    e = np.asarray(rel_err, dtype=float)
    if len(e) < 2:
        return None, "no step was taken"
    if e[0] <= FLOOR:
        return None, "W^0 = W*: no step was needed"
    landed = list(np.flatnonzero(e <= FLOOR))
    if flips is not None:
        f = np.asarray(flips)[:len(e) - 1]
        landed += [int(t) + 1 for t in np.flatnonzero((f == 0) & (e[1:] <= 1e-6 * e[:-1]))]
    if landed:
        t = min(landed)
        return 0.0, f"landed on W* at t = {t} (relative error {e[t]:.1e})"
    k = min(max(1, int(math.ceil(tail * (len(e) - 1)))), len(e) - 1)
    f = e[-k:] / e[-k - 1:-1]
    return float(np.exp(np.mean(np.log(f)))), ("the last step" if k == 1 else f"geometric mean of the last {k} steps")


def iterations_to_eps(rel_err: np.ndarray, eps: float) -> int | None:
    """First t with rel_err[t] < eps, or None if never reached."""
    hit = np.flatnonzero(np.asarray(rel_err) < eps)
    return int(hit[0]) if len(hit) else None


def measured_rung(rel_gd: np.ndarray, rel_am: np.ndarray, eps: float, stop_gd: str = "", stop_am: str = "",
                  flips_gd: np.ndarray | None = None, flips_am: np.ndarray | None = None) -> Rung:
    """Rung (d): the runs themselves. Counts: first t with rel_err < eps. ratio_log: the ratio
    of the asymptotic log-rates (:func:`asymptotic_rate`, ``flips_*`` the runs' flips_teacher
    histories); rates: those asymptotic rates."""
    reasons = {}
    t = {}
    for alg, rel, stop in (("gd", rel_gd, stop_gd), ("am", rel_am, stop_am)):
        hit = iterations_to_eps(rel, eps)
        t[alg] = math.inf if hit is None else float(hit)
        if hit is None:
            reasons[f"t_{alg}"] = (f"{alg.upper()} did not reach eps = {eps:g} in {len(rel) - 1} iterations"
                                   + (f" (stopped: {stop.replace('_', ' ')})" if stop else ""))
    r_gd, how_gd = asymptotic_rate(rel_gd, flips_gd)
    r_am, how_am = asymptotic_rate(rel_am, flips_am)
    start = float(rel_gd[0]) if len(rel_gd) else 0.0
    if r_gd is None or r_am is None:
        ratio_log, why = None, "a run took no step: " + (how_gd if r_gd is None else how_am)
    elif r_am == 0 and r_gd > 0:
        ratio_log, why = None, (f"AM {how_am}: its asymptotic rate is 0, so the ratio of log-rates is "
                                f"unbounded and T_GD/T_AM grows with log(1/eps)")
    else:
        ratio_log, why = log_rate_ratio(r_gd, r_am, start, ("GD's measured rate", "AM's measured rate"))
    if why:
        reasons["ratio_log"] = why
    ratio_eps, why_eps = count_ratio(t["gd"], t["am"], start, eps)
    if why_eps:
        reasons["ratio_eps"] = why_eps
    reasons["rate_gd_how"] = how_gd
    reasons["rate_am_how"] = how_am
    return Rung("measured", "(d) measured", "nothing: GD and AM run on this problem", r_gd, r_am,
                t["gd"], t["am"], ratio_log, ratio_eps, reasons)
