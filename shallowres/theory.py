"""Theory quantities of the paper at a point W, and their empirical counterparts.

Slides, "Guarantees" (B = B^t built at W, sigma = singular values of B/sqrt(n),
E_q = v_q (P_q - P*_q) X u*_q / sqrt(n), the part of (B - B*) vec(W* + I)/sqrt(n) from neuron q):

    kappa   = sigma_max^2 / sigma_min^2
    rho_4   = (kappa - 1) / (kappa + 1)                                           (Lemma 1)
    rho_3   : sum_q ||E_q|| <= rho_3 ||W - W*||_F                                 (Lemma 2)
    rho_GD  = (kappa - 1)/(kappa + 1) + 2 kappa rho_3 / (sigma_max (kappa + 1))   (4)
    rho_AM  = kappa rho_3 / sigma_max                                             (5)
    T_GD / T_AM = log(1/rho_AM) / log(1/rho_GD)

Three forms of rho_3, each divided by ||W - W*||_F: ``rho3_sum`` = sum_q ||E_q|| (what the
proof writes), ``rho3_rss`` = sqrt(sum_q ||E_q||^2) (what Lemma 2 and Corollary 1 bound,
rho_3^2 < 0.14), ``rho3_norm_of_sum`` = ||sum_q E_q|| (all the proof step needs:
||sum_q E_q|| <= sum_q ||E_q|| <= sqrt(k) sqrt(sum_q ||E_q||^2)). Our inputs are N(0, 1/n)
while the lemmas assume N(0, 1): rho_3 and sigma scale by sqrt(n) (``*_unit_scale``),
kappa and rho_AM are scale-free.

The proof tightened (rung (b)), for the step eta GD actually uses:

    GD: max(|1 - eta sigma_min^2|, |1 - eta sigma_max^2|) + eta sigma_max ||sum_q E_q|| / ||W - W*||_F
    AM: ||sum_q E_q|| / (sigma_min ||W - W*||_F)      (||(B^T B)^{-1} B^T|| = 1/sigma_min(B) exactly)

Both are rigorous one-step bounds at W (noiseless labels); (4) equals the GD one only when
eta = 2/(sigma_min^2 + sigma_max^2) at W and the E-term uses sum_q ||E_q||.

The local model near W* (rung (c)): once GD's masks equal the teacher's, GD is the linear
map I - eta B*^T B*/n, of rate max|1 - eta sigma*^2|. AM's step is
W' - W* = (B^T B)^{-1} B^T (B* - B) vec(W* + I): zero once the masks match (AM lands), and
before that its E-term shrinks like e^{3/2} (the mismatched samples' mass and their margins
both shrink with the error e), so AM is locally superlinear: e_{t+1} ~ c e_t^{3/2}, c read off
AM's exact first step from W.

Lemma 1 terms: sigma_1 >= ... >= sigma_k of W* + I, kappa_w = sigma_1/sigma_k,
lambda = prod_q sigma_q / sigma_k^k. Assumption 1: gamma <= delta sqrt(d)/(1 + delta).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from .budget import DENSE_SPECTRUM_MAX_COLS
from .ladder import FLOOR, Rung, constant_rung, count_ratio, iterations_superlinear, iterations_to
from .linear import masks, rank_loss, signed_masks
from .lsq import solve_am_step
from .population import kappa_population, population_spectrum, rho3_population
from .problem import Problem, initial_point
from .solvers import parse_eta, plan_run, theory_eta
from .spectrum import extreme_singular_values
from .threads import blas_limit
from .validation import GB, check

__all__ = ["Rho3", "Theory", "theory", "rho3_at", "rho3_forms", "E_sum", "iterations_to", "lemma1_terms",
           "local_gd_rate", "gd_linear_rate", "AM_LOCAL_ORDER", "contraction_factors", "geometric_mean",
           "iterations_to_eps", "Empirical", "empirical", "empirical_ratio"]

AM_LOCAL_ORDER = 1.5          # e_{t+1} ~ c e_t^{3/2} for AM near W* (module doc)
RHO3_COROLLARY = math.sqrt(0.14)


@dataclass(frozen=True)
class Rho3:
    """The three forms of rho_3 at W (each over ||W - W*||_F; 0 at W = W*), in our units."""

    sum: float            # sum_q ||E_q||                       (the proof as written)
    rss: float            # sqrt(sum_q ||E_q||^2)               (Lemma 2, Corollary 1)
    norm_of_sum: float    # ||sum_q E_q||                       (what the proof step needs)


def E_sum(X: np.ndarray, U: np.ndarray, U_star: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(||E_q|| for each q, the n-vector sum_q E_q) with
    E_q = v_q (1{X u_q > 0} - 1{X u*_q > 0}) * (X u*_q) / sqrt(n), so that
    sum_q E_q = (B - B*) vec(U*) / sqrt(n) (B at U, B* at U*). Shapes (d,), (n,)."""
    n = X.shape[0]
    Z_star = X @ U_star
    diff = masks(X, U).astype(float) - (Z_star > 0)
    contrib = diff * Z_star
    norms = np.sqrt(np.einsum("iq,iq->q", contrib, contrib) / n)
    return norms, contrib @ v / math.sqrt(n)


