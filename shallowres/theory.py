"""Theory quantities of the paper at a point W, and their empirical counterparts.

Slides, "Guarantees" (B = B^t built at W, sigma = singular values of B/sqrt(n)):

    kappa   = sigma_max^2 / sigma_min^2
    rho_4   = (kappa - 1) / (kappa + 1)                              (Lemma 1)
    rho_3   : sum_q ||E_q|| <= rho_3 ||W - W*||_F                     (Lemma 2)
    rho_GD  = (kappa - 1)/(kappa + 1) + 2 kappa rho_3 / (sigma_max (kappa + 1))   (4)
    rho_AM  = kappa rho_3 / sigma_max                                 (5)
    rho_AM' = rho_3 / sigma_min   (tighter: ||(B^T B)^{-1} B^T|| = 1/sigma_min(B))
    T_GD / T_AM = log(1/rho_AM) / log(1/rho_GD)

Lemma 1 terms: sigma_1 >= ... >= sigma_k of W* + I, kappa_w = sigma_1/sigma_k,
lambda = prod_q sigma_q / sigma_k^k. Assumption 1: gamma <= delta sqrt(d)/(1 + delta).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from .linear import masks, signed_masks
from .problem import Problem, initial_point
from .spectrum import extreme_singular_values
from .validation import check


def rho3_at(X: np.ndarray, W: np.ndarray, problem: Problem) -> float:
    """Measured rho_3 = sum_q ||E_q|| / ||W - W*||_F, with (Lemma 2)
    ||E_q||^2 = (1/n) sum_i (x_i . u*_q)^2 1{(x_i . u_q)(x_i . u*_q) <= 0}."""
    err = float(np.linalg.norm(W - problem.W_star))
    if err == 0:
        return 0.0
    Z_star = X @ problem.U_star
    mismatch = masks(X, W + np.eye(problem.d)) != (Z_star > 0)
    E = np.sqrt(np.einsum("iq,iq->q", Z_star**2, mismatch) / X.shape[0])
    return float(E.sum() / err)


def iterations_to(rho: float, start: float, target: float) -> float:
    """Smallest T with rho^T start <= target: ceil(log(start/target) / log(1/rho)).
    inf when rho >= 1 (the bound is vacuous)."""
    if start <= target:
        return 0.0
    if not rho < 1:
        return math.inf
    if rho <= 0:
        return 1.0
    return float(math.ceil(math.log(start / target) / math.log(1 / rho)))


def lemma1_terms(U_star: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(singular values of W* + I, kappa_w, log10 lambda), lambda = prod sigma_q / sigma_k^k."""
    s = np.linalg.svd(U_star, compute_uv=False)
    if s[-1] <= 0:
        return s, math.inf, math.inf
    return s, float(s[0] / s[-1]), float(np.sum(np.log10(s)) - len(s) * np.log10(s[-1]))


@dataclass(frozen=True)
class Theory:
    """The paper's quantities for one problem at one point W (see module doc)."""

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
    t_gd: float                 # predicted iterations to rel_err < eps (inf: vacuous)
    t_am: float
    t_am_tight: float
    t_ratio_pred: float | None  # log(1/rho_AM) / log(1/rho_GD); None when vacuous
    singular_values_U_star: np.ndarray = field(repr=False)
    kappa_w: float = 1.0
    log10_lambda: float = 0.0
    assumption1_bound: float = 0.0
    assumption1_holds: bool = False
    balance_ratio: float = 1.0
    n_over_d2: float = 0.0
    resample: bool = False

    @property
    def lam(self) -> float:
        """lambda = prod_q sigma_q / sigma_k^k (inf when it overflows)."""
        return 10.0**self.log10_lambda if self.log10_lambda < 300 else math.inf

    def vacuous(self) -> dict[str, str]:
        """For each bound >= 1, a plain sentence on why it promises nothing here."""
        out = {}
        causes = self.causes()
        for key, name, rho in (("rho_gd", "rho_GD", self.rho_gd), ("rho_am", "rho_AM", self.rho_am),
                               ("rho_am_tight", "rho_3/sigma_min", self.rho_am_tight)):
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
        elif self.n < self.d * self.d:
            c.append(f"n = {self.n} < d^2 = {self.d * self.d}, so B has a null space and "
                     "sigma_min = 0 (kappa is infinite)")
        elif self.kappa > 10:
            c.append(f"kappa = {self.kappa:.3g} is large at n/d^2 = {self.n_over_d2:.2f} "
                     "(the theory needs n >> d k^2)")
        if self.rho3 * self.kappa / max(self.sigma_max, 1e-300) >= 1 and self.sigma_min > 0:
            c.append(f"rho_3 = {self.rho3:.3g} is large next to sigma_max/kappa = "
                     f"{self.sigma_max / self.kappa:.3g} (many ReLUs flip at this distance)")
        if not self.assumption1_holds:
            c.append(f"Assumption 1 fails: gamma = {self.gamma:.3g} > delta sqrt(d)/(1 + delta) "
                     f"= {self.assumption1_bound:.3g}")
        if not self.resample:
            c.append("fresh samples are off, while Lemmas 1-2 assume a new batch every iteration")
        c.append("the constants in Lemmas 1-2 are worst-case")
        return c

    def as_dict(self) -> dict:
        """Plain floats and lists; inf and NaN become None (JSON-safe)."""
        out = {}
        for k, v in asdict(self).items():
            if isinstance(v, np.ndarray):
                v = v.tolist()
            if isinstance(v, float) and not math.isfinite(v):
                v = None
            out[k] = v
        out["lambda"] = self.lam if math.isfinite(self.lam) else None
        out["vacuous"] = self.vacuous()
        return out


