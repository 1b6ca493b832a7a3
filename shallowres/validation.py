"""Declarative parameter ranges and the one error-message format.

Every public entry point checks its arguments against ``CONSTRAINTS`` with
:func:`check`, so a bad value always gives the same kind of message::

    ValueError: gamma must be a float in [0, 100]; got -1
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

GB = 1024**3
MB = 1024**2


@dataclass(frozen=True)
class Interval:
    """A numeric range; ``integer`` asks for a whole number."""

    low: float
    high: float
    integer: bool = False
    low_open: bool = False
    high_open: bool = False

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a float"
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        return f"{kind} in {left}{_fmt(self.low)}, {_fmt(self.high)}{right}"

    def contains(self, x: float) -> bool:
        above = x > self.low if self.low_open else x >= self.low
        below = x < self.high if self.high_open else x <= self.high
        return above and below


@dataclass(frozen=True)
class OneOf:
    """A choice among fixed strings."""

    options: tuple[str, ...]

    def describe(self) -> str:
        return "one of " + ", ".join(repr(o) for o in self.options)


def _fmt(x: float) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        x = int(x)
    if isinstance(x, int) and abs(x) >= 10**5 and x % 10 == 0:
        exp = len(str(abs(x))) - len(str(abs(x)).rstrip("0"))
        if x == 10**exp:
            return f"10^{exp}"
    return str(x)


# One table: parameter -> allowed values.
CONSTRAINTS: dict[str, Interval | OneOf] = {
    "d": Interval(2, 200, integer=True),
    "n": Interval(1, 10**6, integer=True),
    "n_test": Interval(1, 10**5, integer=True),
    "gamma": Interval(0, 100),
    "delta": Interval(0, 1, low_open=True, high_open=True),
    "noise": Interval(0, 100),
    "seed": Interval(0, 2**63 - 1, integer=True),
    "eta": Interval(0, 1e12, low_open=True),
    "eta_scale": Interval(0, 100, low_open=True),
    "iters": Interval(1, 10**6, integer=True),
    "tol": Interval(0, 1),
    "eps": Interval(0, 1, low_open=True, high_open=True),
    "memory_budget": Interval(10 * MB, 1024 * GB, integer=True),
    "alg": OneOf(("gd", "am")),
    "run_alg": OneOf(("gd", "am", "sgd", "adam")),      # alg of run/iterate/Stepper: with Table I's baselines
    "am_inner": Interval(1, 10**4, integer=True),       # inexact AM: CG iterations per step
    "batch_size": Interval(1, 10**6, integer=True),     # SGD, Adam: samples per mini-batch
    "lr_decay": Interval(0, 100),                       # SGD, Adam: eta_t = eta / (1 + lr_decay t)
    "init": OneOf(("identity", "random", "delta")),
    "w_star": OneOf(("balanced", "gaussian")),
    "am_solver": OneOf(("auto", "cholesky", "gram", "cg", "lsqr", "dense")),
    # phase-transition sweeps (sweep.py, executors.py)
    "trials": Interval(1, 10**5, integer=True),
    "threshold": Interval(0, 1, low_open=True),
    "gd_iters": Interval(1, 10**6, integer=True),
    "am_iters": Interval(1, 10**6, integer=True),
    "workers": Interval(1, 4096, integer=True),
    "executor": OneOf(("serial", "processes", "dask")),
}


def check(name: str, value, constraint: Interval | OneOf | None = None):
    """Return ``value`` coerced to the parameter's type, or raise ValueError.

    The message names the parameter, its allowed range and the value got.
    """
    c = constraint or CONSTRAINTS[name]
    if isinstance(c, OneOf):
        if isinstance(value, str) and value.lower() in c.options:
            return value.lower()
        raise ValueError(f"{name} must be {c.describe()}; got {value!r}")
    bad = ValueError(f"{name} must be {c.describe()}; got {value!r}")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise bad
    x = float(value)
    if not math.isfinite(x) or not c.contains(x):
        raise bad
    if c.integer:
        if not x.is_integer():
            raise bad
        return int(value)
    return x


class MemoryBudgetError(ValueError):
    """A configuration whose working set would pass the memory budget."""


def check_memory(need_bytes: float, budget_bytes: int, what: str) -> None:
    """Refuse, with a clear message, a working set larger than the budget."""
    if need_bytes > budget_bytes:
        raise MemoryBudgetError(
            f"{what} needs about {need_bytes / MB:,.0f} MB, more than the memory budget "
            f"of {budget_bytes / MB:,.0f} MB; use a smaller n or d, or raise memory_budget"
        )
