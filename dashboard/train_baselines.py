"""Table I's baselines beside the Train page's GD and AM, on the same teacher and data.

On a click, :func:`compute` runs mini-batch SGD from a random start (the prior work's setting,
Li & Yuan 2017) and from the run's start, Adam from a random start, and inexact AM (K = 5 CG
iterations per step instead of the exact solve; ``shallowres.baselines``) with
``shallowres.run`` on the problem of the page's settings (the fixed training set), through the
server's admission controller, cached per settings. The page shows a table (algorithm, start,
iterations or epochs, final relative error, stop reason, compute time) with the finished GD and
AM rows of its run, and the relative error of every method on one log-log chart.
"""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import streamlit as st

from shallowres import run
from shallowres.budget import run_bytes
from shallowres.solvers import plan_run

from .lesson_figures import error_figure
from .lesson_view import on_server
from .runs import RunJob, build_problem
from .state import MEMORY_BUDGET, run_key

EPOCHS = 300            # SGD and Adam: at most this many epochs (one epoch ~ one GD iteration's cost)
AM_INNER = 5            # inexact AM: CG iterations per step
AM_INEXACT_ITERS = 200
KEY = "baselines_for"   # session state: the run key the baselines were asked for
# key -> (algorithm, keywords for shallowres.run, label, start)
METHODS = {
    "sgd:random": ("sgd", {"init": "random", "iters": EPOCHS}, "SGD (Li & Yuan), random start", "random"),
    "sgd": ("sgd", {"iters": EPOCHS}, "SGD, GD's start", None),
    "adam": ("adam", {"init": "random", "iters": EPOCHS}, "Adam, random start", "random"),
    "am_inexact": ("am", {"am_inner": AM_INNER, "iters": AM_INEXACT_ITERS}, f"inexact AM (K = {AM_INNER})", None),
}
LABELS = {"gd": "GD, eq. (1)", "am": "AM, eqs. (2)-(3)", **{k: m[2] for k, m in METHODS.items()}}
DASHES = {"sgd:random": "dash", "am_inexact": "dot"}
COLUMNS = ["Algorithm", "Start", "Iterations", "Unit", "Final relative error", "Stopped because",
           "Compute time (s)"]


def _summary(res, start: str) -> dict:
    h = res.history
    return dict(t=h["t"], rel_err=h["rel_err"], seconds=h["seconds"], n_iter=int(res.n_iter),
                final=float(res.rel_err), stop_reason=res.stop_reason, message=res.message,
                wall=float(res.seconds), start=start)


def compute(settings: Mapping) -> dict[str, dict]:
    """Each baseline of :data:`METHODS` run with ``shallowres.run`` on ``settings``' problem
    (same d, n, gamma, noise, seed: the same W*, v*, X, y as the Train page's run), at
    ``settings``' delta and tol, each method's own default step ("theory"), on the fixed
    training set. key -> history (t, rel_err, seconds) and how it ended."""
    problem = build_problem(settings)
    out = {}
    for key, (alg, kw, _, start) in METHODS.items():
        kw = dict(kw)
        init = kw.pop("init", settings["init"])
        res = run(problem, alg, init=init, delta=settings["delta"], eta="theory", tol=settings["tol"],
                  memory_budget=MEMORY_BUDGET, **kw)
        out[key] = _summary(res, start or init)
    return out


def memory_bytes(settings: Mapping) -> int:
    """The largest of the baselines' working sets (they run one after the other)."""
    n, d, most = settings["n"], settings["d"], 0
    for alg, kw, _, _ in METHODS.values():
        path = plan_run(n, d, alg, iters=kw["iters"], memory_budget=MEMORY_BUDGET, am_inner=kw.get("am_inner"))
        most = max(most, run_bytes(n, d, alg, path, kw["iters"], False, False))
    return int(min(most + 2**20, MEMORY_BUDGET))


