"""Sidebar controls, one-click presets, and the assumptions panel.

Each control has key ``w_<setting>`` and is seeded from the session's settings
(``state.session_settings``) when it has no value yet, so both pages show the
same settings and a deep link fills every control. Typed fields (tol, eps, a
fixed eta) are parsed with the same rules as the URL.
"""
from __future__ import annotations

import math
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import streamlit as st

from shallowres import initial_point, make_problem
from shallowres.theory import assumption1_gamma_max

from . import glossary, state
from .state import FIELDS, fmt, normalize_eta, parse_value

NEAR_SQUARE = 1.2      # n below this times d^2 (and at least d^2): AM's step is nearly singular


def preset(**settings) -> dict:
    """A preset sets every setting it implies: every one that changes a run
    (``state.RUN_FIELDS``: seed, iteration limits and tolerance too) and the Theory page's
    eps, at their defaults unless given; only the chart options stay as they are."""
    return {**{k: FIELDS[k].default for k in (*state.RUN_FIELDS, "eps")}, **settings}


PRESETS: dict[str, dict] = {
    # the paper: d = 20, n = 1700, ||W*||_F = 2, identity start, GD's 1000 epochs of Fig. 1(b),
    # success below 0.01 (Fig. 1(a)); the seed fixed so the preset always shows one run
    "Paper, Fig. 1(b)": preset(d=20, n=1700, gamma=2.0, delta=0.8, gd_iters=1000, am_iters=50, tol=1e-8,
                               seed=0, eps=0.01),
    "Too few samples": preset(d=20, n=300, gamma=2.0),
    "Far from identity": preset(d=20, n=1700, gamma=6.0),
    "Theory mode": preset(d=20, n=1700, gamma=1.5, resample=True),
    "Bounds hold": preset(d=2, n=4000, gamma=0.01, seed=0, eps=1e-8),
}
PRESET_HELP = {
    "Paper, Fig. 1(b)": "The paper's experiment: d = 20, n = 1700, ||W*||_F = 2, identity "
                        "initialization, GD (1000 iterations, as in the figure) and AM side by side; "
                        "seed 0, tolerance 1e-8, success threshold eps = 0.01.",
    "Too few samples": "n = 300 < d^2 = 400: AM's least-squares step has many solutions, and "
                       "the data no longer pin down W*.",
    "Far from identity": "||W*||_F = 6, three times the Assumption-1 bound: the identity "
                         "initialization starts far from the teacher.",
    "Theory mode": "What the theorem assumes: a fresh batch of samples every iteration and "
                   "||W*||_F = 1.5 within the Assumption-1 bound.",
    "Bounds hold": "d = 2, n = 4000, ||W*||_F = 0.01, seed 0, eps = 1e-8: one of the tiny settings where the "
                   "paper's bounds are below 1 (rho_GD about 0.91, rho_AM about 0.49), so the predicted "
                   "T_GD/T_AM is a number and every step can be checked against it (Theory page).",
}
ALG_LABELS = {"both": "GD and AM side by side", "gd": "Gradient descent (GD)",
              "am": "Alternating minimization (AM)"}
INIT_LABELS = {"identity": "Identity (W⁰ = 0)", "random": "Random (W⁰ ~ N(0, I)/d)",
               "delta": "δ-ball (‖W⁰ − W*‖ = δ‖W* + I‖)"}
ETA_MODES = {"theory": "Theory-optimal", "multiple": "A multiple of it", "value": "A number"}
ROOT = Path(__file__).resolve().parent.parent
PAGE_KEY = "page"
# Wider main area for a projector: Streamlit's wide layout pads 5rem on each side.
CSS = """<style>
[data-testid="stMainBlockContainer"] {padding: 2.5rem 2rem 3rem 2rem;}
</style>"""


SHARED_PAGES = ("app.py", "pages/1_Theory.py")    # pages that show the shared settings


