"""Theory page: the paper's predicted rates next to the measured ones, for the current settings.

Self-contained (legacy ``pages/`` folder, no st.navigation), so a deep link such as
``/Theory?d=10&n=500`` works on a freshly started server.
"""
from __future__ import annotations

import math

import numpy as np
import streamlit as st

from dashboard import figures, state, theory_view, widgets
from dashboard.theory_view import num
from shallowres.threads import single_threaded_blas

single_threaded_blas()   # hosted: a fraction of a core, many sessions
st.set_page_config(page_title="shallowres · Theory", page_icon="📐", layout="wide")

SETTINGS_LINE = ("d = {d} · n = {n:,} (n/d² = {ratio:.2f}) · γ = ‖W*‖_F = {gamma:g} · δ = {delta:g} · "
                 "init: {init} · fresh samples: {fresh} · ε = {eps:g}")


def row(formula: str, predicted: str, measured: str, verdict: str = "", number: str = "") -> None:
    """One quantity: its formula beside its equation number, predicted and measured values."""
    c = st.columns([2.6, 1.2, 1.6, 1.0], vertical_alignment="center")
    c[0].latex(formula + (rf"\qquad\text{{({number})}}" if number else ""))
    c[1].markdown(predicted)
    c[2].markdown(measured)
    c[3].markdown(verdict)


def bound_verdict(bound: float, measured: float | None) -> str:
    if not bound < 1:
        return ":red[**vacuous** (≥ 1)]"
    if measured is None:
        return ""
    return ":green[holds]" if measured <= bound else ":orange[exceeded]"


def reached(m: dict, eps: float) -> str:
    if m["iters_to_eps"] is not None:
        return f"**{m['iters_to_eps']:,}** iterations"
    return f"not reached in {m['n_iter']:,} ({m['stop_reason'].replace('_', ' ')})"


def rates_table(th, meas: dict, eps: float) -> None:
    gd, am = meas["gd"], meas["am"]
    head = st.columns([2.6, 1.2, 1.6, 1.0])
    for col, text in zip(head, ("**Quantity** (equation)", "**Predicted**", "**Measured**", ""),
                         strict=True):
        col.markdown(text)
    row(r"\sigma_{\min},\ \sigma_{\max}\ \text{of}\ B/\sqrt{n}\ \text{at}\ W^0",
        f"{num(th.sigma_min)}, {num(th.sigma_max)}", "exact: computed at W⁰")
    row(r"\kappa = \sigma_{\max}^2 / \sigma_{\min}^2", f"**κ = {num(th.kappa)}**", "exact: computed at W⁰")
    rho3_runs = max(float(np.max(gd["rho3"])), float(np.max(am["rho3"])))
    row(r"\textstyle\sum_q \|E_q\| \le \rho_3 \|W^t - W^*\|_F\quad\text{(Lemma 2)}",
        f"ρ₃ < {theory_view.RHO3_COROLLARY:.3f} (Cor. 1, large n)",
        f"ρ₃ = {num(th.rho3)} at W⁰; at most {num(rho3_runs)} along the runs",
        ":green[below]" if rho3_runs < theory_view.RHO3_COROLLARY else ":orange[above]")
    row(r"\rho_{GD} = \frac{\kappa-1}{\kappa+1} + \frac{2\kappa\rho_3}{\sigma_{\max}(\kappa+1)}\qquad\text{(4)}",
        f"**{num(th.rho_gd)}**", f"geometric mean **{num(gd['geo_mean'])}**, worst step {num(gd['max_factor'])}",
        bound_verdict(th.rho_gd, gd["geo_mean"]))
    row(r"\rho_{AM} = \frac{\kappa\,\rho_3}{\sigma_{\max}}\qquad\text{(5)}",
        f"**{num(th.rho_am)}**", f"geometric mean **{num(am['geo_mean'])}**, worst step {num(am['max_factor'])}",
        bound_verdict(th.rho_am, am["geo_mean"]))
    row(r"\rho_{AM}' = \frac{\rho_3}{\sigma_{\min}}\ \ (\text{tighter})\qquad\text{(5')}",
        f"**{num(th.rho_am_tight)}**", f"geometric mean **{num(am['geo_mean'])}**",
        bound_verdict(th.rho_am_tight, am["geo_mean"]))
    row(r"T = \left\lceil \frac{\log\big(\|W^0 - W^*\|_F / \epsilon\|W^*+I\|_F\big)}{\log(1/\rho)} \right\rceil",
        f"T_GD = {num(th.t_gd)}, T_AM = {num(th.t_am)}",
        f"GD: {reached(gd, eps)}  \nAM: {reached(am, eps)}")
    row(r"\frac{T_{GD}}{T_{AM}} = \frac{\log(1/\rho_{AM})}{\log(1/\rho_{GD})}",
        "undefined (a bound ≥ 1)" if th.t_ratio_pred is None else f"**{num(th.t_ratio_pred)}**",
        "—" if meas["ratio"] is None else f"**{num(meas['ratio'])}**")


