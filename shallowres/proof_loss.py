"""Where the proof loses: the factor each inequality of the slides' proof chain gives away,
measured at one iterate of a run (``theory_path.TheoryPath``).

GD, step t -> t + 1 (delta = W^t - W*, G = B^T B / n, s = sum_q E_q, e = ||delta||_F):

    e_{t+1} = ||(I - eta G) delta - eta (B/sqrt(n))^T s||                     measured
           <= ||(I - eta G) delta|| + eta ||(B/sqrt(n))^T s||                 triangle inequality
           <= ||I - eta G|| e + eta sigma_max ||s||                           operator norms
           <= ||I - eta G|| e + eta sigma_max sum_q ||E_q||                  ||sum E_q|| <= sum ||E_q||
            ~  ((kappa-1)/(kappa+1) + 2 kappa rho_3/(sigma_max (kappa+1))) e  the proof's step eta (4)

The last line is an inequality only when GD's eta is 2/(sigma_min^2 + sigma_max^2) at this
iterate; otherwise its factor can be below 1 and (4) is no bound for the step GD takes.

AM (B^+ = (B^T B)^{-1} B^T; exact for a fixed batch and noiseless labels):

    e_{t+1} = ||(B^T B/n)^{-1} (B/sqrt(n))^T s||                              measured
           <= ||s|| / sigma_min                                              ||B^+|| = 1/sigma_min(B)
           <= sum_q ||E_q|| / sigma_min                                      ||sum E_q|| <= sum ||E_q||
           <= sigma_max sum_q ||E_q|| / sigma_min^2 = rho_AM e   (5)         ||n (B^T B)^{-1}|| ||B^T/sqrt(n)||
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .ladder import FLOOR
from .theory import gd_linear_rate
from .theory_path import TheoryPath


@dataclass(frozen=True)
class Loss:
    """One inequality of the chain: the per-step factor before and after it, and their ratio
    (``factor`` = after / before: how much this inequality gives away; inf if before is 0)."""

    key: str
    text: str
    before: float
    after: float

    @property
    def factor(self) -> float:
        if self.before == 0:
            return math.inf if self.after > 0 else 1.0
        if math.isinf(self.before):
            return 1.0 if math.isinf(self.after) else 0.0
        return self.after / self.before


def proof_losses(path: TheoryPath, t: int) -> list[Loss]:
    """The chain at iterate t (0 <= t < number of steps), each value divided by e_t.

    Raises ValueError when t is out of range, the iterate had already landed on W*, or its
    spectrum was not evaluated.
    """
    steps = len(path.err) - 1
    if not (isinstance(t, int | np.integer) and 0 <= t < steps):
        raise ValueError(f"t must be an integer in [0, {steps - 1}]; got {t!r}")
    e = path.err[t]
    if e <= FLOOR * path.scale:
        raise ValueError(f"t must be an iterate before the run landed on W*; at t = {t} the error is round-off")
    if not path.evaluated[t]:
        raise ValueError(f"t must be an iterate whose spectrum was evaluated; t = {t} was skipped (max_spectra)")
    nxt = path.err[t + 1]
    measured = 0.0 if nxt <= FLOOR * path.scale else nxt / e
    lo, hi = path.sigma_min[t], path.sigma_max[t]
    r_sum, r_nos = path.rho3_sum[t], path.rho3_norm_of_sum[t]
    chain = [("measured", "the step as taken: ||W^{t+1} - W*|| / ||W^t - W*||", measured)]
    if path.alg == "gd":
        lin = gd_linear_rate(path.eta, lo, hi)
        chain += [
            ("triangle", "triangle inequality: ||(I - eta G) delta|| + eta ||B^T s / sqrt(n)||",
             path.linear_term[t] + path.e_term[t]),
            ("operator_norms", "operator norms: ||I - eta G|| = max|1 - eta sigma^2|, ||B/sqrt(n)|| = sigma_max",
             lin + path.eta * hi * r_nos),
            ("sum_of_norms", "||sum_q E_q|| <= sum_q ||E_q||", lin + path.eta * hi * r_sum),
            ("proof_eta", "the proof's step 2/(sigma_min^2 + sigma_max^2) in place of GD's eta: (4)",
             path.rho_gd[t]),
        ]
    else:
        chain += [
            ("pseudo_inverse", "||B^+|| = 1/sigma_min: ||B^+ s|| <= ||s|| / sigma_min",
             r_nos / lo if lo > 0 else math.inf),
            ("sum_of_norms", "||sum_q E_q|| <= sum_q ||E_q||", r_sum / lo if lo > 0 else math.inf),
            ("sigma_ratio", "||n (B^T B)^{-1}|| ||B^T / sqrt(n)|| = sigma_max / sigma_min^2 for 1/sigma_min: (5)",
             path.rho_am[t]),
        ]
    return [Loss(key, text, chain[i - 1][2], value) for i, (key, text, value) in enumerate(chain) if i > 0]
