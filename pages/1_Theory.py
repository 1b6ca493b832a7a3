"""Theory page: what the paper's bounds predict, from worst case to sharp, next to what the runs do.

Self-contained (legacy ``pages/`` folder, no st.navigation), so a deep link such as
``/Theory?d=10&n=500`` works on a freshly started server. Every number is computed from
the settings by ``dashboard.theory_view`` (cached pure functions).
"""
from __future__ import annotations

import math

import numpy as np
import streamlit as st

from dashboard import state, theory_figures, theory_view, widgets
from dashboard.theory_view import md, num, pretty
from shallowres.ladder import FLOOR
from shallowres.proof_loss import proof_losses
from shallowres.threads import single_threaded_blas

single_threaded_blas()   # hosted: a fraction of a core, many sessions
st.set_page_config(page_title="shallowres · Theory", page_icon="📐", layout="wide")

SETTINGS_LINE = ("d = {d} · n = {n:,} (n/d² = {ratio:.2f}) · γ = ‖W*‖<sub>F</sub> = {gamma:g} · δ = {delta:g} · "
                 "init: {init} · fresh samples: {fresh} · η: {eta} · ε = {eps:g}")
CHART = {"displaylogo": False}
RUNG_LABELS = {
    "paper": ("(a) paper's bounds (4)–(5)",
              "Lemmas 1–2 as written, the proof's step η, the rates at W⁰ for every step"),
    "tight": ("(b) the proof tightened, at W⁰",
              "‖Σ_q E_q‖ for Σ_q‖E_q‖, 1/σ_min for σ_max/σ²_min, GD's own η; the rates at W⁰ for every step"),
    "tight_path": ("(b′) the proof tightened, at every Wᵗ",
                   "as (b), evaluated at each iterate the runs visit and multiplied; the last rate continues"),
    "local": ("(c) local model near W*",
              "GD: the linear map I − η B*ᵀB*/n (masks = teacher's); AM: its exact first step, then "
              "e′ = c·e^(3/2), landing once the masks match"),
    "measured": ("(d) measured", "nothing: the runs on this problem"),
}
NAMES = {"gd": "Gradient descent", "am": "Alternating minimization"}


def _md(show, text: str, **kw) -> None:
    """Markdown with the single asterisks of W*, B* escaped and subscripts typeset (HTML)."""
    show(md(text), unsafe_allow_html=True, **kw)


def _alert(show, text: str, **kw) -> None:
    """An alert box (no HTML there: subscripts by KaTeX) with the asterisks escaped."""
    show(md(text, html=False), **kw)


# ----- the ladder ---------------------------------------------------------------------------------

def ladder_section(th, meas: dict, eps: float) -> None:
    rungs = [th.rung("paper"), th.rung("tight"), meas["path_rung"], th.rung("local"), meas["measured_rung"]]
    notes: list[str] = []

    def note(why: str) -> str:
        """A footnote marker for ``why`` (the same text keeps its number)."""
        text = pretty(why)
        if text not in notes:
            notes.append(text)
        return f"<sup>{notes.index(text) + 1}</sup>"

    def count(r, key) -> str:
        value = getattr(r, key)
        if math.isfinite(value):
            return num(value)
        return "never" + (note(r.reasons[key]) if key in r.reasons else "")

    def ratio(r, key) -> str:
        value = getattr(r, key)
        if value is not None:
            return f"**{num(value)}**"
        why = r.reasons.get(key, "")
        counts_missing = not (math.isfinite(r.t_gd) and math.isfinite(r.t_am))
        implied = counts_missing and any(w in why for w in (">= 1", "count", "not evaluated"))
        return "—" if implied or not why else "—" + note(why)

    def rate(value) -> str:
        if value is None:
            return "—"
        return "0 (lands)" if value == 0 else num(value, 4)

    lines = ["| Rung | What it assumes | rate GD | rate AM | T_GD | T_AM | T_GD/T_AM at ε | "
             "log(1/ρ_AM) / log(1/ρ_GD) |", "|---|---|---|---|---|---|---|---|"]
    for r in rungs:
        label, assumes = RUNG_LABELS[r.key]
        lines.append(f"| {label} | {assumes} | {rate(r.rate_gd)} | {rate(r.rate_am)} | {count(r, 't_gd')} | "
                     f"{count(r, 't_am')} | {ratio(r, 'ratio_eps')} | {ratio(r, 'ratio_log')} |")
    _md(st.markdown, "\n".join(lines))
    if notes:
        _md(st.markdown, "\n".join(f"{i}. {w}" for i, w in enumerate(notes, 1)))
    _md(st.caption, f"Rates: per-step contraction factors of ‖Wᵗ − W*‖<sub>F</sub> (no unit; (b′): the bound at "
        "the last step; (d): the runs' asymptotic rates). T: iterations until ‖Wᵗ − W*‖<sub>F</sub> / "
        f"‖W* + I‖<sub>F</sub> < ε = {eps:g}, from {num(th.rel_err0)} at W⁰. Two ratios: of the counts at ε "
        "(like for like with the runs) and the slides' ratio of log-rates (the same for every ε).")