def theory(problem: Problem, W: np.ndarray | None = None, *, init: str = "identity",
           delta: float = 0.8, eps: float = 1e-8, resample: bool = False) -> Theory:
    """The paper's theory quantities for ``problem`` at W (default: the initial point)."""
    delta, eps = check("delta", delta), check("eps", eps)
    d, n = problem.d, problem.n
    if W is None:
        W = initial_point(problem, init, delta)
    X = problem.X
    S = signed_masks(masks(X, W + np.eye(d)), problem.v_star)
    lo, hi = extreme_singular_values(X, S)
    kappa = hi * hi / (lo * lo) if lo > 0 else math.inf
    rho3 = rho3_at(X, W, problem)
    if hi == 0:       # B = 0: no neuron is active on any sample, nothing contracts
        rho4, rho_gd = 1.0, math.inf
        rho_am = rho_tight = math.inf
    elif math.isinf(kappa):
        rho4, rho_gd = 1.0, 1.0 + 2 * rho3 / hi
        rho_am = rho_tight = math.inf
    else:
        rho4 = (kappa - 1) / (kappa + 1)
        rho_am = kappa * rho3 / hi
        rho_gd = rho4 + 2 * rho_am / (kappa + 1)
        rho_tight = rho3 / lo
    rel0 = float(np.linalg.norm(W - problem.W_star)) / problem.scale
    t_gd, t_am = iterations_to(rho_gd, rel0, eps), iterations_to(rho_am, rel0, eps)
    ratio = None
    if 0 < rho_am < 1 and rho_gd < 1:
        ratio = math.log(1 / rho_am) / math.log(1 / rho_gd)
    s, kappa_w, log10_lam = lemma1_terms(problem.U_star)
    col2 = np.sum(problem.W_star**2, axis=0)
    balance = float(col2.max() / col2.min()) if col2.min() > 0 else (1.0 if col2.max() == 0 else math.inf)
    bound = delta * math.sqrt(d) / (1 + delta)
    return Theory(d=d, n=n, gamma=problem.gamma, delta=delta, sigma_min=lo, sigma_max=hi,
                  kappa=kappa, rho3=rho3, rho4=rho4, rho_gd=rho_gd, rho_am=rho_am,
                  rho_am_tight=rho_tight, rel_err0=rel0, eps=eps, t_gd=t_gd, t_am=t_am,
                  t_am_tight=iterations_to(rho_tight, rel0, eps), t_ratio_pred=ratio,
                  singular_values_U_star=s, kappa_w=kappa_w, log10_lambda=log10_lam,
                  assumption1_bound=bound, assumption1_holds=problem.gamma <= bound,
                  balance_ratio=balance, n_over_d2=n / (d * d), resample=resample)


# ----- empirical side, from run histories ---------------------------------------

FLOOR = 1e-13   # relative errors below this are round-off, not contraction


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


def iterations_to_eps(rel_err: np.ndarray, eps: float) -> int | None:
    """First t with rel_err[t] < eps, or None if never reached."""
    hit = np.flatnonzero(np.asarray(rel_err) < eps)
    return int(hit[0]) if len(hit) else None


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
