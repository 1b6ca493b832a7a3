"""The Theory page's computations: pure functions of the settings, cached across sessions
(bounded ``st.cache_data``), each within the per-run memory budget ``state.MEMORY_BUDGET``.

``predicted``: the paper's quantities and the ladder's rungs (a)-(c) at W^0 (``shallowres.theory``).
``measured``:  GD and AM run to eps with the theory at every iterate (``shallowres.path_run``),
               rung (b') along the runs and rung (d), the runs themselves.
``kappa_curve``: kappa(B/sqrt(n)) at W^0 and W* for growing n, on nested samples, beside the
               population limit kappa_inf.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping

import numpy as np
import streamlit as st

from shallowres import Theory, initial_point, make_problem, path_run, theory
from shallowres.budget import DENSE_SPECTRUM_MAX_COLS, run_bytes
from shallowres.ladder import measured_rung
from shallowres.linear import add_normal_rows, masks, signed_masks
from shallowres.population import gamma_threshold, kappa_population, rho_am_identity_start
from shallowres.theory_path import check_path_run, path_rung

from .runs import build_problem
from .state import MEMORY_BUDGET

FLOPS_PER_SECOND = 5e9      # a rough rate for NumPy on a shared core
EIG_SECONDS_PER_M3 = 1.2e-10   # eigvalsh of an m x m matrix, one core (measured: m = 400..2500)
SLOW_SECONDS = 15.0         # above this estimate the page asks before computing
PATH_SECONDS = 8.0          # spectra along one run: at most about this long (max_spectra)
MIN_SPECTRA = 8
CURVE_MAX_D = 30            # the kappa-vs-n curve: d <= 30 (a d^2 x d^2 eigenproblem per point)
CURVE_FLOPS = 4e9           # its nested assembly of B^T B: n_max d^4 <= this
CURVE_POINTS = 10

RHO3_COROLLARY = math.sqrt(0.14)    # Corollary 1: rho_3^2 < 0.14 (N(0, 1) inputs) for n > C d k^2 log k
PROBLEM_FIELDS = ("d", "n", "gamma", "noise", "seed")


def _problem_key(settings: Mapping) -> dict:
    return {k: settings[k] for k in PROBLEM_FIELDS}


def spectrum_seconds(n: int, d: int) -> float:
    """Rough seconds of one spectrum of B/sqrt(n) along a path: eigvalsh of the d^2 x d^2
    B^T B (or the n x n B B^T) plus its row updates."""
    m = min(n, d * d)
    return EIG_SECONDS_PER_M3 * m**3 + 0.25 * n * d**4 / (4 * FLOPS_PER_SECOND)


def max_spectra(settings: Mapping) -> int:
    """How many iterates of one run get a spectrum on this server (all of them when cheap)."""
    return max(MIN_SPECTRA, int(PATH_SECONDS / spectrum_seconds(settings["n"], settings["d"])))


def curve_n_max(d: int, n: int) -> int | None:
    """Largest n of the kappa-vs-n curve, or None when the curve is not drawn (d > CURVE_MAX_D)."""
    if d > CURVE_MAX_D:
        return None
    return int(max(4 * d * d, min(100 * d * d, CURVE_FLOPS / d**4, 50 * n)))


def seconds_estimate(settings: Mapping) -> float:
    """Rough compute time of the page: the spectra at W^0 and W* and an AM step (``predicted``),
    GD's iterations (O(n d^2) each) and AM's solves, the spectra along both runs, and the
    kappa-vs-n curve."""
    n, d = settings["n"], settings["d"]
    one = spectrum_seconds(n, d) if d * d <= DENSE_SPECTRUM_MAX_COLS else 2000 * 4 * n * d * d / FLOPS_PER_SECOND
    gd = settings["gd_iters"] * 8 * n * d * d / FLOPS_PER_SECOND
    am = settings["am_iters"] * min(n * d**4 / 4 + d**6 / 3, 200 * 4 * n * d * d) / FLOPS_PER_SECOND
    cap = max_spectra(settings)
    path = (min(settings["gd_iters"] + 1, cap) + min(settings["am_iters"] + 1, cap)) * one
    n_max = curve_n_max(d, n)
    curve = 0.0 if n_max is None else (n_max * d**4 / (2 * FLOPS_PER_SECOND)
                                       + 2 * CURVE_POINTS * EIG_SECONDS_PER_M3 * d**6)
    return 3 * one + gd + am + path + curve


def page_bytes(settings: Mapping) -> int:
    """Memory one of the page's computations may hold: the larger run with its per-iterate
    theory (the per-run guard caps it), reserved with the server's admission controller."""
    from shallowres.solvers import plan_run
    from shallowres.theory_path import path_bytes

    n, d, most = settings["n"], settings["d"], 0
    for alg in ("gd", "am"):
        iters = settings[f"{alg}_iters"]
        path = plan_run(n, d, alg, iters=iters, resample=settings["resample"], memory_budget=MEMORY_BUDGET)
        most = max(most, run_bytes(n, d, alg, path, iters, False, settings["resample"]) + path_bytes(n, d, iters))
    return min(most, MEMORY_BUDGET)