def nav(settings: Mapping | None = None) -> None:
    """Links to every page (Streamlit's own list would call the entry page "app").

    The Train and Theory links carry the settings (default: the session's) in their URL:
    the page they open then finds its URL already written by ``state.sync_url``, so
    following a link adds one browser-history entry, not two (Back returns to the page
    before; a rewrite after navigating would push a second entry on the new page)."""
    if settings is None:
        settings = st.session_state.get(state.SETTINGS_KEY) or state.defaults()
    query = state.encode(settings)
    st.page_link("app.py", label="Train", icon=":material/show_chart:", query_params=query)
    for f in sorted((ROOT / "pages").glob("*.py")):
        label = re.sub(r"^\d+_", "", f.stem).replace("_", " ")
        path = f"pages/{f.name}"
        st.page_link(path, label=label, icon=":material/article:",
                     query_params=query if path in SHARED_PAGES else None)


def wkey(name: str) -> str:
    return f"w_{name}"


def _eta_parts(eta: str) -> tuple[str, float, str]:
    """(mode, multiple, number text) of a canonical eta string."""
    if eta == "theory":
        return "theory", 1.0, ""
    if eta.endswith("x"):
        return "multiple", float(eta[:-1]), ""
    return "value", 1.0, eta


def _widget_values(settings: Mapping) -> dict:
    """Widget key -> value for ``settings`` (the eta string becomes three widgets)."""
    out = {wkey(k): v for k, v in settings.items() if k != "eta"}
    for k in ("tol", "eps"):
        out[wkey(k)] = fmt(settings[k])
    mode, mult, text = _eta_parts(settings["eta"])
    out.update({wkey("eta_mode"): mode, wkey("eta_mult"): mult, wkey("eta_value"): text})
    return out


def _seed_widgets(settings: Mapping, page: str) -> None:
    """Give the controls the session's settings: all of them on entering a page (a widget's
    identity includes its page, so the previous page's values do not carry over), else
    those without a value (e.g. a control that was hidden)."""
    entering = st.session_state.get(PAGE_KEY) != page
    st.session_state[PAGE_KEY] = page
    for k, v in _widget_values(settings).items():
        if entering or k not in st.session_state:
            st.session_state[k] = v


def set_settings(**changes) -> None:
    """Callback: change some settings and their controls (runs before the widgets are drawn)."""
    settings = {**state.session_settings(), **changes}
    st.session_state[state.SETTINGS_KEY] = settings
    st.session_state.update(_widget_values(settings))


def apply_preset(name: str) -> None:
    """Callback: load a preset into the controls (runs before the widgets are drawn)."""
    settings = {**state.session_settings(), **PRESETS[name]}
    st.session_state[state.SETTINGS_KEY] = settings
    st.session_state.update(_widget_values(settings))


def _typed(name: str, label: str, help: str, current) -> object:
    """A text box for a number spanning decades; bad input keeps ``current`` with an error."""
    text = st.text_input(label, value=fmt(current), key=wkey(name), help=help)
    try:
        return parse_value(FIELDS[name], text)
    except ValueError as e:
        st.error(f"{e}; keeping {fmt(current)}.")
        return current


def _eta_control(current: str) -> str:
    cur_mode, cur_mult, cur_text = _eta_parts(current)
    mode = st.radio("GD step size η", list(ETA_MODES), index=list(ETA_MODES).index(cur_mode),
                    format_func=ETA_MODES.get, key=wkey("eta_mode"),
                    help="Theory-optimal: η = 2 / (σ²_min + σ²_max) of B/√n at W⁰, the step the "
                         "proof of eq. (4) uses. Too large a multiple makes GD diverge.")
    if mode == "theory":
        return "theory"
    if mode == "multiple":
        k = st.number_input("Multiple of the theory step", min_value=0.01, max_value=100.0, step=0.25,
                            value=cur_mult, key=wkey("eta_mult"), help="η = this number × the theory-optimal step.")
        return normalize_eta(f"{fmt(float(k))}x")
    text = st.text_input("η (a positive number)", value=cur_text, key=wkey("eta_value"),
                         help="A fixed step size. Data entries are N(0, 1/n), so the theory step is "
                              "in the hundreds at the default settings.")
    try:
        return parse_value(FIELDS["eta"], text)
    except ValueError:
        st.error(f"η must be a positive number; keeping {current}.")
        return current


