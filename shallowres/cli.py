"""Command line: ``python -m shallowres run | theory``.

Bad arguments exit with status 2 and one line naming the flag. Output into a closed
pipe (``... | head``) ends quietly with status 0.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

from .baselines import DEFAULT_BATCH, default_iters, label
from .ladder import measured_rung
from .lsq import inner_cap
from .problem import ProblemFileError, load_problem, make_problem
from .solvers import DEFAULT_TOL, IterRecord, run
from .sweep_cli import add_sweep_parser, cmd_sweep
from .theory import theory
from .theory_path import path_run, path_rung
from .validation import CONSTRAINTS, MB, Interval, check

RECORD_KEYS = ("t", "err", "rel_err", "train_loss", "test_loss", "flips_teacher",
               "flips_prev", "rho3", "seconds", "inner_iters")
THEORY_KEYS = ("sigma_min", "sigma_max", "kappa", "rho3", "rho3_sum", "rho3_rss", "rho3_norm_of_sum",
               "rho3_unit_scale", "rho3_rss_unit_scale", "rho3_norm_of_sum_unit_scale", "rho4", "rho_gd",
               "rho_am", "rho_gd_tight", "rho_am_tight", "eta", "t_gd", "t_am", "t_ratio_pred", "t_gd_tight",
               "t_am_tight", "t_ratio_pred_tight", "sigma_min_star", "sigma_max_star", "kappa_star",
               "rho_gd_local", "am_first_factor", "am_local_constant", "t_gd_local", "t_am_local",
               "t_ratio_local", "kappa_inf", "kappa_inf_star", "sigma_min_inf_unit", "sigma_max_inf_unit",
               "rho3_inf_unit", "rho3_rss_inf_unit", "rho_gd_inf", "rho_am_inf", "kappa_w", "lambda",
               "log10_lambda", "assumption1_bound", "assumption1_holds", "balance_ratio",
               "n_over_d2", "rel_err0", "eps", "gamma", "d", "n", "vacuous", "ladder")


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
    g.add_argument("--d", type=int, default=None, help="hidden units = input dimension (2..200; default 20)")
    g.add_argument("--n", type=int, default=None,
                   help="training samples (1..10^6; default 1700); with --problem, the batch size "
                        "(default: every row of X)")
    g.add_argument("--gamma", type=float, default=None, help="||W*||_F (0..100; default 2)")
    g.add_argument("--noise", type=float, default=0.0,
                   help="label noise std, in units of the inputs' scale (1/sqrt(n) for generated data, "
                        "the RMS entry of X with --problem)")
    g.add_argument("--w-star", dest="w_star", default=None, help="balanced | gaussian (default balanced)")
    g.add_argument("--seed", type=int, default=0, help="one seed reproduces everything")
    g.add_argument("--problem", metavar="F.npz",
                   help="arrays W_star, v_star, X (and X_test) instead of --d/--gamma/--w-star; "
                        "with --resample, fresh batches of --n rows are drawn from X without replacement")
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
    r = sub.add_parser("run", help="run GD, AM or a baseline (SGD, Adam, inexact AM) and print every iteration")
    _add_problem_args(r)
    r.add_argument("--alg", default="gd", help="gd | am | sgd | adam (SGD and Adam: one iteration = one epoch)")
    r.add_argument("--iters", type=int, default=None,
                   help="maximum iterations (default: GD 3000, AM 50, SGD and Adam 1000 epochs, "
                        "inexact AM 50 + 400/K)")
    r.add_argument("--tol", type=float, default=DEFAULT_TOL, help="stop when rel_err < tol")
    r.add_argument("--eta", default="theory", help="GD step: theory | K x theory as 'Kx' | a number")
    r.add_argument("--am-solver", dest="am_solver", default="auto",
                   help="auto | cholesky | gram | cg | lsqr | dense")
    r.add_argument("--am-inner", dest="am_inner", type=int, default=None, metavar="K",
                   help="inexact AM: K CG iterations per step instead of the exact solve (with --alg am)")
    r.add_argument("--batch-size", dest="batch_size", type=int, default=DEFAULT_BATCH,
                   help=f"SGD, Adam: samples per mini-batch (default {DEFAULT_BATCH})")
    r.add_argument("--lr-decay", dest="lr_decay", type=float, default=0.0,
                   help="SGD, Adam: step eta / (1 + lr_decay * epoch) (default 0: constant)")
    r.add_argument("--every", type=int, default=None, help="table: print every K-th iteration")
    t = sub.add_parser("theory", help="the paper's theory quantities at the initial point; with --path, "
                                      "at every iterate of GD and AM runs")
    _add_problem_args(t)
    t.add_argument("--eps", type=float, default=1e-8, help="target relative error for predicted T "
                                                           "(with --path the runs stop there)")
    t.add_argument("--eta", default="theory", help="GD's step, as for run: theory | Kx | a number")
    t.add_argument("--path", action="store_true",
                   help="run GD and AM and evaluate the theory at every iterate (per-step verdicts)")
    t.add_argument("--gd-iters", dest="gd_iters", type=int, default=3000, help="with --path: GD's iteration limit")
    t.add_argument("--am-iters", dest="am_iters", type=int, default=50, help="with --path: AM's iteration limit")
    t.add_argument("--max-spectra", dest="max_spectra", type=int, default=None,
                   help="with --path: spectra at most at this many iterates per run (log-spaced; default all)")
    add_sweep_parser(sub)
    return parser


def _budget(a) -> int:
    """--memory-budget in MB, checked before it is turned into bytes."""
    lo, hi = CONSTRAINTS["memory_budget"].low / MB, CONSTRAINTS["memory_budget"].high / MB
    return int(check("memory_budget", a.memory_budget, Interval(lo, hi)) * MB)


GENERATED = {"d": 20, "n": 1700, "gamma": 2.0, "w_star": "balanced"}


def _problem(a):
    budget = _budget(a)
    if a.problem is not None:
        clash = [k for k in ("d", "gamma", "w_star") if getattr(a, k) is not None]
        if clash:
            raise ProblemFileError(f"problem gives W_star and X, so --{clash[0].replace('_', '-')} cannot be "
                                   "used with it (d and ||W*||_F come from the file)")
        return load_problem(a.problem, noise=a.noise, seed=a.seed, memory_budget=budget, n=a.n)
    kw = {k: default if getattr(a, k) is None else getattr(a, k) for k, default in GENERATED.items()}
    return make_problem(noise=a.noise, seed=a.seed, memory_budget=budget, **kw)


def _row(rec: IterRecord) -> dict:
    return {k: _json_safe(getattr(rec, k)) for k in RECORD_KEYS}


def cmd_run(a, out) -> int:
    problem = _problem(a)
    stride = [a.every]

    def show(rec: IterRecord):
        if rec.t == 0 and not a.json:   # after validation: nothing is printed for bad arguments
            out.write(f"{label(a.alg.lower(), a.am_inner)} on d = {problem.d}, n = {problem.n}, "
                      f"||W*||_F = {problem.gamma:.3g}, init = {a.init}"
                      f"{', fresh samples' if a.resample else ''}\n{_near_square_note(a, problem)}"
                      f"{_table_header()}\n")
        if a.json:
            out.write(json.dumps(_row(rec)) + "\n")
            out.flush()
        elif rec.t % stride[0] == 0:
            out.write(_table_line(rec) + "\n")
            out.flush()

    iters = a.iters
    if stride[0] is None:
        stride[0] = max(1, (iters or default_iters(a.alg, a.am_inner)) // 30)
    elif stride[0] < 1:
        raise ValueError(f"every must be an integer >= 1; got {a.every}")
    res = run(problem, a.alg, init=a.init, delta=a.delta, eta=a.eta, resample=a.resample,
              iters=iters, tol=a.tol, am_solver=a.am_solver,
              memory_budget=_budget(a), callback=show, am_inner=a.am_inner, batch_size=a.batch_size,
              lr_decay=a.lr_decay)
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


def _near_square_note(a, problem) -> str:
    """A warning line when AM's exact step (3) is nearly singular (n close to d^2), else ""."""
    n, d = problem.n, problem.d
    if a.alg.lower() != "am" or a.am_inner is not None or not n < 1.5 * d * d:
        return ""
    return (f"note: n/d^2 = {n / d**2:.2f}: B is close to singular, so one AM step may take up to "
            f"{inner_cap(d):,} inner iterations\n      (CG, then LSQR): tens of seconds per step at d = 60 on "
            "one core. AM's measured transition is near n = 1.25-1.5 d^2.\n")


