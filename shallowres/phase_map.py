"""The sample-complexity map: recovery probability over (d, n/d^2), the threshold
n*(d) at 50% recovery, and the exponent alpha in n* ~ C d^alpha; and the (gamma, n)
map at one d: how far from the identity the teacher can be.

The paper's Theorem 1 asks for n > C d k^2 poly(log) = O~(d^3) samples (k = d);
AM's least-squares step (3) has d^2 unknowns, so n >= d^2 is needed for it to
have one solution. Which exponent do the algorithms show? A map over d answers it.

- :func:`d_map_spec`: a :class:`~shallowres.sweep.SweepSpec` with n = r d^2 for
  each d (``n_per_d2``) and the teacher at a fixed *relative* size
  ||W*||_F / ||I||_F = gamma / sqrt(d) (``relative_gamma``), so every d sees the
  same geometry; the default 2/sqrt(20) is the paper's gamma = 2 at d = 20.
  Balanced columns then have ||w*_q|| = 0.447 whatever d (Assumption 3).
- :func:`gamma_map_spec`: gamma (absolute ||W*||_F) against n at one d.
- :func:`analyze`: per d (or gamma) the threshold fit of :mod:`shallowres.threshold`,
  and over d the exponent fit.

Run either with :func:`shallowres.sweep.run_sweep` (any executor) or
``python -m shallowres sweep --map d`` / ``--map gamma``. Rows are ordinary
sweep rows (CSV via ``SweepResult.to_csv``), so a map computed on a cluster can
be analyzed and drawn anywhere (``scripts/phase_plot.py``).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

from .sweep import Row, SweepSpec
from .threshold import ExponentFit, ThresholdFit, fit_exponent, fit_threshold

MAP_D = (5, 10, 15, 20, 30, 40, 50)
# Dense where the transition lies (n/d^2 ~ 1.2-1.8 for AM from the identity, d = 5..50),
# with n < d^2 (AM's step underdetermined) and 2.5 d^2 as anchors.
MAP_RATIOS = (0.9, 1.1, 1.2, 1.3, 1.4, 1.5, 1.75, 2.0, 2.5)
PAPER_REL_GAMMA = 2 / math.sqrt(20)          # ||W*||_F / ||I||_F of the paper's experiment
MAP_GAMMA = (0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
# Dense near d^2 = 400 (where small teachers cross) and spread out to 10 d^2 for large ones.
MAP_GAMMA_N = (300, 400, 450, 500, 550, 600, 700, 800, 1000, 1200, 1500, 2000, 2500, 3200, 4000)
MAP_TRIALS = 20


def d_map_spec(d=MAP_D, ratios=MAP_RATIOS, rel_gamma: float = PAPER_REL_GAMMA, *, trials: int = MAP_TRIALS,
               alg: str = "am", init: str = "identity", **kw) -> SweepSpec:
    """The (d, n/d^2) map: n = round(r d^2) for r in ``ratios`` at each d, and
    ||W*||_F = rel_gamma sqrt(d). Other SweepSpec settings pass through ``kw``."""
    return SweepSpec(d=d, n_per_d2=ratios, gamma=rel_gamma, relative_gamma=True, trials=trials,
                     algs=alg, inits=init, **kw)


def gamma_map_spec(gamma=MAP_GAMMA, n=MAP_GAMMA_N, d: int = 20, *, trials: int = MAP_TRIALS,
                   alg: str = "am", init: str = "identity", **kw) -> SweepSpec:
    """The (gamma, n) map at one d: ||W*||_F in ``gamma`` against n."""
    return SweepSpec(d=d, n=n, gamma=gamma, trials=trials, algs=alg, inits=init, **kw)


@dataclass(frozen=True)
class MapLine:
    """One d (or gamma) of a map: its threshold fit."""

    d: int
    gamma: float
    noise: float
    fit: ThresholdFit

    def as_dict(self) -> dict:
        out = dict(d=self.d, gamma=self.gamma, noise=self.noise, **asdict(self.fit))
        out["n_star_over_d2"] = self.fit.n_star / self.d**2
        return out


@dataclass(frozen=True)
class MapAnalysis:
    """A map's thresholds (``lines``, one per d or gamma) and, for a d map with
    three or more bracketed thresholds, the exponent fit (else None, ``why`` says why)."""

    kind: str                    # "d" or "gamma"
    alg: str
    init: str
    lines: tuple[MapLine, ...]
    exponent: ExponentFit | None
    why: str = ""

    def as_dict(self) -> dict:
        return dict(kind=self.kind, alg=self.alg, init=self.init, lines=[ln.as_dict() for ln in self.lines],
                    exponent=None if self.exponent is None else asdict(self.exponent), why=self.why)


def _rows(rows: Iterable[Row | Mapping]) -> list[dict]:
    return [r.as_dict() if isinstance(r, Row) else dict(r) for r in rows]


def analyze(rows: Iterable[Row | Mapping], kind: str = "d", alg: str | None = None,
            init: str | None = None) -> MapAnalysis:
    """Thresholds n* per d (``kind="d"``) or per gamma (``kind="gamma"``) for one
    (alg, init) curve of the rows (default: the first present), and for a d map the
    exponent alpha in n* ~ C d^alpha. Lines with fewer than two values of n are
    skipped. Raises ValueError for an unknown ``kind`` or a curve not in the rows."""
    if kind not in ("d", "gamma"):
        raise ValueError(f"kind must be one of 'd', 'gamma'; got {kind!r}")
    rs = _rows(rows)
    if not rs:
        raise ValueError("rows must hold at least one sweep row; got none")
    alg = alg or rs[0]["alg"]
    init = init or rs[0]["init"]
    rs = [r for r in rs if r["alg"] == alg and r["init"] == init]
    if not rs:
        raise ValueError(f"no rows for alg={alg!r}, init={init!r}")
    groups: dict[tuple, list[dict]] = {}
    for r in rs:
        groups.setdefault((r["d"], r["gamma"], r["noise"]), []).append(r)
    lines = []
    for (d, gamma, noise), g in sorted(groups.items()):
        g = sorted(g, key=lambda r: r["n"])
        if len(g) < 2:
            continue
        fit = fit_threshold([r["n"] for r in g], [r["successes"] for r in g], [r["trials"] for r in g])
        lines.append(MapLine(int(d), float(gamma), float(noise), fit))
    exponent, why = None, ""
    if kind == "d":
        try:
            exponent = fit_exponent([ln.d for ln in lines], [ln.fit for ln in lines])
        except ValueError as e:
            why = str(e)
    return MapAnalysis(kind, alg, init, tuple(lines), exponent, why)


def format_analysis(a: MapAnalysis) -> str:
    """The thresholds and the exponent as a short text table."""
    key = "d" if a.kind == "d" else "gamma"
    out = [f"50% recovery threshold n* ({a.alg.upper()}, {a.init} init): logistic fit in log n, "
           "95% profile-likelihood interval",
           f"{key:>6} {'n*':>9} {'95% interval':>21} {'n*/d^2':>7}  status"]
    for ln in a.lines:
        f = ln.fit
        label = f"{ln.d}" if a.kind == "d" else f"{ln.gamma:g}"
        if f.status == "fit":
            out.append(f"{label:>6} {f.n_star:>9.1f} {f'[{f.low:.1f}, {f.high:.1f}]':>21} "
                       f"{f.n_star / ln.d**2:>7.3f}  fit")
        else:
            side = "> " if f.status == "above" else "< "
            bound = f.low if f.status == "above" else f.high
            out.append(f"{label:>6} {side + format(bound, '.0f'):>9} {'':>21} {'':>7}  "
                       f"{'no success in the grid' if f.status == 'above' else 'no failure in the grid'}")
    if a.kind == "d":
        e = a.exponent
        if e is None:
            out.append(f"exponent: not fitted ({a.why})")
        else:
            out.append(f"n* ~ C d^alpha: alpha = {e.alpha:.3f}, 95% interval [{e.low:.3f}, {e.high:.3f}], "
                       f"C = {e.C:.3g} (over d = {', '.join(f'{v:g}' for v in e.d)}; error scale {e.scale:.2f}); "
                       "the paper's bound: alpha = 3 (up to logs); AM's step needs n >= d^2 (n*/d^2 >= 1)")
    return "\n".join(out) + "\n"