def termination_sentence(meas: dict) -> str | None:
    """One sentence on AM's finite termination, with the measured local order if there are enough steps."""
    am = meas["am"]
    e, flips = np.asarray(am["rel_err"]), np.asarray(am["flips"])
    matched = np.flatnonzero(flips[:-1] == 0)
    if not len(matched) or e[matched[0] + 1] > 1e-6 * e[matched[0]]:
        return None
    t = int(matched[0]) + 1
    many = np.flatnonzero(flips[:-1] >= 20)
    order = ""
    if len(many) >= 3:
        k = np.polyfit(np.log(e[many]), np.log(e[many + 1]), 1)[0]
        order = f"; here log eₜ₊₁ against log eₜ has slope {k:.2f}"
    return (f"AM lands exactly on W* at t = {t}: near W* its E-term shrinks faster than the error, because both "
            f"the mass of mismatched samples and their margins shrink with it (eₜ₊₁ ≈ c·eₜ^(3/2){order}), and once "
            "no ReLU disagrees with the teacher its least-squares step (3) is exact — so the measured T_GD/T_AM "
            "grows with log(1/ε), while the slides' ratio of log-rates does not depend on ε.")


def verdict_banner(th, meas: dict) -> None:
    if th.rel_err0 == 0:
        _alert(st.info, "W⁰ = W* here (γ = 0 with the identity start): there is nothing to learn, so no rates and "
               "no iteration counts — the runs stop at once.", icon=":material/info:")
        return
    why = th.vacuous()
    if th.rho_gd < 1 and th.rho_am < 1:
        pred = (f"predicted T_GD/T_AM = **{num(th.t_ratio_pred)}**" if th.t_ratio_pred is not None
                else pretty(th.reasons.get("t_ratio_pred", "")))
        _alert(st.success, f"**The paper's bounds are below 1 here**: ρ_AM = {num(th.rho_am)} < ρ_GD = "
               f"{num(th.rho_gd)} < 1 at W⁰, so Theorem 1 promises linear convergence of both; {pred}. Every "
               "step of the runs is checked against its bound below.", icon=":material/check_circle:")
    else:
        names = {"rho_gd": f"ρ_GD (4) = {num(th.rho_gd)}", "rho_am": f"ρ_AM (5) = {num(th.rho_am)}",
                 "rho_gd_tight": f"the tightened GD bound = {num(th.rho_gd_tight)}",
                 "rho_am_tight": f"the tightened AM bound = {num(th.rho_am_tight)}"}
        _alert(st.warning, f"**At W⁰, {', '.join(names[k] for k in why)} ≥ 1**: a factor ≥ 1 promises no "
               "contraction, so these bounds are vacuous here, although the algorithms may still converge. Why:"
               "\n\n- " + "\n- ".join(pretty(c) for c in th.causes()), icon=":material/warning:")
    r = meas["measured_rung"]
    parts = []
    for alg, name in (("gd", "GD"), ("am", "AM")):
        rate = r.rate_gd if alg == "gd" else r.rate_am
        how = r.reasons.get(f"rate_{alg}_how", "")
        if rate is None:
            parts.append(f"{name} took no step")
        elif rate == 0:
            parts.append(f"{name} {how}")
        else:
            parts.append(f"{name} shrank the error by a factor **{num(rate, 4)}** per step ({how})")
    sentence = termination_sentence(meas)
    _md(st.markdown, "Measured: " + "; ".join(parts) + "." + (f"\n\n{sentence}" if sentence else ""))