def _table_header() -> str:
    return (f"{'t':>6} {'rel_err':>10} {'train_loss':>11} {'test_loss':>11} "
            f"{'flips*':>7} {'flips_prev':>10} {'rho3':>8}")


def _table_line(r: IterRecord) -> str:
    return (f"{r.t:>6} {r.rel_err:>10.3e} {r.train_loss:>11.3e} {r.test_loss:>11.3e} "
            f"{r.flips_teacher:>7} {r.flips_prev:>10} {r.rho3:>8.4f}")


def _fmt(v) -> str:
    if v is None:
        return "none (see below)"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _ladder_lines(rungs: list[dict]) -> list[str]:
    def cell(x, digits=".4g"):
        return "-" if x is None else format(x, digits)
    lines = [f"{'rung':<46} {'rate GD':>9} {'rate AM':>9} {'T_GD':>7} {'T_AM':>6} {'ratio log':>10} {'ratio eps':>10}"]
    for r in rungs:
        lines.append(f"{r['label']:<46} {cell(r['rate_gd'])!s:>9} {cell(r['rate_am'])!s:>9} "
                     f"{cell(r['t_gd'], '.0f')!s:>7} {cell(r['t_am'], '.0f')!s:>6} "
                     f"{cell(r['ratio_log'])!s:>10} {cell(r['ratio_eps'])!s:>10}")
    return lines