def sidebar(page: str, extra: tuple[str, ...] = (), charts: bool = True) -> dict:
    """Draw the shared controls in the sidebar; return the settings and write them to the URL.

    ``page`` names the calling page; ``extra`` names page-specific settings to show
    too (the Theory page's ``eps``); ``charts`` shows the Train page's chart options.
    """
    settings = state.session_settings()
    _seed_widgets(settings, page)
    st.html(CSS)
    with st.sidebar:
        links = st.container()      # filled at the end, with the settings this run ends with
        st.markdown("### Presets")
        for i, name in enumerate(PRESETS):
            st.button(name, key=f"preset_{i}", help=PRESET_HELP[name], on_click=apply_preset,
                      args=(name,), width="stretch")
        st.markdown("### Teacher and data")
        new = dict(settings)
        new["d"] = st.slider("d: input dimension = hidden neurons", 2, 100, settings["d"], key=wkey("d"),
                             help="W* is d × d. The network has k = d hidden ReLUs.")
        new["n"] = int(st.number_input(
            "n: training samples", min_value=2, max_value=200_000, value=settings["n"], step=100, key=wkey("n"),
            help="Type any number. AM's least-squares step is underdetermined when n < d² "
                 "(the paper uses n = 1700 at d = 20)."))
        st.caption(f"n / d² = {new['n'] / new['d'] ** 2:.2f}")
        new["gamma"] = st.slider(glossary.latex("γ = ‖W*‖_F: distance of the teacher from identity"), 0.0, 20.0,
                                 settings["gamma"], step=0.1, key=wkey("gamma"),
                                 help="How far the teacher's weights are from the plain skip "
                                      "connection. The paper uses γ = 2.")
        new["noise"] = st.number_input("Label noise σ", min_value=0.0, max_value=10.0, value=settings["noise"],
                                       step=0.1, key=wkey("noise"),
                                       help="Gaussian noise added to the labels y, in units of 1/√n.")
        new["seed"] = int(st.number_input("Random seed", min_value=0, max_value=2**32 - 1, value=settings["seed"],
                                          step=1, key=wkey("seed"),
                                          help="One seed fixes the teacher, the data and the random "
                                               "initialization: the same seed, the same run."))
        st.button("New random teacher", icon=":material/casino:", key="new_teacher_btn", width="stretch",
                  shortcut="N", on_click=set_settings, kwargs={"seed": secrets.randbelow(2**31)},
                  help="A new seed: a new teacher W*, v* and new data (the URL keeps it, so the link reproduces it).")
        st.markdown("### Algorithms")
        new["alg"] = st.radio("Algorithm", list(ALG_LABELS), list(ALG_LABELS).index(settings["alg"]),
                              format_func=ALG_LABELS.get, key=wkey("alg"),
                              help="Both run on the same teacher and the same data.")
        new["init"] = st.selectbox("Initialization W⁰", list(INIT_LABELS), list(INIT_LABELS).index(settings["init"]),
                                   format_func=INIT_LABELS.get, key=wkey("init"),
                                   help="Identity: start at the plain skip connection (Assumption 1). "
                                        "δ-ball: start exactly at Theorem 1's distance δ.")
        new["delta"] = st.slider("δ: allowed start distance (Theorem 1)", 0.01, 0.99, settings["delta"], step=0.01,
                                 key=wkey("delta"), help=glossary.help_text("delta"))
        new["resample"] = st.checkbox("Fresh samples every iteration", settings["resample"], key=wkey("resample"),
                                      help="Draw a new batch of n samples at each step, as the "
                                           "theory assumes (Lemmas 1 and 2).")
        new["eta"] = _eta_control(settings["eta"])
        c1, c2 = st.columns(2)
        new["gd_iters"] = int(c1.number_input("GD max iterations", 1, 20_000, settings["gd_iters"], step=100,
                                              key=wkey("gd_iters"), help="GD stops here at the latest."))
        new["am_iters"] = int(c2.number_input("AM max iterations", 1, 200, settings["am_iters"], step=5,
                                              key=wkey("am_iters"),
                                              help="AM stops here at the latest."))
        new["tol"] = _typed("tol", "Tolerance (stop below this relative error)",
                            "Stop when ‖Wᵗ − W*‖_F / ‖W* + I‖_F falls below this. Type e.g. 1e-8.",
                            settings["tol"])
        if "eps" in extra:
            new["eps"] = _typed("eps", "ε: target relative error for T_GD, T_AM",
                                "Predicted and measured iterations to reach relative error ε. "
                                "The paper counts a recovery below 0.01 as a success.", settings["eps"])
        if charts:
            st.markdown("### Charts")
            new["logx"] = st.checkbox("Log-scale iteration axis", settings["logx"], key=wkey("logx"),
                                      help="GD takes hundreds of steps, AM a handful: a log axis shows both.")
            new["slow"] = st.checkbox("Slow motion (for a projector)", settings["slow"], key=wkey("slow"),
                                      help="The run unfolds over about 15 s (log-paced on a log axis), "
                                           "whatever the solver's speed. Off: as fast as the solver goes.")
            new["present"] = st.checkbox("Presentation mode", settings["present"], key=wkey("present"),
                                         help="Larger text, lines and charts for a lecture hall; a link with "
                                              "present=true opens with the sidebar collapsed. Keys: Space run/"
                                              "pause, → step, Esc stop, Delete reset, P pin, N new teacher.")
    with links:
        nav(new)
    state.sync_url(new)
    return new