# ----- every step against its bound -------------------------------------------------------------------

def _counts(path, kind: str | float) -> str:
    c = path.verdict_counts(kind)
    parts = [f"{c['holds']} hold", f"{c['holds (bound >= 1)']} hold only because the bound is ≥ 1",
             f"**{c['exceeded']} exceeded**" if c["exceeded"] else "0 exceeded"]
    if c["landed"]:
        parts.append(f"{c['landed']} after landing")
    if c["not evaluated"]:
        parts.append(f"{c['not evaluated']} not evaluated (spectra on a subset of iterates on this server)")
    return ", ".join(parts)


def per_step_section(th, meas: dict) -> None:
    cols = st.columns(2)
    for col, alg in zip(cols, ("gd", "am"), strict=True):
        path = meas[alg]["path"]
        start = th.rho_gd if alg == "gd" else th.rho_am
        local = th.rho_gd_local if alg == "gd" else None
        _md(col.markdown, f"**{NAMES[alg]}: digits gained per step, measured and promised**")
        if len(path.factor) == 0:
            col.markdown("No step: the run stopped at W⁰.")
            continue
        col.plotly_chart(theory_figures.steps_figure(path, start, local), key=f"steps-{alg}", width="stretch",
                         config=CHART)
        eq = "(4)" if alg == "gd" else "(5)"
        silent = [name for name, b in ((f"{eq} at each Wᵗ", path.bound("paper")),
                                       ("the tightened bound at each Wᵗ", path.bound("tight")),
                                       (f"{eq} at W⁰", [start]),
                                       ("the local model", [local if local is not None else 0.0]))
                  if not np.any(np.asarray(b) < 1)]
        _md(col.markdown, f"{len(path.factor):,} steps. The theorem's form, {eq} at W⁰ for every step: "
            f"{_counts(path, start)}.  \n{eq} at each Wᵗ: {_counts(path, 'paper')}.  \n"
            f"Tightened bound at each Wᵗ: {_counts(path, 'tight')}."
            + (f"  \nNo line for {', '.join(silent)}: ≥ 1 at every step, so it promises nothing." if silent else ""))
    _md(st.caption, "Digits gained per step: log₁₀(‖Wᵗ − W*‖ / ‖Wᵗ⁺¹ − W*‖); 1 means the error shrank tenfold. "
        "A bound b promises log₁₀(1/b) digits when b < 1 and holds at a step when the measured curve is on or "
        "above its line. (4) at Wᵗ assumes the step 2/(σ²_min,t + σ²_max,t) of that iterate, while GD keeps the "
        "step of W⁰, so (4) at Wᵗ can be exceeded; the tightened bounds (with GD's own η) cannot.")