def on_server(fn, settings: Mapping):
    """Run ``fn()`` through the server's admission controller (it waits for memory and a CPU
    slot like a Train-page run) when a Streamlit server runs the page; directly otherwise."""
    from . import server

    if not server.has_runtime():
        return fn()
    return server.controller().call(fn, session_id=server.session_id(), nbytes=page_bytes(settings),
                                    seconds=seconds_estimate(settings))


def check(settings: Mapping) -> None:
    """Raise MemoryBudgetError if either run with its per-iterate theory would pass the budget."""
    for alg in ("gd", "am"):
        check_path_run(settings["n"], settings["d"], alg, settings[f"{alg}_iters"], resample=settings["resample"],
                       memory_budget=MEMORY_BUDGET)


WAIT = " (or waiting for room on the shared server)"


@st.cache_data(max_entries=32, ttl=3600, show_spinner="Computing the spectra of B/√n at W⁰ and W* …" + WAIT)
def _predicted(d, n, gamma, noise, seed, init, delta, resample, eps, eta, _settings) -> Theory:
    def compute():
        problem = build_problem(dict(d=d, n=n, gamma=gamma, noise=noise, seed=seed))
        return theory(problem, init=init, delta=delta, eps=eps, resample=resample, eta=eta,
                      memory_budget=MEMORY_BUDGET)
    return on_server(compute, _settings)


def predicted(settings: Mapping) -> Theory:
    """Theory quantities and the ladder's rungs (a)-(c) at W^0 for ``settings`` (cached)."""
    return _predicted(**_problem_key(settings), init=settings["init"], delta=settings["delta"],
                      resample=settings["resample"], eps=settings["eps"], eta=settings["eta"], _settings=settings)


@st.cache_data(max_entries=8, ttl=3600, show_spinner="Running GD and AM to ε, with the theory at every iterate …"
               + WAIT)
def _measured(d, n, gamma, noise, seed, init, delta, resample, eta, gd_iters, am_iters, eps, spectra,
              _settings) -> dict:
    return on_server(lambda: _measure(d, n, gamma, noise, seed, init, delta, resample, eta, gd_iters, am_iters,
                                      eps, spectra), _settings)


def _measure(d, n, gamma, noise, seed, init, delta, resample, eta, gd_iters, am_iters, eps, spectra) -> dict:
    problem = build_problem(dict(d=d, n=n, gamma=gamma, noise=noise, seed=seed))
    out = {}
    for alg, iters in (("gd", gd_iters), ("am", am_iters)):
        res, path = path_run(problem, alg, init=init, delta=delta, eta=eta, resample=resample, iters=iters,
                             tol=eps, memory_budget=MEMORY_BUDGET, max_spectra=spectra)
        out[alg] = dict(rel_err=res.history["rel_err"], flips=res.history["flips_teacher"], path=path,
                        n_iter=res.n_iter, stop_reason=res.stop_reason, message=res.message)
    out["path_rung"] = path_rung(out["gd"]["path"], out["am"]["path"], eps)
    out["measured_rung"] = measured_rung(out["gd"]["rel_err"], out["am"]["rel_err"], eps,
                                         out["gd"]["stop_reason"], out["am"]["stop_reason"],
                                         out["gd"]["flips"], out["am"]["flips"])
    return out


def measured(settings: Mapping) -> dict:
    """Both algorithms run to ``eps`` on the settings' problem, with per-iterate theory (cached)."""
    return _measured(**_problem_key(settings), init=settings["init"], delta=settings["delta"],
                     resample=settings["resample"], eta=settings["eta"], gd_iters=settings["gd_iters"],
                     am_iters=settings["am_iters"], eps=settings["eps"], spectra=max_spectra(settings),
                     _settings=settings)


@st.cache_data(max_entries=16, ttl=3600, show_spinner="Measuring κ for growing n …" + WAIT)
def _kappa_curve(d, n, gamma, seed, init, delta, _settings) -> dict | None:
    return on_server(lambda: _curve(d, n, gamma, seed, init, delta), _settings)


def _curve(d, n, gamma, seed, init, delta) -> dict | None:
    n_max = curve_n_max(d, n)
    if n_max is None:
        return None
    p = make_problem(d=d, n=2, gamma=gamma, seed=seed, n_test=1)
    U0 = initial_point(p, init, delta) + np.eye(d)
    lo_n = max(d * d + 1, int(1.2 * d * d))
    grid = np.unique(np.round(np.geomspace(lo_n, n_max, CURVE_POINTS)).astype(int))
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(99,)))
    Z = rng.standard_normal((int(grid[-1]), d))          # nested samples; kappa is scale-free
    out = {"n": grid, "d": d}
    for name, U in (("start", U0), ("star", p.U_star)):
        S = signed_masks(masks(Z, U), p.v_star)
        G = np.zeros((d * d, d * d), order="F")
        kappas, done = [], 0
        for m in grid:
            G = add_normal_rows(G, Z[done:m], S[done:m])
            done = m
            ev = np.linalg.eigvalsh(G, UPLO="L")
            kappas.append(ev[-1] / ev[0] if ev[0] > 1e-12 * ev[-1] else math.inf)
        out[name] = np.array(kappas)
        out[f"{name}_inf"] = kappa_population(U, p.v_star)
    return out


