"""The Train page's settings as code that reproduces its run exactly: command lines for
``python -m shallowres run`` (one per algorithm) and a Python snippet.

Both pass the page's per-run memory guard (``state.MEMORY_BUDGET``) so that AM picks the
same least-squares path as the page; with the same seed the numbers are the same, bit
for bit.
"""
from __future__ import annotations

import shlex
from collections.abc import Mapping

from .runs import ALGS, iters_of
from .state import MEMORY_BUDGET, fmt

MB = 2**20


def command_lines(settings: Mapping) -> list[str]:
    """One ``python -m shallowres run ...`` line per algorithm of ``settings``."""
    s = settings
    lines = []
    for alg in ALGS[s["alg"]]:
        args = ["python", "-m", "shallowres", "run", "--d", fmt(s["d"]), "--n", fmt(s["n"]),
                "--gamma", fmt(s["gamma"]), "--noise", fmt(s["noise"]), "--seed", fmt(s["seed"]),
                "--init", s["init"], "--delta", fmt(s["delta"]), "--alg", alg,
                "--iters", fmt(iters_of(s, alg)), "--tol", fmt(s["tol"])]
        if alg == "gd":
            args += ["--eta", s["eta"]]
        if s["resample"]:
            args.append("--resample")
        args += ["--memory-budget", fmt(MEMORY_BUDGET // MB)]
        lines.append(shlex.join(args))
    return lines


def python_snippet(settings: Mapping) -> str:
    """A Python snippet that builds the same problem and runs the same algorithms."""
    s = settings
    out = ["from shallowres import make_problem, run", "",
           f"p = make_problem(d={s['d']}, n={s['n']}, gamma={s['gamma']!r}, noise={s['noise']!r}, seed={s['seed']})"]
    for alg in ALGS[s["alg"]]:
        eta = f", eta={s['eta']!r}" if alg == "gd" else ""
        out.append(f"{alg} = run(p, {alg!r}, init={s['init']!r}, delta={s['delta']!r}{eta}, "
                   f"resample={s['resample']}, iters={iters_of(s, alg)}, tol={s['tol']!r}, "
                   f"memory_budget={MEMORY_BUDGET // MB} * 2**20)")
        out.append(f"print({alg}.stop_reason, {alg}.n_iter, {alg}.rel_err)")
    return "\n".join(out) + "\n"