def path_section(th, meas: dict, n: int) -> None:
    paths = {a: meas[a]["path"] for a in ("gd", "am")}
    c1, c2 = st.columns(2)
    _md(c1.markdown, "**Condition number κₜ of Bᵗ/√n along the runs**")
    c1.plotly_chart(theory_figures.kappa_path_figure(paths, th.kappa_inf, th.kappa_star), key="kappa-path",
                    width="stretch", config=CHART)
    _md(c2.markdown, "**The three forms of ρ₃ along the runs, in the lemmas' N(0, 1) units**")
    c2.plotly_chart(theory_figures.rho3_path_figure(paths, n), key="rho3-path", width="stretch", config=CHART)
    gd, am = paths["gd"], paths["am"]
    _md(st.caption, f"κ is scale-free. Bᵗ depends on the masks at Wᵗ, so κ moves with the iterates: "
        f"{num(th.kappa)} at W⁰, {num(th.kappa_star)} at W* (AM's path: "
        + ", ".join(num(k) for k in am.kappa[:6]) + (", …" if len(am.kappa) > 6 else "") + "). "
        "ρ₃ is per unit of ‖Wᵗ − W*‖<sub>F</sub> and multiplied by √n (our inputs are N(0, 1/n), the lemmas' "
        f"N(0, 1)): Σ‖E‖ = Σ_q‖E_q‖, √Σ‖E‖² = √(Σ_q‖E_q‖²), ‖ΣE‖ = ‖Σ_q E_q‖. Cost of this per-iterate theory: "
        f"GD {gd.seconds:.1f} s ({gd.spectra_computed} spectra computed, {gd.cache_hits} reused by activation "
        f"pattern), AM {am.seconds:.2f} s.")


def proof_loss_section(meas: dict) -> None:
    paths = {a: meas[a]["path"] for a in ("gd", "am")}
    valid = {a: [t for t in range(len(p.err) - 1) if p.err[t] > FLOOR * p.scale and p.evaluated[t]]
             for a, p in paths.items()}
    if not any(valid.values()):
        st.markdown("No step to analyse: the runs took none.")
        return
    top = max(max(v) for v in valid.values() if v)
    t = st.number_input("Iterate t at which to measure the chain (GD and AM each at their own Wᵗ)", 0, top, 0,
                        key="theory_loss_t",
                        help="t = 0 is the start W⁰. After a run has landed on W* there is no error left to bound.")
    cols = st.columns(2)
    for col, a in zip(cols, ("gd", "am"), strict=True):
        p = paths[a]
        if not valid[a]:
            col.markdown(f"**{NAMES[a]}**: no step to analyse.")
            continue
        earlier = [x for x in valid[a] if x <= t]
        tt = earlier[-1] if earlier else valid[a][0]
        chain = proof_losses(p, tt)
        rows = ["| inequality | bound on ‖Wᵗ⁺¹ − W*‖ / ‖Wᵗ − W*‖ | gives away |", "|---|---|---|",
                f"| the step taken | {num(chain[0].before, 4)} | |"]
        total = 1.0
        for x in chain:
            total *= x.factor
            away = "∞ (the step landed)" if math.isinf(x.factor) else f"× {num(x.factor, 3)}"
            rows.append(f"| {pretty(x.text)} | {num(x.after, 4)} | {away} |")
        _md(col.markdown, f"**{NAMES[a]}, step {tt} → {tt + 1}**"
            + ("" if tt == t else f" (its last step before landing; asked for t = {t})"))
        _md(col.markdown, "\n".join(rows))
        _md(col.caption, f"In all the chain gives away × {num(total)} between the step taken and the paper's bound."
            + (" A factor below 1 on the last line means (4) is below the tightened bound: with GD's own η, (4) "
               "is not a bound at this iterate." if a == "gd" else ""))


# ----- samples, units, small settings ----------------------------------------------------------------