def _path_summary(alg: str, res, path) -> list[str]:
    d = path.as_dict()
    counts = lambda k: ", ".join(f"{v} {n}" for n, v in d[f"verdict_{k}_counts"].items() if v)  # noqa: E731
    bound = "(4)" if alg == "gd" else "(5)"
    return [f"{alg.upper()}: {res.n_iter} steps ({res.stop_reason.replace('_', ' ')}); theory at every iterate in "
            f"{path.seconds:.2f} s ({path.spectra_computed} spectra computed, {path.cache_hits} reused)",
            f"  paper's bound {bound} at each iterate: {counts('paper')}",
            f"  tightened bound at each iterate: {counts('tight')}"]


def cmd_theory(a, out) -> int:
    if a.path:
        check("gd_iters", a.gd_iters)
        check("am_iters", a.am_iters)
        if a.max_spectra is not None and a.max_spectra < 2:
            raise ValueError(f"max_spectra must be an integer >= 2; got {a.max_spectra}")
    problem = _problem(a)
    budget = _budget(a)
    th = theory(problem, init=a.init, delta=a.delta, eps=a.eps, resample=a.resample, eta=a.eta,
                memory_budget=budget)
    d = th.as_dict()
    result = {k: d[k] for k in THEORY_KEYS}
    result.update({k: v for k, v in d.items() if k.endswith("_reason") and k[:-7] in THEORY_KEYS})
    paths = {}
    if a.path:
        for alg, iters in (("gd", a.gd_iters), ("am", a.am_iters)):
            paths[alg] = path_run(problem, alg, init=a.init, delta=a.delta, eta=a.eta, resample=a.resample,
                                  iters=iters, tol=a.eps, memory_budget=budget, max_spectra=a.max_spectra)
        gd, am = paths["gd"], paths["am"]
        extra = [path_rung(gd[1], am[1], a.eps),
                 measured_rung(gd[0].history["rel_err"], am[0].history["rel_err"], a.eps,
                               gd[0].stop_reason, am[0].stop_reason,
                               gd[0].history["flips_teacher"], am[0].history["flips_teacher"])]
        result["ladder"] = result["ladder"] + [r.as_dict() for r in extra]
        result["path"] = {alg: p.as_dict() for alg, (_, p) in paths.items()}
    if a.json:
        out.write(json.dumps(result) + "\n")
        return 0
    for k in THEORY_KEYS:
        if k not in ("vacuous", "ladder"):
            out.write(f"{k:>28}  {_fmt(result[k])}\n")
    out.write(f"\nLadder of predictions to eps = {a.eps:g} (ratio log: log(1/rho_AM)/log(1/rho_GD); "
              "ratio eps: T_GD/T_AM)\n")
    out.write("\n".join(_ladder_lines(result["ladder"])) + "\n")
    for r in result["ladder"]:
        notes = [f"{k}: {v}" for k, v in r["reasons"].items() if k in ("ratio_log", "ratio_eps", "t_gd", "t_am")]
        if notes:
            out.write(f"  {r['label']}\n" + "".join(f"    {x}\n" for x in notes))
    if a.path:
        out.write("\n" + "\n".join(line for alg, (res, p) in paths.items() for line in _path_summary(alg, res, p))
                  + "\n")
    nulls = [(k, result[f"{k}_reason"]) for k in THEORY_KEYS if result.get(k) is None and f"{k}_reason" in result]
    if nulls:
        out.write("\nWhy some values are not numbers:\n")
        out.write("".join(f"  {k}: {why}\n" for k, why in nulls))
    if d["vacuous"]:
        names = {"rho_gd": "rho_GD (4)", "rho_am": "rho_AM (5)", "rho_gd_tight": "the tightened GD bound",
                 "rho_am_tight": "the tightened AM bound"}
        listed = ", ".join(f"{names[k]} = {_fmt(d[k])}" for k in d["vacuous"])
        out.write(f"\nvacuous at W^0 (>= 1, no contraction promised): {listed}. Why:\n")
        out.write("".join(f"  - {c}\n" for c in th.causes()))
    return 0


FLAGS = ("problem", "every", "memory_budget", "max_spectra", "resample")


def _flag_of(e: ValueError) -> str | None:
    """The flag a ValueError's message is about (its first word), or None."""
    if isinstance(e, ProblemFileError):
        return "--problem"
    name = str(e).split(" ", 1)[0]
    return "--" + name.replace("_", "-") if name in CONSTRAINTS or name in FLAGS else None


def main(argv=None, out=None) -> int:
    out = out or sys.stdout
    parser = build_parser()
    a = parser.parse_args(argv)
    try:
        return {"run": cmd_run, "theory": cmd_theory, "sweep": cmd_sweep}[a.command](a, out)
    except ValueError as e:
        flag = _flag_of(e)
        prefix = f"argument {flag}: " if flag else ""
        msg = " ".join(str(e).split())       # one line, whatever the message holds
        sys.stderr.write(f"{parser.prog} {a.command}: error: {prefix}{msg}\n")
        return 2
    except BrokenPipeError:
        # the reader went away (``| head``): stop quietly. Python would report the failed
        # flush of stdout at exit, so point it at /dev/null first (the Python docs' recipe).
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 0