# ----- the assumptions panel ------------------------------------------------------

def start_distance(settings: Mapping) -> float:
    """||W^0 - W*||_F / ||W* + I||_F; the teacher and W^0 depend on (d, gamma, seed) only."""
    p = make_problem(d=settings["d"], n=1, gamma=settings["gamma"], seed=settings["seed"], n_test=1)
    W0 = initial_point(p, settings["init"], settings["delta"])
    return float(np.linalg.norm(W0 - p.W_star)) / p.scale


def assumptions_panel(settings: Mapping) -> None:
    """Three short verdicts that follow the sliders: Assumption 1 and the start, n vs d^2, fresh samples."""
    d, n, gamma, delta = settings["d"], settings["n"], settings["gamma"], settings["delta"]
    bound = assumption1_gamma_max(d, delta)
    dist = start_distance(settings)
    c1, c2, c3 = st.columns(3)
    ok = gamma <= bound
    inside = dist <= delta
    c1.markdown(f":{'green' if ok else 'red'}-badge[Assumption 1 {'holds' if ok else 'fails'}] "
                f":{'green' if inside else 'orange'}-badge[start {'inside' if inside else 'outside'} "
                f"the δ-ball]")
    meaning = ("Theorem 1's start condition holds" if inside
               else "Theorem 1 promises nothing (the run may still converge)")
    c1.caption(f"γ = {gamma:g} {'≤' if ok else '>'} δ√d/(1 + δ) = {bound:.3f} · start distance "
               f"‖W⁰ − W*‖/‖W* + I‖ = {dist:.3f} {'≤' if inside else '>'} δ = {delta:g}: {meaning}")
    need = d**3 * math.log(d)
    if d * d <= n < NEAR_SQUARE * d * d:
        c2.markdown(f":orange-badge[n ≈ d²: AM ill-conditioned] :gray-badge[n/d² = {n / d**2:.2f}]")
        c2.caption(f"AM's least-squares step (3) has one solution, but B is close to singular: its steps "
                   f"land far from W* (AM's measured transition is near n = 1.25-1.5 d²), and past d = 50 each "
                   f"takes thousands of inner iterations · Theorem 1 asks n > C·d·k²·log k = {need:,.0f}·C")
    elif n >= d * d:
        c2.markdown(f":green-badge[n ≥ d²: AM well-posed] :{'green' if n > need else 'gray'}-badge["
                    f"n/d² = {n / d**2:.2f}]")
        c2.caption(f"AM's least-squares step (3) has one solution · Theorem 1 asks "
                   f"n > C·d·k²·log k = {need:,.0f}·C")
    else:
        c2.markdown(f":orange-badge[n < d²: AM underdetermined] :gray-badge[n/d² = {n / d**2:.2f}]")
        c2.caption("Many W fit the data: AM takes the one nearest the identity, and W* need not be recovered")
    if settings["resample"]:
        c3.markdown(":green-badge[fresh samples on]")
        c3.caption("A new batch of n samples every iteration, as Lemmas 1 and 2 assume")
    else:
        c3.markdown(":blue-badge[fresh samples off]")
        c3.caption("One fixed data set; the theorem assumes a new batch every iteration")
