"""Command line: ``python -m shallowres run | theory``.

Bad arguments exit with status 2 and one line naming the flag.
"""
from __future__ import annotations

import argparse
import json
import math
import sys

from .problem import load_problem, make_problem
from .solvers import DEFAULT_TOL, IterRecord, run
from .sweep_cli import add_sweep_parser, cmd_sweep
from .theory import theory
from .validation import CONSTRAINTS, MB, Interval, check

RECORD_KEYS = ("t", "err", "rel_err", "train_loss", "test_loss", "flips_teacher",
               "flips_prev", "rho3", "seconds", "inner_iters")
THEORY_KEYS = ("sigma_min", "sigma_max", "kappa", "rho3", "rho4", "rho_gd", "rho_am",
               "rho_am_tight", "t_gd", "t_am", "t_ratio_pred", "kappa_w", "lambda",
               "log10_lambda", "assumption1_bound", "assumption1_holds", "balance_ratio",
               "n_over_d2", "rel_err0", "eps", "gamma", "d", "n", "vacuous")


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _json_safe(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _add_problem_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("teacher problem")
    g.add_argument("--d", type=int, default=20, help="hidden units = input dimension (2..200)")
    g.add_argument("--n", type=int, default=1700, help="training samples (1..10^6)")
    g.add_argument("--gamma", type=float, default=2.0, help="||W*||_F (0..100)")
    g.add_argument("--noise", type=float, default=0.0, help="label noise std, in units of 1/sqrt(n)")
    g.add_argument("--w-star", dest="w_star", default="balanced", help="balanced | gaussian")
    g.add_argument("--seed", type=int, default=0, help="one seed reproduces everything")
    g.add_argument("--problem", metavar="F.npz",
                   help="arrays W_star, v_star, X (and X_test) instead of --d/--n/--gamma")
    g.add_argument("--init", default="identity", help="identity | random | delta")
    g.add_argument("--delta", type=float, default=0.8, help="Theorem 1's delta, in (0, 1)")
    g.add_argument("--resample", action="store_true", help="a fresh batch of n samples every iteration")
    g.add_argument("--memory-budget", dest="memory_budget", type=float, default=1024,
                   metavar="MB", help="refuse configurations needing more memory (default 1024)")
    g.add_argument("--json", action="store_true", help="machine-readable output")


def build_parser() -> Parser:
    parser = Parser(prog="python -m shallowres",
                    description="Learn a shallow ReLU residual network y = relu(X(W* + I)) v* "
                                "by gradient descent (GD) or alternating minimization (AM).")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    r = sub.add_parser("run", help="run GD or AM and print every iteration")
    _add_problem_args(r)
    r.add_argument("--alg", default="gd", help="gd | am")
    r.add_argument("--iters", type=int, default=None, help="maximum iterations (default: GD 3000, AM 50)")
    r.add_argument("--tol", type=float, default=DEFAULT_TOL, help="stop when rel_err < tol")
    r.add_argument("--eta", default="theory", help="GD step: theory | K x theory as 'Kx' | a number")
    r.add_argument("--am-solver", dest="am_solver", default="auto",
                   help="auto | cholesky | gram | cg | lsqr | dense")
    r.add_argument("--every", type=int, default=None, help="table: print every K-th iteration")
    t = sub.add_parser("theory", help="the paper's theory quantities at the initial point")
    _add_problem_args(t)
    t.add_argument("--eps", type=float, default=1e-8, help="target relative error for predicted T")
    add_sweep_parser(sub)
    return parser


def _budget(a) -> int:
    """--memory-budget in MB, checked before it is turned into bytes."""
    lo, hi = CONSTRAINTS["memory_budget"].low / MB, CONSTRAINTS["memory_budget"].high / MB
    return int(check("memory_budget", a.memory_budget, Interval(lo, hi)) * MB)


def _problem(a):
    budget = _budget(a)
    if a.problem:
        return load_problem(a.problem, noise=a.noise, seed=a.seed, memory_budget=budget)
    return make_problem(d=a.d, n=a.n, gamma=a.gamma, noise=a.noise, seed=a.seed,
                        w_star=a.w_star, memory_budget=budget)


def _row(rec: IterRecord) -> dict:
    return {k: _json_safe(getattr(rec, k)) for k in RECORD_KEYS}


def cmd_run(a, out) -> int:
    problem = _problem(a)
    stride = [a.every]

    def show(rec: IterRecord):
        if rec.t == 0 and not a.json:   # after validation: nothing is printed for bad arguments
            out.write(f"{a.alg.upper()} on d = {problem.d}, n = {problem.n}, "
                      f"||W*||_F = {problem.gamma:.3g}, init = {a.init}"
                      f"{', fresh samples' if a.resample else ''}\n{_table_header()}\n")
        if a.json:
            out.write(json.dumps(_row(rec)) + "\n")
            out.flush()
        elif rec.t % stride[0] == 0:
            out.write(_table_line(rec) + "\n")
            out.flush()

    iters = a.iters
    if stride[0] is None:
        stride[0] = max(1, (iters or (3000 if a.alg == "gd" else 50)) // 30)
    elif stride[0] < 1:
        raise ValueError(f"every must be an integer >= 1; got {a.every}")
    res = run(problem, a.alg, init=a.init, delta=a.delta, eta=a.eta, resample=a.resample,
              iters=iters, tol=a.tol, am_solver=a.am_solver,
              memory_budget=_budget(a), callback=show)
    last = res.records[-1]
    if a.json:
        summary = {k: _json_safe(v) for k, v in res.summary().items()}
        out.write(json.dumps(summary) + "\n")
    else:
        if last.t % stride[0] != 0:
            out.write(_table_line(last) + "\n")
        out.write(f"\n{res.message}\nstop_reason = {res.stop_reason}, n_iter = {res.n_iter}, "
                  f"{res.seconds:.3f} s\n")
    return 0


def _table_header() -> str:
    return (f"{'t':>6} {'rel_err':>10} {'train_loss':>11} {'test_loss':>11} "
            f"{'flips*':>7} {'flips_prev':>10} {'rho3':>8}")


def _table_line(r: IterRecord) -> str:
    return (f"{r.t:>6} {r.rel_err:>10.3e} {r.train_loss:>11.3e} {r.test_loss:>11.3e} "
            f"{r.flips_teacher:>7} {r.flips_prev:>10} {r.rho3:>8.4f}")


def cmd_theory(a, out) -> int:
    th = theory(_problem(a), init=a.init, delta=a.delta, eps=a.eps, resample=a.resample)
    d = th.as_dict()
    if a.json:
        out.write(json.dumps({k: d[k] for k in THEORY_KEYS}) + "\n")
        return 0
    fmt = lambda v: "vacuous" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))  # noqa: E731
    for k in THEORY_KEYS[:-1]:
        out.write(f"{k:>18}  {fmt(d[k])}\n")
    for why in d["vacuous"].values():
        out.write(f"\n{why}\n")
    return 0


def main(argv=None, out=None) -> int:
    out = out or sys.stdout
    parser = build_parser()
    a = parser.parse_args(argv)
    try:
        return {"run": cmd_run, "theory": cmd_theory, "sweep": cmd_sweep}[a.command](a, out)
    except ValueError as e:
        msg = str(e)
        name = msg.split(" ", 1)[0]
        if name in ("W_star", "v_star", "X", "X_test", "the"):   # arrays read from --problem F.npz
            name = "problem"
        flag = "--" + name.replace("_", "-")
        known = name in CONSTRAINTS or name in ("problem", "every", "memory_budget")
        prefix = f"argument {flag}: " if known else ""
        sys.stderr.write(f"{parser.prog} {a.command}: error: {prefix}{msg}\n")
        return 2
