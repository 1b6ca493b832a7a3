"""The Theory page's computations, cached across sessions (bounded, pure functions).

``predicted``: the paper's quantities at W^0 (``shallowres.theory``).
``measured``:  GD and AM run on the same problem to the same eps; per-iteration
contraction factors, their geometric mean, iterations to eps (``shallowres.empirical``).
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import streamlit as st

from shallowres import Theory, empirical, empirical_ratio, run, theory
from shallowres.budget import DENSE_SPECTRUM_MAX_COLS

from .runs import build_problem, check_fits
from .state import MEMORY_BUDGET

FLOPS_PER_SECOND = 5e9      # a rough rate for NumPy on a shared core
SLOW_SECONDS = 15.0         # above this estimate the page asks before computing

RHO3_COROLLARY = math.sqrt(0.14)    # Corollary 1: rho_3^2 < 0.14 for n > C d k^2 log k
PROBLEM_FIELDS = ("d", "n", "gamma", "noise", "seed")


def _problem_key(settings: Mapping) -> dict:
    return {k: settings[k] for k in PROBLEM_FIELDS}


@st.cache_data(max_entries=32, show_spinner="Computing the spectrum of B/√n …")
def _predicted(d, n, gamma, noise, seed, init, delta, resample, eps) -> Theory:
    problem = build_problem(dict(d=d, n=n, gamma=gamma, noise=noise, seed=seed))
    return theory(problem, init=init, delta=delta, eps=eps, resample=resample)


@st.cache_data(max_entries=32, show_spinner="Running GD and AM to ε …")
def _measured(d, n, gamma, noise, seed, init, delta, resample, eta, gd_iters, am_iters, eps) -> dict:
    problem = build_problem(dict(d=d, n=n, gamma=gamma, noise=noise, seed=seed))
    out = {}
    for alg, iters in (("gd", gd_iters), ("am", am_iters)):
        res = run(problem, alg, init=init, delta=delta, eta=eta, resample=resample, iters=iters,
                  tol=eps, memory_budget=MEMORY_BUDGET)
        emp = empirical(res.history["rel_err"], eps)
        out[alg] = dict(rel_err=res.history["rel_err"], rho3=res.history["rho3"], factors=emp.factors,
                        geo_mean=emp.geo_mean, iters_to_eps=emp.iters_to_eps, n_iter=res.n_iter,
                        stop_reason=res.stop_reason, message=res.message, emp=emp,
                        max_factor=float(np.max(emp.factors)) if len(emp.factors) else None)
    out["ratio"] = empirical_ratio(out["gd"]["emp"], out["am"]["emp"])
    return out


def seconds_estimate(settings: Mapping) -> float:
    """Rough compute time of ``predicted`` + ``measured``: the spectrum of B/sqrt(n),
    GD's iterations (O(n d^2) each) and AM's solves (O(n d^4) each, Cholesky path)."""
    n, d = settings["n"], settings["d"]
    spectrum = n * d**4 + d**6 if d * d <= DENSE_SPECTRUM_MAX_COLS else 2000 * 4 * n * d * d
    gd = settings["gd_iters"] * 6 * n * d * d
    am = settings["am_iters"] * min(n * d**4 / 4 + d**6 / 3, 200 * 4 * n * d * d)
    return (spectrum + gd + am) / FLOPS_PER_SECOND


def check(settings: Mapping) -> None:
    """Raise MemoryBudgetError if either algorithm's run would pass the memory budget."""
    check_fits({**settings, "alg": "both"})


def predicted(settings: Mapping) -> Theory:
    """Theory quantities at W^0 for ``settings`` (cached)."""
    return _predicted(**_problem_key(settings), init=settings["init"], delta=settings["delta"],
                      resample=settings["resample"], eps=settings["eps"])


def measured(settings: Mapping) -> dict:
    """Both algorithms run to ``eps`` on the settings' problem (cached)."""
    return _measured(**_problem_key(settings), init=settings["init"], delta=settings["delta"],
                     resample=settings["resample"], eta=settings["eta"], gd_iters=settings["gd_iters"],
                     am_iters=settings["am_iters"], eps=settings["eps"])


def num(x, digits: int = 3) -> str:
    """A number for the page: 3 significant digits; None or inf -> '∞'."""
    if x is None or (isinstance(x, float) and math.isinf(x)):
        return "∞"
    if isinstance(x, float) and math.isnan(x):
        return "—"
    if isinstance(x, int | np.integer) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e6):
        return f"{int(x):,}"
    return f"{x:.{digits}g}"