def samples_section(th, curve: dict | None, settings: dict) -> None:
    d, n = settings["d"], settings["n"]
    if curve is not None:
        st.plotly_chart(theory_figures.kappa_n_figure(curve, n), key="kappa-n", width="stretch", config=CHART)
    else:
        _md(st.caption, f"The κ-against-n curve is drawn for d ≤ {theory_view.CURVE_MAX_D} on this shared server "
            "(one d² × d² eigenproblem per point).")
    if th.kappa_inf is None:
        _md(st.markdown, pretty(th.reasons.get("kappa_inf", "")))
        return
    best = (th.kappa_inf - 1) / (th.kappa_inf + 1)
    text = (f"As n → ∞, κ(B/√n) at W⁰ tends to **κ_∞ = {num(th.kappa_inf)}** (closed form of E[BᵀB]/n for Gaussian "
            f"inputs; 3(d + 1) = {3 * (d + 1)}), not to 1; at this n it is {num(th.kappa)}. More samples buy a "
            f"better-conditioned B — GD's best linear rate (κ − 1)/(κ + 1) falls from {num(th.rho4, 4)} to "
            f"{num(best, 4)} at best — and no more. ")
    if th.rho_gd_inf is not None and th.rho_am_inf is not None:
        limits = f"The paper's bounds at W⁰ tend to ρ_GD,∞ = {num(th.rho_gd_inf)} and ρ_AM,∞ = {num(th.rho_am_inf)}"
        if th.rho_am_inf >= 1:
            text += (f"{limits}: **no number of samples makes them < 1 at this γ**, because ρ₃ does not shrink with "
                     f"n either (ρ₃,∞ = {num(th.rho3_inf_unit)} in N(0, 1) units).")
        else:
            text += f"{limits} < 1: with enough samples they hold at this γ."
    _md(st.markdown, text)


def tiny_section(th, settings: dict) -> None:
    d = settings["d"]
    if settings["init"] != "identity" or th.gamma == 0 or th.kappa_inf is None:
        return
    limit = theory_view.gamma_limit(settings)
    if limit is None:
        return
    r_am, g_max = limit
    _md(st.markdown, f"**Why the settings where the bounds hold are tiny.** ρ_GD = ((κ − 1) + 2ρ_AM)/(κ + 1) is "
        "below 1 exactly when ρ_AM = κρ₃/σ_max is, and ρ_AM is large: κ stays near 3(d + 1) = "
        f"{3 * (d + 1)} however many samples, and ρ₃ at the identity start grows like √γ while γ is small. With "
        f"n → ∞ and this teacher's direction, ρ_AM (5) = {num(r_am)} at γ = {th.gamma:g}, and it falls below 1 "
        f"only for **γ < {num(g_max)}** (d = {d}). Hence the “Bounds hold” preset — d = 2, n = 4000, γ = 0.01: a "
        "teacher within a percent of the identity, in two dimensions.")