def vacuous_section(th, meas: dict) -> None:
    why = th.vacuous()
    if not why:
        st.success(f"Every bound is below 1 here: ρ_AM = {num(th.rho_am)} < ρ_GD = {num(th.rho_gd)} < 1, "
                   "so Theorem 1 guarantees linear convergence of both algorithms.")
        return
    names = {"rho_gd": f"ρ_GD = {num(th.rho_gd)}", "rho_am": f"ρ_AM = {num(th.rho_am)}",
             "rho_am_tight": f"ρ₃/σ_min = {num(th.rho_am_tight)}"}
    st.warning(f"**The bound{'s' if len(why) > 1 else ''} {', '.join(names[k] for k in why)} "
               f"{'are' if len(why) > 1 else 'is'} ≥ 1, so vacuous at these settings**: a contraction "
               "factor ≥ 1 promises nothing, although the algorithms may still converge. Why:\n\n- "
               + "\n- ".join(th.causes()))
    gd, am = meas["gd"]["geo_mean"], meas["am"]["geo_mean"]
    if gd is not None and am is not None:
        st.markdown(
            f"Measured, GD shrank the error by a factor **{num(gd)}** per iteration and AM by "
            f"**{num(am)}**: {'both contract' if max(gd, am) < 1 else 'not both contract'}, "
            f"far better than the bounds {num(th.rho_gd)} and {num(th.rho_am)}. The first term of (4), "
            f"(κ − 1)/(κ + 1) = {num(th.rho4)}, is already close to 1 at κ = {num(th.kappa)}; "
            f"κ shrinks towards 1 only as n/d² = {th.n_over_d2:.2f} grows, as the theorem's "
            "n > C·d·k²·log k requires. A bound proved for every problem and every start must cover "
            "the worst case; this run is a typical one.")


def contraction_charts(th, meas: dict) -> None:
    c1, c2 = st.columns(2)
    for col, alg, bounds in (
            (c1, "gd", {f"ρ_GD bound (4) = {num(th.rho_gd)}": th.rho_gd,
                        f"(κ−1)/(κ+1) = {num(th.rho4)}": th.rho4}),
            (c2, "am", {f"ρ_AM bound (5) = {num(th.rho_am)}": th.rho_am,
                        f"tighter ρ₃/σ_min = {num(th.rho_am_tight)}": th.rho_am_tight})):
        m = meas[alg]
        col.markdown(f"**{figures.NAMES[alg]}: measured contraction factor per iteration vs the bound "
                     f"{'(4)' if alg == 'gd' else '(5)'}**")
        col.plotly_chart(figures.contraction_figure(alg, m["factors"], bounds), key=f"contraction-{alg}",
                         width="stretch", config={"displaylogo": False})
        geo = m["geo_mean"]
        col.caption(f"{len(m['factors'])} measured factors, geometric mean {num(geo)}; "
                    f"{m['message']}")


def lemma1_section(th) -> None:
    st.latex(r"\Omega\!\left(\frac{1}{\kappa_w^2\,\lambda}\right) \le \frac{\sigma_{\min}^2(B)}{n}"
             r" \le \frac{\sigma_{\max}^2(B)}{n} \le O(k),\qquad \kappa_w = \frac{\sigma_1}{\sigma_k},"
             r"\quad \lambda = \frac{\prod_{q} \sigma_q}{\sigma_k^{k}}\qquad\text{(Lemma 1)}")
    c1, c2 = st.columns([3, 2])
    c1.markdown("**Singular values of W\\* + I**")
    c1.plotly_chart(figures.singular_values_figure(th.singular_values_U_star), key="sv",
                    width="stretch", config={"displaylogo": False})
    n, k = th.n, th.d
    lower = 1.0 / (th.kappa_w**2 * th.lam) if math.isfinite(th.lam) and th.lam > 0 else 0.0
    with c2:
        st.metric("κ_w = σ₁ / σ_k of W* + I", num(th.kappa_w))
        st.metric("λ = ∏ σ_q / σ_kᵏ", f"10^{th.log10_lambda:.2f}" if th.log10_lambda > 6 else num(th.lam))
        st.markdown(
            f"With N(0, 1) inputs, as the lemma assumes (ours are N(0, 1/n), so multiply our σ² by n):  \n"
            f"- lower end: 1/(κ_w²λ) = {num(lower)} vs measured n·σ²_min = **{num(n * th.sigma_min**2)}**\n"
            f"- upper end: k = {k} vs measured n·σ²_max = **{num(n * th.sigma_max**2)}**\n\n"
            "Ω and O hide constants, so these compare orders of magnitude only.")