def rho3_forms(X: np.ndarray, W: np.ndarray, problem: Problem) -> Rho3:
    """The three forms of rho_3 at W on inputs X (Lemma 2: ||E_q||^2 =
    (1/n) sum_i (x_i . u*_q)^2 1{x_i . u_q and x_i . u*_q on different sides of 0})."""
    err = float(np.linalg.norm(W - problem.W_star))
    if err == 0:
        return Rho3(0.0, 0.0, 0.0)
    norms, s = E_sum(X, W + np.eye(problem.d), problem.U_star, problem.v_star)
    return Rho3(float(norms.sum() / err), float(np.linalg.norm(norms) / err), float(np.linalg.norm(s) / err))


def rho3_at(X: np.ndarray, W: np.ndarray, problem: Problem) -> float:
    """Measured rho_3 = sum_q ||E_q|| / ||W - W*||_F (the form the package has always reported)."""
    return rho3_forms(X, W, problem).sum


def gd_linear_rate(eta: float, sigma_min: float, sigma_max: float) -> float:
    """||I - eta B^T B / n|| = max(|1 - eta sigma_min^2|, |1 - eta sigma_max^2|) (the linear part
    of GD's step with the step eta it uses; (kappa-1)/(kappa+1) at eta = 2/(sigma_min^2 + sigma_max^2))."""
    return max(abs(1 - eta * sigma_min**2), abs(1 - eta * sigma_max**2))


def local_gd_rate(eta: float, sigma_min_star: float, sigma_max_star: float) -> float:
    """GD's exact asymptotic rate near W*: the linear map I - eta B*^T B*/n (masks = teacher's)."""
    return gd_linear_rate(eta, sigma_min_star, sigma_max_star)


def iterations_to_eps(rel_err: np.ndarray, eps: float) -> int | None:
    """First t with rel_err[t] < eps, or None if never reached."""
    hit = np.flatnonzero(np.asarray(rel_err) < eps)
    return int(hit[0]) if len(hit) else None


def assumption1_gamma_max(d: int, delta: float) -> float:
    """The largest teacher size Assumption 1 allows, gamma <= delta sqrt(d) / (1 + delta): then the
    identity start W^0 = 0 lies in Theorem 1's delta-ball (||W*||_F <= delta ||W* + I||_F)."""
    return delta * math.sqrt(d) / (1 + delta)