def units_section(th) -> None:
    sq = math.sqrt(th.n)
    cor = theory_view.RHO3_COROLLARY
    rows = ["| form of ρ₃ at W⁰ | where it enters | ours (inputs N(0, 1/n)) | lemmas' units (× √n) | "
            "vs √0.14 = 0.374 |", "|---|---|---|---|---|"]
    for name, where, val in (("Σ_q‖E_q‖ / ‖W⁰ − W*‖", "the proof as written", th.rho3_sum),
                             ("√(Σ_q‖E_q‖²) / ‖W⁰ − W*‖", "Lemma 2 and Corollary 1 bound this", th.rho3_rss),
                             ("‖Σ_q E_q‖ / ‖W⁰ − W*‖", "all the proof step needs", th.rho3_norm_of_sum)):
        verdict = "—" if th.rel_err0 == 0 else (":green[below]" if sq * val < cor else ":orange[above]")
        rows.append(f"| {name} | {where} | {num(val)} | {num(sq * val)} | {verdict} |")
    _md(st.markdown, "\n".join(rows))
    _md(st.caption, "‖Σ_q E_q‖ ≤ Σ_q‖E_q‖ ≤ √k·√(Σ_q‖E_q‖²): Corollary 1 bounds the root-sum-square, while the "
        "proof uses the sum, up to √k times larger — a gap in the slides' chain. κ and ρ_AM are scale-free; σ and "
        "ρ₃ carry a factor √n between the two units.")
    st.latex(r"\Omega\!\left(\frac{1}{\kappa_w^2\,\lambda}\right) \le \frac{\sigma_{\min}^2(B)}{n}"
             r" \le \frac{\sigma_{\max}^2(B)}{n} \le O(k),\qquad \kappa_w = \frac{\sigma_1}{\sigma_k},"
             r"\quad \lambda = \frac{\prod_{q} \sigma_q}{\sigma_k^{k}}\qquad\text{(Lemma 1, inputs } N(0,1))")
    lower = 1.0 / (th.kappa_w**2 * th.lam) if math.isfinite(th.lam) and th.lam > 0 else 0.0
    n = th.n
    c = st.columns(4)
    c[0].metric(r"$\kappa_w = \sigma_1/\sigma_k$ of $W^* + I$", num(th.kappa_w))
    c[1].metric(r"$\lambda = \prod_q \sigma_q / \sigma_k^k$",
                f"10^{th.log10_lambda:.2f}" if th.log10_lambda > 6 else num(th.lam))
    c[2].metric(r"$\sigma^2_{\min}(B^*)/n$, $N(0, 1)$ units", num(n * th.sigma_min_star**2),
                help="n·σ²_min of our B*/√n: the lemma's σ²_min(B)/n for N(0, 1) inputs, at W*.")
    c[3].metric(r"$\sigma^2_{\max}(B^*)/n$, $N(0, 1)$ units", num(n * th.sigma_max_star**2))
    inf = (f"; as n → ∞ at W⁰: {num(th.sigma_min_inf_unit**2)} and {num(th.sigma_max_inf_unit**2)}"
           if th.sigma_min_inf_unit is not None else "")
    _md(st.markdown, "All at W*, one point for the whole lemma (it is about B near W*, and κ_w, λ are those of "
        f"W* + I): lower end 1/(κ_w²λ) = {num(lower)} against σ²_min(B*)/n = **{num(n * th.sigma_min_star**2)}**; "
        f"upper end k = {th.d} against σ²_max(B*)/n = **{num(n * th.sigma_max_star**2)}** (N(0, 1) units{inf}). "
        "Ω and O hide constants, so these compare orders of magnitude only.")


def checklist(th) -> None:
    need = th.d**3 * math.log(th.d)
    items = [
        ("Assumption 1", "γ ≤ δ√d/(1 + δ)", f"{th.gamma:.3g} vs {th.assumption1_bound:.3f}", th.assumption1_holds),
        ("Theorem 1: start", "‖W⁰ − W*‖<sub>F</sub> ≤ δ‖W* + I‖<sub>F</sub>", f"{th.rel_err0:.3f} vs δ = {th.delta:g}",
         th.rel_err0 <= th.delta),
        ("Assumption 2 (Lemma 1)", "fresh samples every iteration", "on" if th.resample else "off", th.resample),
        ("Assumption 3 (Lemma 2)", "balanced columns: max‖w_q‖² / min‖w_q‖² bounded", f"{num(th.balance_ratio)}",
         math.isfinite(th.balance_ratio) and th.balance_ratio <= 4),
        ("AM well-posed", "n ≥ d²", f"{th.n:,} vs {th.d**2:,}", th.n >= th.d**2),
        ("Theorem 1: samples", "n > C·d·k²·log k (C = 1)", f"{th.n:,} vs {need:,.0f}", th.n > need),
        ("Theorem 1: conclusion", "ρ_AM < ρ_GD < 1", f"{num(th.rho_am)}, {num(th.rho_gd)}", th.rho_am < th.rho_gd < 1),
    ]
    lines = ["| | Condition | Here | Met |", "|---|---|---|---|"]
    yes, no = ":green[:material/check_circle: yes]", ":red[:material/cancel: no]"
    lines += [f"| {name} | {cond} | {here} | {yes if ok else no} |" for name, cond, here, ok in items]
    _md(st.markdown, "\n".join(lines))