def checklist(th, settings: dict) -> None:
    need = th.d**3 * math.log(th.d)
    items = [
        ("Assumption 1", "γ ≤ δ√d/(1 + δ)", f"{th.gamma:.3g} vs {th.assumption1_bound:.3f}",
         th.assumption1_holds),
        ("Theorem 1: start", "‖W⁰ − W*‖_F ≤ δ‖W* + I‖_F", f"{th.rel_err0:.3f} vs δ = {th.delta:g}",
         th.rel_err0 <= th.delta),
        ("Assumption 2 (Lemma 1)", "fresh samples every iteration", "on" if th.resample else "off",
         th.resample),
        ("Assumption 3 (Lemma 2)", "balanced columns: max‖w_q‖² / min‖w_q‖² bounded",
         f"{num(th.balance_ratio)}", math.isfinite(th.balance_ratio) and th.balance_ratio <= 4),
        ("AM well-posed", "n ≥ d²", f"{th.n:,} vs {th.d**2:,}", th.n >= th.d**2),
        ("Theorem 1: samples", "n > C·d·k²·log k (C = 1)", f"{th.n:,} vs {need:,.0f}", th.n > need),
        ("Theorem 1: conclusion", "ρ_AM < ρ_GD < 1", f"{num(th.rho_am)}, {num(th.rho_gd)}",
         th.rho_am < th.rho_gd < 1),
    ]
    lines = ["| | Condition | Here | Met |", "|---|---|---|---|"]
    yes, no = ":green[:material/check_circle: yes]", ":red[:material/cancel: no]"
    lines += [f"| {name} | {cond} | {here} | {yes if ok else no} |" for name, cond, here, ok in items]
    st.markdown("\n".join(lines))


def confirmed(settings: dict) -> bool:
    """Expensive settings wait for a click: the computation cannot be interrupted midway."""
    seconds = theory_view.seconds_estimate(settings)
    key = state.run_key(settings) + (settings["eps"],)
    if seconds <= theory_view.SLOW_SECONDS or st.session_state.get("theory_confirmed") == key:
        return True
    st.info(f"At these settings the spectrum of B and the two runs take roughly {seconds:,.0f} s "
            "on a shared server, and the page cannot be stopped midway.", icon=":material/hourglass:")
    if st.button("Compute anyway", key="theory_go", type="primary"):
        st.session_state["theory_confirmed"] = key
        return True
    return False


def main() -> None:
    settings = widgets.sidebar("theory", extra=("eps",), charts=False)
    st.title("Theory vs measurement")
    st.markdown("##### " + SETTINGS_LINE.format(
        d=settings["d"], n=settings["n"], ratio=settings["n"] / settings["d"] ** 2, gamma=settings["gamma"],
        delta=settings["delta"], init=settings["init"], fresh="on" if settings["resample"] else "off",
        eps=settings["eps"]))
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
    except ValueError as e:
        st.error(f"**These settings cannot run here.** {e}", icon=":material/block:")
        return
    st.caption("Predicted: the slides' formulas evaluated at the initial point W⁰ on this problem. "
               "Measured: GD and AM run on the same teacher and data until the relative error "
               f"‖Wᵗ − W*‖_F/‖W* + I‖_F < ε = {settings['eps']:g} (or their iteration limits).")
    st.subheader("Rates: predicted vs measured")
    rates_table(th, meas, settings["eps"])
    vacuous_section(th, meas)
    st.subheader("Contraction per iteration")
    contraction_charts(th, meas)
    st.subheader("Lemma 1: how well conditioned is B?")
    lemma1_section(th)
    st.subheader("Assumptions checklist")
    checklist(th, settings)
    with st.expander("The algorithms, eqs. (1)-(3)"):
        st.latex(r"\mathrm{vec}(W^{t+1}) = \mathrm{vec}(W^t) + \frac{\eta}{n} B^{t\top}"
                 r"\big(y - B^t\,\mathrm{vec}(W^t + I)\big)\qquad\text{(1)}")
        st.latex(r"B^{t} = \big[v_1^*\,\mathrm{diag}(\mathbb{1}_{X(w_1^t+e_1)>0})X\ \cdots\ "
                 r"v_d^*\,\mathrm{diag}(\mathbb{1}_{X(w_d^t+e_d)>0})X\big]\qquad\text{(2)}")
        st.latex(r"\mathrm{vec}(W^{t+1}) = \arg\min_{W} \big\|B^{t}\,\mathrm{vec}(W + I) - y\big\|_2^2\qquad\text{(3)}")


main()