def kappa_curve(settings: Mapping) -> dict | None:
    """kappa(B/sqrt(n)) at W^0 (``start``) and at W* (``star``) for a grid of n (``n``), on nested
    Gaussian samples from the settings' seed, and kappa_inf at both (cached). None for d > 30."""
    return _kappa_curve(settings["d"], settings["n"], settings["gamma"], settings["seed"], settings["init"],
                        settings["delta"], _settings=settings)


@st.cache_data(max_entries=32, ttl=3600, show_spinner=False)
def _gamma_limit(d, gamma, seed) -> tuple[float, float] | None:
    if gamma == 0 or d * d > DENSE_SPECTRUM_MAX_COLS:
        return None
    p = make_problem(d=d, n=2, gamma=gamma, seed=seed, n_test=1)
    return rho_am_identity_start(p.W_star, p.v_star), gamma_threshold(p.W_star, p.v_star)


def gamma_limit(settings: Mapping) -> tuple[float, float] | None:
    """(rho_AM (5) at the identity start as n -> infinity at this gamma, the largest gamma along
    this teacher's direction with rho_AM < 1) (cached); None for gamma = 0 or d > 50."""
    return _gamma_limit(settings["d"], settings["gamma"], settings["seed"])


# ----- words and numbers for the page ----------------------------------------------------

_PRETTY = [
    (r"rho_GD", "ρ_GD"), (r"rho_AM", "ρ_AM"), (r"rho_3", "ρ₃"), (r"rho_4", "ρ₄"),
    (r"B\^\+", "B⁺"), (r"\^\{-1\}", "⁻¹"), (r"sqrt\(n\)", "√n"), (r"sqrt\(d\)", "√d"),
    (r"sqrt\(gamma\)", "√γ"), (r"sigma\^2", "σ²"), (r"\(B\^T B\)", "(BᵀB)"),
    (r"sigma\*_max\^2", "σ*²_max"), (r"sigma\*\^2", "σ*²"), (r"sigma_min\^2", "σ²_min"),
    (r"sigma_max\^2", "σ²_max"), (r"sigma_min", "σ_min"), (r"sigma_max", "σ_max"), (r"sigma_k", "σ_k"),
    (r"kappa_inf", "κ_∞"), (r"kappa", "κ"), (r"gamma", "γ"), (r"delta", "δ"), (r"lambda", "λ"),
    (r"\beta\b", "η"), (r"\beps\b", "ε"), (r"W\^0", "W⁰"), (r"W\^t", "Wᵗ"), (r"d\^2", "d²"),
    (r"sum_q", "Σ_q"), (r"sum E_q", "Σ E_q"), (r">=", "≥"), (r"<=", "≤"), (r"sqrt\(", "√("),
    (r"n -> infinity", "n → ∞"), (r"B\^T", "Bᵀ"), (r"e\^\(3/2\)", "e^(3/2)"),
]


def pretty(text: str) -> str:
    """The library's plain-text math in Unicode, safe inside Markdown (tables too) for the page:
    rho_AM -> ρ_AM, >= -> ≥, ||x|| -> ‖x‖, |x| -> ∣x∣, and a literal * escaped."""
    for pat, rep in _PRETTY:
        text = re.sub(pat, rep, text)
    return text.replace("||", "‖").replace("|", "∣").replace("*", "\\*")


_SUB = re.compile(r"(?<=[ρσκTEΣwuλΩ²])_([A-Za-z0-9∞]+(?:,[A-Za-z0-9∞]+)*)")


def md(text: str, html: bool = True) -> str:
    """Page text as Markdown: the single asterisks of W*, B*, σ* escaped (**bold** kept), and
    subscripts typeset (ρ_GD -> ρ<sub>GD</sub>, ‖·‖_F -> ‖·‖<sub>F</sub>; without HTML, KaTeX: ρ$_{GD}$)."""
    text = re.sub(r"(?<![*\\])\*(?!\*)", r"\\*", text)
    if html:
        return _SUB.sub(r"<sub>\1</sub>", text.replace("‖_F", "‖<sub>F</sub>"))
    return _SUB.sub(lambda m: "$_{\\mathrm{" + m.group(1).replace("∞", "\\infty") + "}}$", text)


def num(x, digits: int = 3) -> str:
    """A number for the page: 3 significant digits; inf -> '∞'; None or NaN -> '—' (no value)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if isinstance(x, float | np.floating) and math.isinf(x):
        return "∞"
    if isinstance(x, int | np.integer) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e6):
        return f"{int(x):,}"
    return f"{x:.{digits}g}"