def confirmed(settings: dict) -> bool:
    """Expensive settings wait for a click: the computation cannot be interrupted midway."""
    seconds = theory_view.seconds_estimate(settings)
    key = state.run_key(settings) + (settings["eps"],)
    if seconds <= theory_view.SLOW_SECONDS or st.session_state.get("theory_confirmed") == key:
        return True
    st.info(f"At these settings the spectra of B along both runs take roughly {seconds:,.0f} s on a shared "
            "server, and the page cannot be stopped midway.", icon=":material/hourglass:")
    if st.button("Compute anyway", key="theory_go", type="primary"):
        st.session_state["theory_confirmed"] = key
        return True
    return False


def main() -> None:
    settings = widgets.sidebar("theory", extra=("eps",), charts=False)
    st.title("Theory vs measurement")
    _md(st.markdown, "##### " + SETTINGS_LINE.format(
        d=settings["d"], n=settings["n"], ratio=settings["n"] / settings["d"] ** 2, gamma=settings["gamma"],
        delta=settings["delta"], init=settings["init"], fresh="on" if settings["resample"] else "off",
        eta=settings["eta"], eps=settings["eps"]))
    state.show_url_warnings(settings)
    try:
        theory_view.check(settings)
    except ValueError as e:       # MemoryBudgetError
        st.error(f"**These settings cannot run here.** {e}", icon=":material/block:")
        return
    if not confirmed(settings):
        return
    try:
        th = theory_view.predicted(settings)
        meas = theory_view.measured(settings)
        curve = theory_view.kappa_curve(settings)
    except ValueError as e:
        st.error(f"**These settings cannot run here.** {e}", icon=":material/block:")
        return
    _md(st.caption, "Predicted: the slides' formulas on this very problem (teacher, data, start). Measured: GD and "
        "AM run on it until ‖Wᵗ − W*‖<sub>F</sub> / ‖W* + I‖<sub>F</sub> < ε (or their iteration limits), with the "
        "theory evaluated at every iterate. Our inputs are N(0, 1/n); the lemmas assume N(0, 1).")
    verdict_banner(th, meas)
    st.subheader(r"Predicted $T_{\mathrm{GD}}/T_{\mathrm{AM}}$, from worst case to sharp")
    ladder_section(th, meas, settings["eps"])
    _md(st.markdown, "**T_GD/T_AM to reach each ε**: measured from the runs, and predicted by (a) and (c) where "
        "they give a number")
    st.plotly_chart(theory_figures.ratio_vs_eps_figure(meas["gd"]["rel_err"], meas["am"]["rel_err"],
                                                       settings["eps"], th), key="ratio-eps", width="stretch",
                    config=CHART)
    st.subheader("Every step against its bound")
    per_step_section(th, meas)
    st.subheader(r"Along the runs: $\kappa_t$ and $\rho_3$")
    path_section(th, meas, settings["n"])
    st.subheader("Where the proof loses")
    proof_loss_section(meas)
    st.subheader("What more samples can and cannot buy")
    samples_section(th, curve, settings)
    tiny_section(th, settings)
    st.subheader("Corollary 1 and Lemma 1 in the lemmas' units")
    units_section(th)
    st.subheader("Assumptions checklist")
    checklist(th)
    with st.expander("The algorithms, eqs. (1)-(3)"):
        st.latex(r"\mathrm{vec}(W^{t+1}) = \mathrm{vec}(W^t) + \frac{\eta}{n} B^{t\top}"
                 r"\big(y - B^t\,\mathrm{vec}(W^t + I)\big)\qquad\text{(1)}")
        st.latex(r"B^{t} = \big[v_1^*\,\mathrm{diag}(\mathbb{1}_{X(w_1^t+e_1)>0})X\ \cdots\ "
                 r"v_d^*\,\mathrm{diag}(\mathbb{1}_{X(w_d^t+e_d)>0})X\big]\qquad\text{(2)}")
        st.latex(r"\mathrm{vec}(W^{t+1}) = \arg\min_{W} \big\|B^{t}\,\mathrm{vec}(W + I) - y\big\|_2^2\qquad\text{(3)}")


main()
