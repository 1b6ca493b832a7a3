"""The phase-transition sweep as it was before batching (kept as the benchmark baseline).

One trial at a time: generate the problem, then ``shallowres.run`` with every
per-iteration record (test loss, flips per neuron, rho_3), no stalled rule,
trial-major order, in this process. ``benchmarks/run.py --rows sweep_paper`` times it
against ``run_sweep(spec, "serial")`` in fresh processes, one BLAS thread each.
"""
from __future__ import annotations

from shallowres.problem import make_problem
from shallowres.solvers import run
from shallowres.sweep import SWEEP_N_TEST, SweepSpec, trial_seed


def baseline_sweep(spec: SweepSpec) -> dict:
    """Success counts per cell, in table order, and every trial's final rel_err."""
    success: dict = {c: 0 for c in spec.cells()}
    finals = {}
    for cell, k in spec.tasks():
        seed = trial_seed(spec.seed, cell.d, cell.n, cell.gamma, cell.noise, k)
        problem = make_problem(cell.d, cell.n, cell.gamma, cell.noise, seed, w_star=spec.w_star,
                               n_test=SWEEP_N_TEST, memory_budget=spec.memory_budget)
        res = run(problem, cell.alg, init=cell.init, delta=spec.delta, eta=spec.eta, resample=spec.resample,
                  iters=spec.iters(cell.alg), tol=spec.tol, am_solver=spec.am_solver,
                  memory_budget=spec.memory_budget)
        success[cell] += bool(res.rel_err < spec.threshold)
        finals[(cell, k)] = res.rel_err
    return dict(success=[success[c] for c in spec.cells()], finals=finals)

