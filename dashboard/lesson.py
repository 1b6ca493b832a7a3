"""The guided lesson's eight steps: their settings, their computations and their words.

Pure functions (no Streamlit): ``compute(slug, settings)`` runs a step's small runs with the
library and returns plain data; ``words(slug, result)`` turns that data into the step's two or
three sentences, so every number in the text is computed from the runs just made (the
tests check the numbers against the data). ``dashboard.lesson_view`` caches the computations
and passes them through the server's admission controller; ``pages/3_Lesson.py`` draws them.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from shallowres import initial_point, make_problem, run, theory
from shallowres.budget import run_bytes
from shallowres.landscape import landscape
from shallowres.linear import masks, signed_masks
from shallowres.solvers import plan_run, theory_eta
from shallowres.spectrum import extreme_singular_values
from shallowres.sweep import SweepSpec, run_sweep

from .landscape_figure import path_indices
from .state import MEMORY_BUDGET, defaults

PAPER = dict(d=20, n=1700, gamma=2.0, delta=0.8, alg="both", init="identity", resample=False, eta="theory",
             noise=0.0, seed=0, gd_iters=1000, am_iters=50, tol=1e-8)
BOUNDS_HOLD = dict(d=2, n=4000, gamma=0.01, seed=0, eps=1e-8)
PHASE_N = (48, 64, 80, 96, 128, 192)
PHASE = dict(d=8, gamma=1.0, trials=3, gd_iters=1000, am_iters=30)
SUCCESS = 0.01                  # the paper's recovery threshold on the relative error
AM_INNER = 3                    # inexact AM's CG iterations per step in the baselines table


@dataclass(frozen=True)
class Step:
    """One step: URL slug, title, what it sets (on top of the paper's setting) and a rough cost."""

    slug: str
    title: str
    overrides: dict
    seconds: float               # rough compute time on one free core, for the server's queue

    @property
    def settings(self) -> dict:
        """The shared settings this step puts on the Train page."""
        return {**defaults(), **PAPER, **self.overrides}


STEPS: tuple[Step, ...] = (
    Step("model", "The model", {}, 0.2),
    Step("gd-vs-am", "GD vs AM at the paper's setting", {}, 3.0),
    Step("stall", "Why GD stalls at the theory step", dict(alg="gd", gd_iters=3000), 4.0),
    Step("few-samples", "Too few samples", dict(n=300), 1.0),
    Step("far", "Far from identity", dict(gamma=6.0, am_iters=30), 2.0),
    Step("fresh", "Fresh samples", dict(gamma=1.5, resample=True, gd_iters=500), 2.5),
    Step("theory", "What the theory promises, and where it is vacuous", dict(eps=1e-8), 0.5),
    Step("phase", "The phase transition", dict(d=PHASE["d"], n=PHASE["d"] ** 2, gamma=PHASE["gamma"]), 8.0),
)
SLUGS = tuple(s.slug for s in STEPS)


def step(slug: str) -> Step:
    """The step named ``slug``; ValueError naming the allowed ones otherwise."""
    for s in STEPS:
        if s.slug == slug:
            return s
    raise ValueError(f"step must be one of {', '.join(SLUGS)}; got {slug!r}")


# ----- numbers in words -------------------------------------------------------------------------

def sci(x: float, digits: int = 2) -> str:
    """1.234e-05 -> '1.2e-5'; 0 -> '0'; inf -> '∞'."""
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return "∞" if x > 0 else "—"
    m, e = f"{x:.{digits - 1}e}".split("e")
    return f"{m}e{int(e)}"


def num(x: float, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, thousands separated: 1700 -> '1,700'."""
    if isinstance(x, int | np.integer):
        return f"{int(x):,}"
    if not math.isfinite(x):
        return "∞" if x > 0 else "—"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def secs(x: float) -> str:
    return f"{x:.2f} s" if x < 10 else f"{x:.0f} s"


# ----- what a step computes -------------------------------------------------------------------

def _problem(s: Mapping):
    return make_problem(d=s["d"], n=s["n"], gamma=s["gamma"], noise=s["noise"], seed=s["seed"],
                        memory_budget=MEMORY_BUDGET)


def _summary(res) -> dict:
    """What the page keeps of a run: its history and how it ended."""
    h = res.history
    return dict(t=h["t"], rel_err=h["rel_err"], seconds=h["seconds"], train_loss=h["train_loss"],
                test_loss=h["test_loss"], flips=h["flips_teacher"], n_iter=int(res.n_iter),
                stop_reason=res.stop_reason, message=res.message, wall=float(res.seconds),
                final=float(res.rel_err))


def _first_below(rel_err: np.ndarray, eps: float) -> int | None:
    hit = np.flatnonzero(np.asarray(rel_err) < eps)
    return int(hit[0]) if len(hit) else None


def _run(p, alg: str, s: Mapping, **kw):
    iters = kw.pop("iters", s["gd_iters"] if alg == "gd" else s["am_iters"])
    return run(p, alg, init=kw.pop("init", s["init"]), delta=s["delta"], eta=kw.pop("eta", s["eta"]),
               resample=kw.pop("resample", s["resample"]), iters=iters, tol=kw.pop("tol", s["tol"]),
               memory_budget=MEMORY_BUDGET, **kw)


def compute_model(s: Mapping) -> dict:
    p = _problem(s)
    W0 = initial_point(p, s["init"], s["delta"])
    M0, Ms = masks(p.X, W0 + np.eye(p.d)), masks(p.X, p.U_star)
    return dict(problem=p, W0=W0, gamma=p.gamma, scale=p.scale, rel0=float(np.linalg.norm(W0 - p.W_star)) / p.scale,
                active=float(Ms.mean()), flips0=int(np.count_nonzero(M0 != Ms)), cells=p.n * p.d,
                positive=int(np.sum(p.v_star > 0)), d=p.d, n=p.n)


def compute_gd_vs_am(s: Mapping) -> dict:
    p = _problem(s)
    gd = _run(p, "gd", s, keep_W=True)
    am = _run(p, "am", s, keep_W=True)
    keep = path_indices(len(gd.records))
    paths = {"gd": np.array([gd.records[i].W for i in keep]), "am": np.array([r.W for r in am.records])}
    sl = landscape(p, "plane", paths=paths)
    base = {}
    for key, alg, kw in (("sgd", "sgd", dict(init="random", iters=1000)),
                         ("adam", "adam", dict(init="random", iters=1000)),
                         ("am_inexact", "am", dict(am_inner=AM_INNER, iters=200))):
        base[key] = _summary(_run(p, alg, s, **kw))
    return dict(problem=p, gd=_summary(gd), am=_summary(am), gd_keep=keep, paths=paths, slice=sl,
                landscape_seconds=sl.seconds, grid=len(sl.a), baselines=base, am_W=paths["am"])


def compute_stall(s: Mapping) -> dict:
    p = _problem(s)
    I = np.eye(p.d)
    S_star = signed_masks(masks(p.X, p.U_star), p.v_star)
    _, hi_star = extreme_singular_values(p.X, S_star)
    out = dict(sigma_max_star2=hi_star**2)
    for key, init, scale in (("theory", "identity", 1.0), ("scaled", "identity", 0.9), ("random", "random", 1.0)):
        W0 = initial_point(p, init, s["delta"])
        eta = scale * theory_eta(p.X, signed_masks(masks(p.X, W0 + I), p.v_star))
        res = _run(p, "gd", s, init=init, eta=eta, iters=s["gd_iters"])
        out[key] = dict(_summary(res), eta=eta, edge=eta * hi_star**2)
    e = out["theory"]["rel_err"]
    out["low"], out["low_t"] = float(e.min()), int(np.argmin(e))
    return out


def compute_few(s: Mapping) -> dict:
    p = _problem(s)
    gd, am = _run(p, "gd", s), _run(p, "am", s, keep_W=True)
    return dict(problem=p, gd=_summary(gd), am=_summary(am), am_W=am.W, d2=p.d**2, n=p.n,
                underdetermined=bool(am.records[-1].underdetermined))


def compute_far(s: Mapping) -> dict:
    p = _problem(s)
    out = dict(problem=p, bound=s["delta"] * math.sqrt(p.d) / (1 + s["delta"]), gamma=p.gamma, delta=s["delta"])
    for init in ("identity", "random"):
        W0 = initial_point(p, init, s["delta"])
        out[f"start_{init}"] = float(np.linalg.norm(W0 - p.W_star)) / p.scale
        for alg in ("gd", "am"):
            res = _run(p, alg, s, init=init, keep_W=alg == "am")
            out[f"{alg}_{init}"] = _summary(res)
            if alg == "am":
                out[f"am_{init}_W"] = res.W
    return out


def compute_fresh(s: Mapping) -> dict:
    p = _problem(s)
    out = dict(n=p.n, gamma=p.gamma)
    for fresh in (False, True):
        for alg in ("gd", "am"):
            out[f"{alg}_{'fresh' if fresh else 'fixed'}"] = _summary(_run(p, alg, s, resample=fresh))
    out["tol"] = s["tol"]
    return out


def compute_theory(s: Mapping) -> dict:
    p = _problem(s)
    th = theory(p, init=s["init"], delta=s["delta"], eps=s["eps"], eta=s["eta"], memory_budget=MEMORY_BUDGET)
    q = {**s, **BOUNDS_HOLD}
    small = _problem(q)
    th_small = theory(small, eps=q["eps"], memory_budget=MEMORY_BUDGET)
    runs = {alg: _summary(_run(small, alg, q, tol=q["eps"], iters=3000 if alg == "gd" else 50))
            for alg in ("gd", "am")}
    keys = ("kappa", "rho3", "rho3_unit_scale", "sigma_max", "rho_gd", "rho_am", "rho_gd_tight", "rho_am_tight",
            "t_ratio_pred", "t_gd", "t_am", "assumption1_bound", "rel_err0")
    return dict(paper={k: getattr(th, k) for k in keys}, small={k: getattr(th_small, k) for k in keys},
                small_runs=runs, small_settings=q, eps=s["eps"])


def compute_phase(s: Mapping) -> dict:
    spec = SweepSpec(n=PHASE_N, d=(s["d"],), gamma=(s["gamma"],), inits=("identity",), trials=PHASE["trials"],
                     gd_iters=PHASE["gd_iters"], am_iters=PHASE["am_iters"], seed=s["seed"],
                     memory_budget=MEMORY_BUDGET)
    res = run_sweep(spec, "serial")
    rates = {alg: [r.probability for r in res.rows if r.alg == alg] for alg in ("gd", "am")}
    iters = {alg: [r.median_iters for r in res.rows if r.alg == alg] for alg in ("gd", "am")}
    return dict(n=list(spec.n), rates=rates, iters=iters, d=s["d"], trials=spec.trials, seconds=res.seconds,
                gd_iters=spec.gd_iters, am_iters=spec.am_iters, eta=str(spec.eta))


COMPUTE = {"model": compute_model, "gd-vs-am": compute_gd_vs_am, "stall": compute_stall, "few-samples": compute_few,
           "far": compute_far, "fresh": compute_fresh, "theory": compute_theory, "phase": compute_phase}


def compute(slug: str, settings: Mapping | None = None) -> dict:
    """Step ``slug``'s runs at ``settings`` (default: the step's own)."""
    return COMPUTE[step(slug).slug](settings or step(slug).settings)


def memory_bytes(slug: str, settings: Mapping | None = None) -> int:
    """Memory a step's computation may hold at once (its largest run, every W^t kept where a
    picture needs it), capped at the per-run guard: what the admission controller reserves."""
    s = settings or step(slug).settings
    n, d = (max(PHASE_N), s["d"]) if slug == "phase" else (s["n"], s["d"])
    most = 0
    for alg, iters in (("gd", max(s["gd_iters"], 3000)), ("am", s["am_iters"]), ("sgd", 1000)):
        path = plan_run(n, d, alg, iters=iters, memory_budget=MEMORY_BUDGET)
        most = max(most, run_bytes(n, d, alg, path, iters, slug == "gd-vs-am", s["resample"]))
    return int(min(most + 2 * 2**20, MEMORY_BUDGET))


# ----- what a step says --------------------------------------------------------------------------

def _ends(r: Mapping, tol: float, unit: str = "iterations") -> str:
    """'falls below 1e-8 after 7 iterations (0.08 s)' or 'ends at 3.0e-3 after 1,000 iterations (0.70 s)'."""
    hit = _first_below(r["rel_err"], tol)
    if hit is not None:
        return f"falls below {sci(tol, 1)} after **{hit:,}** {unit} ({secs(r['seconds'][hit])})"
    if r["stop_reason"] == "fixed_point":
        return f"stops at a fixed point at **{sci(r['final'])}** after {r['n_iter']:,} {unit} ({secs(r['wall'])})"
    e = np.asarray(r["rel_err"])
    falling = len(e) > 10 and e[-1] < 0.5 * e[int(0.8 * (len(e) - 1))]
    return (f"ends at **{sci(r['final'])}** after {r['n_iter']:,} {unit}{', still falling,' if falling else ''} "
            f"({secs(r['wall'])})")


def words_model(r: Mapping) -> list[str]:
    return [
        f"The teacher is a network with d = {r['d']} inputs and d = {r['d']} hidden ReLUs: y = relu(X(W* + I))v*, "
        f"where the skip connection I adds each input to its own hidden unit and v* fixes the output signs "
        f"({r['positive']} of them +1). Its weights W* have ‖W*‖_F = {num(r['gamma'])}, so the identity start W⁰ = 0 "
        f"begins at relative error ‖W⁰ − W*‖_F / ‖W* + I‖_F = **{num(r['rel0'])}**.",
        f"On the n = {r['n']:,} training samples, {num(100 * r['active'], 3)}% of the teacher's {r['cells']:,} "
        f"(sample, neuron) ReLU states are on. At W⁰, **{r['flips0']:,}** of them "
        f"({num(100 * r['flips0'] / r['cells'], 2)}%) differ from the teacher's — the flips that make the problem "
        "non-linear. Look at the hidden units' counts in the diagram: learning W* means driving them all to 0.",
    ]


def words_gd_vs_am(r: Mapping, tol: float) -> list[str]:
    gd, am = r["gd"], r["am"]
    b = r["baselines"]
    return [
        f"**AM** {_ends(am, tol)}; **GD** with the theory step {_ends(gd, tol)}. AM freezes the masks and solves the "
        "least-squares problem (3) of that linear piece exactly, so each step jumps to the bottom of the piece's bowl "
        "(numbered dots on the landscape); GD crawls down the curved valley.",
        f"Move the iteration slider: AM's flips fall from {int(am['flips'][0]):,} to {int(am['flips'][-1]):,} "
        f"in {am['n_iter']} steps, and once the masks match the teacher's, the next solve lands on W*. "
        f"The table adds Table I's baselines on the same data: mini-batch SGD {_ends(b['sgd'], tol, 'epochs')}, "
        f"Adam {_ends(b['adam'], tol, 'epochs')}, inexact AM with {AM_INNER} CG iterations per step "
        f"{_ends(b['am_inexact'], tol)}.",
    ]


def words_stall(r: Mapping, tol: float) -> list[str]:
    th, sc, rnd = r["theory"], r["scaled"], r["random"]
    over = th["edge"] > 2
    stalls = over and th["final"] > 1.01 * r["low"]
    tail = (f"bottoms out at {sci(r['low'])} (t = {r['low_t']:,}) and creeps back up to {sci(th['final'])} at "
            f"t = {th['n_iter']:,} instead of falling" if stalls else f"{_ends(th, tol)}")
    return [
        f"The theory step η = 2/(σ²_min + σ²_max) = {num(th['eta'])} is chosen at W⁰, but at W* the largest "
        f"squared singular value of B/√n is larger: **η σ*²_max = {th['edge']:.4f}**{' > 2' if over else ''}, so "
        f"near W* GD's linear map I − ηB*ᵀB*/n multiplies one direction by |1 − η σ*²_max| = "
        f"{abs(1 - th['edge']):.4f} per step. The error {tail}.",
        f"With 0.9 × that step (η σ*²_max = {sc['edge']:.3f}) GD {_ends(sc, tol)}. From a random start the theory "
        f"step, computed at that W⁰, is {num(rnd['eta'])}, so η σ*²_max = {rnd['edge']:.4f} — "
        f"{'below' if rnd['edge'] < 2 else 'above'} 2 — which is why GD from a random start "
        f"{'ends better' if rnd['final'] < th['final'] else 'does no better'} ({sci(rnd['final'])} against "
        f"{sci(th['final'])}).",
    ]


def words_few(r: Mapping, tol: float) -> list[str]:
    gd, am = r["gd"], r["am"]
    return [
        f"With n = {r['n']:,} samples for d² = {r['d2']:,} unknowns, AM's least-squares step (3) has many solutions "
        "and AM takes the one nearest the identity: it fits the training data to a loss of "
        f"**{sci(am['train_loss'][-1])}**, yet its relative error stays at **{num(am['final'])}** and its test "
        f"loss is {sci(am['test_loss'][-1])}.",
        f"GD does no better: relative error {num(gd['final'])} after {gd['n_iter']:,} iterations (test loss "
        f"{sci(gd['test_loss'][-1])}). The data no longer pin W* down — see the right panel: Wᵗ − W* is not white.",
    ]


def words_far(r: Mapping, tol: float) -> list[str]:
    ok = r["gamma"] <= r["bound"]
    inside = r["start_identity"] <= r["delta"]
    gi, ai, gr, ar = r["gd_identity"], r["am_identity"], r["gd_random"], r["am_random"]
    start = (f"just inside Theorem 1's δ = {r['delta']:g} (Assumption 1 is only a sufficient condition), so the "
             "theorem's start condition still holds — only its other conditions can fail" if inside else
             f"outside Theorem 1's δ = {r['delta']:g}, so the theorem promises nothing")
    return [
        f"Now ‖W*‖_F = {num(r['gamma'])}, {'within' if ok else 'beyond'} Assumption 1's bound δ√d/(1 + δ) = "
        f"{num(r['bound'])}: the identity start sits at relative error {num(r['start_identity'])}, {start}.",
        f"From the identity, AM {_ends(ai, tol)} and GD {_ends(gi, tol)}; from a random start "
        f"(relative error {num(r['start_random'])}), AM {_ends(ar, tol)} and GD {_ends(gr, tol)}. "
        "The masks show where AM ends: the flips it could not remove.",
    ]


def words_fresh(r: Mapping, tol: float) -> list[str]:
    af, ax, gf, gx = r["am_fresh"], r["am_fixed"], r["gd_fresh"], r["gd_fixed"]
    used = (af["n_iter"] + 1) * r["n"]
    return [
        f"The proofs assume a fresh batch of n = {r['n']:,} samples at every iteration (Lemmas 1 and 2). "
        f"With fresh samples AM {_ends(af, tol)}, drawing {used:,} samples in all; on one fixed set it "
        f"{_ends(ax, tol)}.",
        f"GD: fresh {_ends(gf, tol)}; fixed {_ends(gx, tol)}. "
        + (f"All four runs recover W* (relative error below the paper's {SUCCESS:g}): resampling is what the "
           "proofs need (it makes each step's masks independent of the data they are tested on), not what the "
           "algorithms need here" + ("; fresh samples even speed GD up." if gf["final"] < 0.5 * gx["final"] else ".")
           if max(af["final"], ax["final"], gf["final"], gx["final"]) < SUCCESS else
           "Compare the dashed (fresh) and solid (fixed) lines: where they part is where reusing one data set "
           "helps or hurts."),
    ]


def words_theory(r: Mapping) -> list[str]:
    p, q, runs = r["paper"], r["small"], r["small_runs"]
    eps = r["small_settings"]["eps"]
    t_gd, t_am = _first_below(runs["gd"]["rel_err"], eps), _first_below(runs["am"]["rel_err"], eps)
    measured = (f"the runs need **{t_gd:,}** and **{t_am:,}** iterations to {sci(eps, 1)}"
                if t_gd is not None and t_am is not None else "the runs do not both reach it")
    pred = f"{num(q['t_ratio_pred'])}" if q["t_ratio_pred"] is not None else "—"
    return [
        "Theorem 1 promises ‖Wᵗ⁺¹ − W*‖ ≤ ρ‖Wᵗ − W*‖ with ρ_GD from (4) and ρ_AM from (5). At the paper's setting, "
        f"at W⁰: κ = {num(p['kappa'])}, ρ₃ = {num(p['rho3_unit_scale'])} (N(0, 1) units), so "
        f"**ρ_GD = {num(p['rho_gd'])}** and **ρ_AM = {num(p['rho_am'])}**: factors ≥ 1 promise nothing (the "
        "bounds are vacuous), although both algorithms converge.",
        f"The bounds drop below 1 only in tiny settings, e.g. d = {r['small_settings']['d']}, n = "
        f"{r['small_settings']['n']:,}, ‖W*‖_F = {r['small_settings']['gamma']:g}: ρ_GD = {num(q['rho_gd'])}, "
        f"ρ_AM = {num(q['rho_am'])}, predicted T_GD/T_AM = {pred}; {measured}.",
    ]


def words_phase(r: Mapping) -> list[str]:
    def first_all(alg):
        for n, rate in zip(r["n"], r["rates"][alg], strict=True):
            if rate == 1.0:
                return n
        return None

    am_n, gd_n = first_all("am"), first_all("gd")
    d2 = r["d"] ** 2

    def at(n):
        return "never on this grid" if n is None else f"from n = {n} on (n/d² = {n / d2:.2g})"

    return [
        f"{r['trials']} trials per n at d = {r['d']} (new teacher, data and start each), recovery meaning relative "
        f"error < {SUCCESS:g} as in the paper's Fig. 1(a): AM recovers W* in every trial {at(am_n)}; GD "
        f"(0.9 × the theory step, at most {r['gd_iters']:,} iterations) {at(gd_n)}.",
        f"Below n = d² = {d2} the least-squares step has many solutions and nothing recovers W*; the transition sits "
        "just above it. The Phase transition page runs the paper's grid (d = 20) with more trials.",
    ]


def words(slug: str, result: Mapping, tol: float = 1e-8) -> list[str]:
    """The step's sentences (Markdown), every number taken from ``result``."""
    if slug == "model":
        return words_model(result)
    if slug == "theory":
        return words_theory(result)
    if slug == "phase":
        return words_phase(result)
    return {"gd-vs-am": words_gd_vs_am, "stall": words_stall, "few-samples": words_few, "far": words_far,
            "fresh": words_fresh}[slug](result, tol)