def seconds_estimate(settings: Mapping) -> float:
    """A rough compute time: an SGD epoch costs about two GD iterations (6 n d^2 flops each)."""
    n, d = settings["n"], settings["d"]
    return 3 * EPOCHS * 2 * 6 * n * d * d * 1e-10 + 0.5


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def _cached(d, n, gamma, noise, seed, init, delta, tol, _settings) -> dict:
    return on_server(lambda: compute(_settings), memory_bytes(_settings), seconds_estimate(_settings))


def baselines(settings: Mapping) -> dict[str, dict]:
    """:func:`compute` through the admission controller, cached per problem, start and tolerance."""
    return _cached(settings["d"], settings["n"], settings["gamma"], settings["noise"], settings["seed"],
                   settings["init"], settings["delta"], settings["tol"], _settings=dict(settings))


def own_runs(job: RunJob | None, settings: Mapping) -> dict[str, dict]:
    """The page's finished GD and AM runs at ``settings`` (alg -> history and how it ended)."""
    if job is None or job.key != run_key(settings) or not job.done:
        return {}
    out = {}
    for alg, r in job.runs.items():
        cols = r.history.columns()
        out[alg] = dict(t=cols["t"], rel_err=cols["rel_err"], seconds=cols["seconds"], n_iter=r.t,
                        final=float(cols["rel_err"][-1]), stop_reason=r.stop_reason, message=r.message,
                        wall=r.seconds, start=settings["init"])
    return out


def table(runs: Mapping[str, dict]) -> pd.DataFrame:
    """One row per method: the columns of :data:`COLUMNS`, the final relative error unrounded."""
    rows = []
    for key, r in runs.items():
        rows.append([LABELS[key], r["start"], r["n_iter"], "epochs" if key.startswith(("sgd", "adam")) else
                     "iterations", r["final"], r["stop_reason"].replace("_", " "), r["wall"]])
    return pd.DataFrame(rows, columns=COLUMNS)


def section(job: RunJob | None, settings: Mapping) -> None:
    """The button, and once pressed the table and the error chart."""
    key = run_key(settings)
    with st.expander("Compare with the baselines of Table I (SGD, Adam, inexact AM)",
                     expanded=st.session_state.get(KEY) == key):
        if st.button("Compare with baselines", icon=":material/table_chart:", key="baselines_btn",
                     help=f"Run mini-batch SGD and Adam ({EPOCHS} epochs at most) and inexact AM on the same "
                          "teacher and data (a few seconds at the default settings)."):
            st.session_state[KEY] = key
        if st.session_state.get(KEY) != key:
            st.caption("The prior work's methods on the same teacher and training set, beside this page's GD and AM.")
            return
        with st.spinner("Running SGD, Adam and inexact AM (or waiting for room on the shared server) …"):
            base = baselines(settings)
        runs = {**own_runs(job, settings), **base}
        st.dataframe(table(runs), hide_index=True, key="baselines_table", column_config={
            "Final relative error": st.column_config.NumberColumn(format="%.3e"),
            "Compute time (s)": st.column_config.NumberColumn(format="%.2f"),
            "Iterations": st.column_config.NumberColumn(format="%d")})
        if not own_runs(job, settings):
            st.caption("Run GD and AM at these settings to add their rows.")
        title = "Relative error ‖W<sup>t</sup> − W*‖<sub>F</sub> / ‖W* + I‖<sub>F</sub> (SGD, Adam: t counts epochs)"
        fig = error_figure(runs, LABELS, tol=settings["tol"], dashes=DASHES, height=460, title=title)
        fig["layout"]["margin"]["t"] = 128          # the legend's three rows between the title and the plot
        st.plotly_chart(fig,
                        key="baselines_chart", width="stretch", config={"displaylogo": False})
        st.caption(f"Same teacher and training set (n = {settings['n']:,}, fixed). SGD and Adam: mini-batches of 64, "
                   "one iteration = one epoch; SGD's constant step b/(β + (b − 1)λ₁) (Ma, Bassily & Belkin 2018), "
                   f"Adam's rate 10⁻³. Inexact AM: AM's masks, then {AM_INNER} preconditioned CG iterations instead "
                   "of the exact least-squares solve. Compute time: seconds in the solver.")