def lemma1_terms(U_star: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(singular values of W* + I, kappa_w, log10 lambda), lambda = prod sigma_q / sigma_k^k."""
    s = np.linalg.svd(U_star, compute_uv=False)
    if s[-1] <= 0:
        return s, math.inf, math.inf
    return s, float(s[0] / s[-1]), float(np.sum(np.log10(s)) - len(s) * np.log10(s[-1]))


def _paper_rates(lo: float, hi: float, rho3: float) -> tuple[float, float, float, float]:
    """(kappa, rho_4, rho_GD (4), rho_AM (5)) from sigma_min, sigma_max and rho_3 (sum form)."""
    if hi == 0:       # B = 0: no neuron is active on any sample, nothing contracts
        return math.inf, 1.0, math.inf, math.inf
    if lo == 0:
        return math.inf, 1.0, 1.0 + 2 * rho3 / hi, math.inf
    kappa = hi * hi / (lo * lo)
    rho4 = (kappa - 1) / (kappa + 1)
    rho_am = kappa * rho3 / hi
    return kappa, rho4, rho4 + 2 * rho_am / (kappa + 1), rho_am


def tight_rates(eta: float, lo: float, hi: float, rho3_norm_of_sum: float) -> tuple[float, float]:
    """Rung (b) at one point: (GD, AM) one-step bounds of the tightened proof (module doc)."""
    if hi == 0:
        return math.inf, math.inf
    gd = gd_linear_rate(eta, lo, hi) + eta * hi * rho3_norm_of_sum
    am = rho3_norm_of_sum / lo if lo > 0 else math.inf
    return gd, am


@dataclass(frozen=True)
class Theory:
    """The paper's quantities for one problem at one point W (see module doc).

    Units: sigma_* are singular values of our B/sqrt(n) (inputs N(0, 1/n)); ``*_unit_scale``
    and ``*_inf_unit`` are in the lemmas' N(0, 1) units (times sqrt(n)); kappa, rho_GD, rho_AM
    and every rate are scale-free. rel_err0 = ||W - W*||_F / ||W* + I||_F; t_* are iterations
    to rel_err < eps (inf: never). ``reasons`` says why each None/inf prediction is not a number.
    """

    d: int
    n: int
    gamma: float
    delta: float
    sigma_min: float
    sigma_max: float
    kappa: float
    rho3: float
    rho4: float
    rho_gd: float
    rho_am: float
    rho_am_tight: float
    rel_err0: float
    eps: float
    t_gd: float                 # rung (a): predicted iterations to rel_err < eps (inf: never)
    t_am: float
    t_am_tight: float
    t_ratio_pred: float | None  # log(1/rho_AM) / log(1/rho_GD); None (with a reason) otherwise
    singular_values_U_star: np.ndarray = field(repr=False)
    kappa_w: float = 1.0
    log10_lambda: float = 0.0
    assumption1_bound: float = 0.0
    assumption1_holds: bool = False
    balance_ratio: float = 1.0
    n_over_d2: float = 0.0
    resample: bool = False
    noise: float = 0.0
    # the three forms of rho_3, and the lemmas' units
    rho3_sum: float = 0.0
    rho3_rss: float = 0.0
    rho3_norm_of_sum: float = 0.0
    rho3_unit_scale: float = 0.0
    rho3_rss_unit_scale: float = 0.0
    rho3_norm_of_sum_unit_scale: float = 0.0
    # rung (b): the proof tightened, for the step GD uses
    eta: float = 0.0
    eta_setting: str = "theory"
    rho_gd_tight: float = math.inf
    t_gd_tight: float = math.inf
    t_ratio_pred_tight: float | None = None
    # rung (c): the local model near W*
    sigma_min_star: float = 0.0
    sigma_max_star: float = 0.0
    kappa_star: float = math.inf
    rho_gd_local: float = math.inf
    am_first_factor: float | None = None     # ||W^1 - W*|| / ||W^0 - W*|| of AM's exact first step
    am_local_constant: float | None = None   # c in rel_{t+1} = c rel_t^{3/2}
    t_gd_local: float = math.inf
    t_am_local: float = math.inf
    t_ratio_local: float | None = None       # T_GD(eps) / T_AM(eps) of the local model
    # population limit n -> infinity (closed form), at W and at W*
    kappa_inf: float | None = None
    kappa_inf_star: float | None = None
    sigma_min_inf_unit: float | None = None
    sigma_max_inf_unit: float | None = None
    rho3_inf_unit: float | None = None       # sum form, N(0, 1) units
    rho3_rss_inf_unit: float | None = None
    rho_gd_inf: float | None = None
    rho_am_inf: float | None = None
    rungs: tuple[Rung, ...] = field(default=(), repr=False)
    reasons: dict[str, str] = field(default_factory=dict, repr=False)
    # why B (at W) and B* (at W*) lack full rank, when they do (linear.rank_loss)
    rank_causes: tuple[str, ...] = ()
    rank_causes_star: tuple[str, ...] = ()

    @property
    def lam(self) -> float:
        """lambda = prod_q sigma_q / sigma_k^k (inf when it overflows)."""
        return 10.0**self.log10_lambda if self.log10_lambda < 300 else math.inf

    def rung(self, key: str) -> Rung:
        """The ladder rung ``paper``, ``tight`` or ``local``."""
        return next(r for r in self.rungs if r.key == key)

    def vacuous(self) -> dict[str, str]:
        """For each bound >= 1, a plain sentence on why it promises nothing here."""
        out = {}
        causes = self.causes()
        for key, name, rho in (("rho_gd", "rho_GD (4)", self.rho_gd), ("rho_am", "rho_AM (5)", self.rho_am),
                               ("rho_gd_tight", "the tightened GD bound", self.rho_gd_tight),
                               ("rho_am_tight", "the tightened AM bound", self.rho_am_tight)):
            if not rho < 1:
                val = "infinite" if math.isinf(rho) else f"{rho:.3g}"
                out[key] = f"{name} = {val} >= 1, so the bound is vacuous: " + "; ".join(causes) + "."
        return out

    def causes(self) -> list[str]:
        """Why the worst-case bounds may be loose or vacuous at these settings."""
        c = []
        if self.sigma_max == 0:
            c.append("B = 0: no ReLU is active on any training sample at this point, so the "
                     "gradient vanishes and AM's least-squares problem is empty")
        elif self.sigma_min == 0:
            c.extend(f"{why}; so sigma_min = 0 (kappa is infinite)" for why in self.rank_causes or (
                "B has a null space here",))
        elif self.kappa > 10:
            lim = (f"; more samples bring it down only towards kappa_inf = {self.kappa_inf:.3g} "
                   "(the n -> infinity value), not towards 1" if self.kappa_inf is not None else "")
            c.append(f"kappa = {self.kappa:.3g} at n/d^2 = {self.n_over_d2:.2f}{lim}, so "
                     f"(kappa - 1)/(kappa + 1) = {self.rho4:.3g} is already close to 1")
        if self.sigma_max > 0 and self.sigma_min > 0 and not self.rho_am < 1:
            c.append(f"rho_3 = {self.rho3:.3g} (in N(0, 1) units {self.rho3_unit_scale:.3g}) is large next to "
                     f"sigma_max/kappa = {self.sigma_max / self.kappa:.3g}: many ReLUs disagree with the "
                     "teacher at this distance (rho_3 at W^0 grows like sqrt(gamma) while gamma is small)")
        if not self.assumption1_holds:
            c.append(f"Assumption 1 fails: gamma = {self.gamma:.3g} > delta sqrt(d)/(1 + delta) "
                     f"= {self.assumption1_bound:.3g}")
        if not self.resample:
            c.append("fresh samples are off, while Lemmas 1-2 assume a new batch every iteration")
        c.append("the constants in Lemmas 1-2 are worst-case")
        return c

    def as_dict(self) -> dict:
        """Plain floats and lists; inf and NaN become None (JSON-safe), and each None has a
        ``<key>_reason`` sentence."""
        out = {}
        for k, v in asdict(self).items():
            if k in ("rungs", "reasons"):
                continue
            if isinstance(v, np.ndarray):
                v = v.tolist()
            if isinstance(v, float) and not math.isfinite(v):
                v = None
            out[k] = v
        out["lambda"] = self.lam if math.isfinite(self.lam) else None
        out["vacuous"] = self.vacuous()
        out["ladder"] = [r.as_dict() for r in self.rungs]
        for k, v in list(out.items()):
            if v is None:
                out[f"{k}_reason"] = self.reasons.get(k, _generic_reason(k, self))
        return out


def _generic_reason(key: str, th: Theory) -> str:
    """A reason for a None the specific rules did not cover (kept truthful by naming the cause)."""
    if key in ("kappa", "kappa_star") or key.startswith(("rho_", "t_")):
        return "not finite at this point: " + "; ".join(th.causes())
    return "not defined at these settings"


def _rank_causes(X: np.ndarray, S: np.ndarray) -> tuple[str, ...]:
    """Why B (from X and signed masks S) has a null space, in words (linear.rank_loss)."""
    return rank_loss(S, X).causes or (
        "B's smallest singular value is at most 1e-6 times its largest although no feature, neuron or "
        "pattern explains it alone (the activation patterns overlap)",)


def _eta_value(eta, X: np.ndarray, S: np.ndarray, lo: float, hi: float) -> tuple[float, str]:
    """The step GD uses from this start, computed exactly as ``solvers.iterate`` does."""
    kind, value = parse_eta(eta)
    if kind == "fixed":
        return value, f"{value:g}"
    if hi == 0:
        base = 1.0
    elif lo == 0:
        base = 1.0 / (hi * hi)               # B rank deficient: as theory_eta, mid stable range
    elif min(X.shape[0], X.shape[1] ** 2) <= DENSE_SPECTRUM_MAX_COLS:
        base = 2.0 / (lo * lo + hi * hi)     # the dense spectrum: the same numbers theory_eta gets
    else:
        base = theory_eta(X, S)
    return value * base, ("theory" if value == 1.0 else f"{value:g}x")


def theory(problem: Problem, W: np.ndarray | None = None, *, init: str = "identity",
           delta: float = 0.8, eps: float = 1e-8, resample: bool = False, eta="theory",
           memory_budget: int = GB) -> Theory:
    """The paper's theory quantities for ``problem`` at W (default: the initial point), and the
    ladder of predictions (a) paper's (4)-(5), (b) the proof tightened, (c) the local model.

    ``eta``: GD's step as in ``run`` ("theory", "Kx" or a number), used by rungs (b) and (c).
    Computes two spectra of B/sqrt(n) (at W and at W*) and one exact AM step from W on the
    first batch; the population values need d <= 50 (None above, with a reason).
    Raises ValueError for bad parameters, MemoryBudgetError past ``memory_budget``.
    """
    with blas_limit(problem.n, problem.d):     # small problems: one BLAS thread (threads.py)
        return _theory(problem, W, init=init, delta=delta, eps=eps, resample=resample, eta=eta,
                       memory_budget=memory_budget)


def _theory(problem: Problem, W: np.ndarray | None = None, *, init: str = "identity",
            delta: float = 0.8, eps: float = 1e-8, resample: bool = False, eta="theory",
            memory_budget: int = GB) -> Theory:
    delta, eps = check("delta", delta), check("eps", eps)
    memory_budget = check("memory_budget", memory_budget)
    d, n = problem.d, problem.n
    path = plan_run(n, d, "am", am_solver="auto", memory_budget=memory_budget)
    if W is None:
        W = initial_point(problem, init, delta)
    W = np.asarray(W, dtype=float)
    X, y = problem.X, problem.y
    v, U_star = problem.v_star, problem.U_star
    S = signed_masks(masks(X, W + np.eye(d)), v)
    lo, hi = extreme_singular_values(X, S)
    r3 = rho3_forms(X, W, problem)
    kappa, rho4, rho_gd, rho_am = _paper_rates(lo, hi, r3.sum)
    eta_value, eta_text = _eta_value(eta, X, S, lo, hi)
    gd_tight, am_tight = tight_rates(eta_value, lo, hi, r3.norm_of_sum)
    rel0 = float(np.linalg.norm(W - problem.W_star)) / problem.scale
    reasons: dict[str, str] = {}
    rank_causes = _rank_causes(X, S) if lo == 0 and hi > 0 else ()
    if math.isinf(kappa):
        reasons["kappa"] = ("B = 0 (no ReLU active on any sample), so kappa is undefined" if hi == 0 else
                            "sigma_min = 0 because B has a null space: " + "; ".join(rank_causes)
                            + ". So kappa is infinite; kappa is a condition number, not a bound")

    paper = constant_rung("paper", "(a) paper's bounds (4)-(5)",
                          "Lemmas 1-2 as written: sum_q ||E_q|| <= rho_3 ||W - W*||, operator norms, "
                          "eta = 2/(sigma_min^2 + sigma_max^2), the rates at W^0 holding at every step",
                          rho_gd, rho_am, rel0, eps)
    tight = constant_rung("tight", "(b) the proof tightened",
                          f"the same chain with ||sum_q E_q|| for sum_q ||E_q||, 1/sigma_min for "
                          f"sigma_max/sigma_min^2, GD's own step eta = {eta_value:.4g}; rates at W^0 "
                          "holding at every step", gd_tight, am_tight, rel0, eps,
                          ("the tightened GD bound", "the tightened AM bound"))

    # (c) the local model near W*
    S_star = signed_masks(masks(X, U_star), v)
    lo_s, hi_s = extreme_singular_values(X, S_star)
    rank_causes_star = _rank_causes(X, S_star) if lo_s == 0 and hi_s > 0 else ()
    kappa_star = hi_s * hi_s / (lo_s * lo_s) if lo_s > 0 else math.inf
    r_gd_local = local_gd_rate(eta_value, lo_s, hi_s)
    t_gd_local = iterations_to(r_gd_local, rel0, eps)
    W1, _ = solve_am_step(path, X, S, y, W) if hi > 0 else (W, None)
    rel1 = float(np.linalg.norm(W1 - problem.W_star)) / problem.scale
    am_first = rel1 / rel0 if rel0 > 0 else None
    am_c = None
    local_reasons = {}
    if rel0 == 0:
        t_am_local = 0.0
    elif lo_s == 0:
        t_am_local = math.inf
        local_reasons["t_am"] = ("B* has a null space (sigma_min at W* is 0: " + "; ".join(rank_causes_star)
                                 + "): W* is not pinned down by these samples, so AM's step has many solutions "
                                 "and need not land on W*")
    elif rel1 <= FLOOR:
        am_c, t_am_local = 0.0, iterations_to(0.0, rel0, eps)
    else:
        am_c = rel1 / rel0**AM_LOCAL_ORDER
        t_am_local = iterations_superlinear(am_c, AM_LOCAL_ORDER, rel0, eps)
        if math.isinf(t_am_local):
            local_reasons["t_am"] = (f"AM's exact first step from W^0 does not contract enough "
                                     f"(factor {am_first:.3g}): the local law e' = c e^(3/2) with c = {am_c:.3g} "
                                     "does not shrink from this start")
    if math.isinf(t_gd_local):
        local_reasons["t_gd"] = (
            f"GD's linear map at W* has rate max|1 - eta sigma*^2| = {r_gd_local:.4g} >= 1 "
            + (f"(eta sigma*_max^2 = {eta_value * hi_s**2:.4g} > 2: the step chosen at W^0 is too long at W*, "
               "so GD cannot settle on W* with it)" if eta_value * hi_s**2 > 2 else
               "(sigma_min at W* is 0: B* has a null space)"))
    ratio_local, why = count_ratio(t_gd_local, t_am_local, rel0, eps)
    if why:
        local_reasons["ratio_eps"] = why
    local_reasons["ratio_log"] = ("AM's local rate is 0 (it lands on W* once its masks match the teacher's), "
                                  "so the ratio of log-rates is unbounded: T_GD/T_AM grows with log(1/eps)")
    local = Rung("local", "(c) local model near W*",
                 f"GD: the linear map I - eta B*^T B*/n at W* (masks = teacher's), eta = {eta_value:.4g}; "
                 "AM: its exact first step from W^0, then e' = c e^(3/2) (mismatched mass and margins both "
                 "shrink with the error), landing once the masks match",
                 r_gd_local, 0.0, t_gd_local, t_am_local, None, ratio_local, local_reasons)

    # population limit (n -> infinity), closed form
    pop: dict = {}
    if d * d <= DENSE_SPECTRUM_MAX_COLS:
        lo_inf, hi_inf = population_spectrum(W + np.eye(d), v)
        k_inf = hi_inf / lo_inf if lo_inf > 1e-14 * hi_inf else math.inf
        r3s, r3r = rho3_population(W, problem.W_star)
        pop = dict(kappa_inf=k_inf, kappa_inf_star=kappa_population(U_star, v),
                   sigma_min_inf_unit=math.sqrt(lo_inf), sigma_max_inf_unit=math.sqrt(hi_inf),
                   rho3_inf_unit=r3s, rho3_rss_inf_unit=r3r)
        if math.isfinite(k_inf) and hi_inf > 0:
            _, _, pgd, pam = _paper_rates(math.sqrt(lo_inf), math.sqrt(hi_inf), r3s)
            pop.update(rho_gd_inf=pgd, rho_am_inf=pam)
        else:
            reasons["kappa_inf"] = reasons["rho_gd_inf"] = reasons["rho_am_inf"] = (
                "E[B^T B] is singular at this point (a column u_q = 0: a neuron that never fires)")
        if math.isinf(pop["kappa_inf_star"]):
            reasons["kappa_inf_star"] = "E[B*^T B*] is singular (a column of W* + I is 0)"
    else:
        why = (f"the population spectrum is a d^2 x d^2 eigenproblem, computed for d <= "
               f"{math.isqrt(DENSE_SPECTRUM_MAX_COLS)} only (d = {d} here)")
        for k in ("kappa_inf", "kappa_inf_star", "sigma_min_inf_unit", "sigma_max_inf_unit", "rho3_inf_unit",
                  "rho3_rss_inf_unit", "rho_gd_inf", "rho_am_inf"):
            reasons[k] = why

    for rung, keys in ((paper, {"ratio_log": "t_ratio_pred", "t_gd": "t_gd", "t_am": "t_am"}),
                       (tight, {"ratio_log": "t_ratio_pred_tight", "t_gd": "t_gd_tight", "t_am": "t_am_tight"}),
                       (local, {"ratio_eps": "t_ratio_local", "t_gd": "t_gd_local", "t_am": "t_am_local"})):
        for rk, tk in keys.items():
            if rk in rung.reasons:
                reasons[tk] = rung.reasons[rk]
    for key, val, name in (("rho_gd", rho_gd, "rho_GD"), ("rho_am", rho_am, "rho_AM"),
                           ("rho_gd_tight", gd_tight, "the tightened GD bound"),
                           ("rho_am_tight", am_tight, "the tightened AM bound")):
        if math.isinf(val):
            reasons[key] = (f"{name} is infinite: " + ("B = 0 (no ReLU active on any sample)" if hi == 0 else
                                                       "sigma_min = 0 (B has a null space)"))
    if math.isinf(kappa_star):
        reasons["kappa_star"] = ("sigma_min = 0 at W*: B* has a null space: " + "; ".join(rank_causes_star)
                                 if rank_causes_star else "B* = 0 at W* (no ReLU active on any sample)")
    if am_first is None:
        reasons["am_first_factor"] = "W^0 = W*: there is no error to shrink"
    if am_c is None and "am_local_constant" not in reasons:
        reasons["am_local_constant"] = local_reasons.get("t_am", "W^0 = W*: there is no error to shrink")

    s, kappa_w, log10_lam = lemma1_terms(U_star)
    if math.isinf(kappa_w):
        reasons["kappa_w"] = reasons["log10_lambda"] = reasons["lambda"] = "W* + I is singular (sigma_k = 0)"
    col2 = np.sum(problem.W_star**2, axis=0)
    balance = float(col2.max() / col2.min()) if col2.min() > 0 else (1.0 if col2.max() == 0 else math.inf)
    if math.isinf(balance):
        reasons["balance_ratio"] = "some column of W* is 0 while another is not"
    bound = assumption1_gamma_max(d, delta)
    sq = math.sqrt(n)
    return Theory(d=d, n=n, gamma=problem.gamma, delta=delta, sigma_min=lo, sigma_max=hi,
                  kappa=kappa, rho3=r3.sum, rho4=rho4, rho_gd=rho_gd, rho_am=rho_am,
                  rho_am_tight=am_tight, rel_err0=rel0, eps=eps, t_gd=paper.t_gd, t_am=paper.t_am,
                  t_am_tight=tight.t_am, t_ratio_pred=paper.ratio_log,
                  singular_values_U_star=s, kappa_w=kappa_w, log10_lambda=log10_lam,
                  assumption1_bound=bound, assumption1_holds=problem.gamma <= bound,
                  balance_ratio=balance, n_over_d2=n / (d * d), resample=resample, noise=problem.noise,
                  rho3_sum=r3.sum, rho3_rss=r3.rss, rho3_norm_of_sum=r3.norm_of_sum,
                  rho3_unit_scale=sq * r3.sum, rho3_rss_unit_scale=sq * r3.rss,
                  rho3_norm_of_sum_unit_scale=sq * r3.norm_of_sum,
                  eta=eta_value, eta_setting=eta_text, rho_gd_tight=gd_tight, t_gd_tight=tight.t_gd,
                  t_ratio_pred_tight=tight.ratio_log,
                  sigma_min_star=lo_s, sigma_max_star=hi_s, kappa_star=kappa_star, rho_gd_local=r_gd_local,
                  am_first_factor=am_first, am_local_constant=am_c, t_gd_local=t_gd_local,
                  t_am_local=t_am_local, t_ratio_local=ratio_local,
                  rungs=(paper, tight, local), reasons=reasons, rank_causes=rank_causes,
                  rank_causes_star=rank_causes_star, **pop)


# ----- empirical side, from run histories ---------------------------------------


def contraction_factors(err: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """||W^{t+1} - W*|| / ||W^t - W*|| for each step whose start is above round-off."""
    err = np.asarray(err, dtype=float)
    if len(err) < 2:
        return np.empty(0)
    ok = err[:-1] > FLOOR * scale
    return err[1:][ok] / err[:-1][ok]


def geometric_mean(x: np.ndarray) -> float | None:
    """exp(mean(log x)) over positive entries; None for none."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x) & (x > 0)]
    return float(np.exp(np.mean(np.log(x)))) if len(x) else None


@dataclass(frozen=True)
class Empirical:
    """Measured rates of one run."""

    factors: np.ndarray
    geo_mean: float | None
    iters_to_eps: int | None


def empirical(rel_err: np.ndarray, eps: float) -> Empirical:
    """Contraction factors of a run, their geometric mean and iterations to eps."""
    f = contraction_factors(rel_err)
    return Empirical(f, geometric_mean(f), iterations_to_eps(rel_err, eps))


def empirical_ratio(gd: Empirical, am: Empirical) -> float | None:
    """Empirical T_GD / T_AM: iterations to eps, GD over AM (None if either never got there)."""
    if gd.iters_to_eps is None or am.iters_to_eps is None or am.iters_to_eps == 0:
        return None
    return gd.iters_to_eps / am.iters_to_eps
