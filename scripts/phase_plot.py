"""The README's phase-transition and map plots, from sweep tables, with the page's own figures.

    python -m shallowres sweep --paper --csv docs/phase_transition.csv
    python scripts/phase_plot.py docs/phase_transition.csv docs/phase_transition.png
    python -m shallowres sweep --map d --csv docs/phase_map_d.csv
    python scripts/phase_plot.py --map d docs/phase_map_d.csv docs/phase_map_d.png   # also ..._alpha.png
    python scripts/phase_plot.py --map gamma docs/phase_map_gamma.csv docs/phase_map_gamma.png

Renders ``dashboard.sweep_view.phase_figure`` (or ``dashboard.map_view``'s map figures)
with the plotly.js bundled in the ``plotly`` package and screenshots it in headless
Chromium (Debian's, through Playwright, as the browser tests do): no extra dependency
such as kaleido.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import plotly.io as pio  # noqa: E402

from dashboard.devserver import chromium  # noqa: E402
from dashboard.map_view import exponent_figure, map_heatmap  # noqa: E402
from dashboard.sweep_view import phase_figure  # noqa: E402
from shallowres.phase_map import analyze  # noqa: E402
from shallowres.sweep import rows_from_csv  # noqa: E402


def render(fig: dict, png: str, w: int, h: int, title: str) -> None:
    """Draw a Plotly figure (dict) with the bundled plotly.js in headless Chromium, to ``png`` at 2x."""
    fig["layout"]["title"] = {"text": title, "x": 0.01, "xanchor": "left", "y": 0.98, "font": {"size": 20}}
    fig["layout"]["margin"]["t"] = max(fig["layout"]["margin"].get("t", 0), 110)
    fig["layout"]["width"], fig["layout"]["height"] = w, h
    html = pio.to_html(fig, include_plotlyjs=True, full_html=True, config={"staticPlot": True})
    with tempfile.TemporaryDirectory() as tmp, chromium() as browser:
        page_file = Path(tmp) / "figure.html"
        page_file.write_text(html, encoding="utf-8")
        page = browser.new_page(viewport={"width": w, "height": h}, device_scale_factor=2)
        page.goto(page_file.as_uri())
        page.wait_for_selector(".main-svg", timeout=30_000)
        page.wait_for_timeout(500)
        page.locator(".plotly-graph-div").first.screenshot(path=png)
    print(f"wrote {png}")


def map_plots(rows, kind: str, png: str, w: int, h: int) -> None:
    a = analyze(rows, kind)
    trials = max(r.trials for r in rows)
    if kind == "d":
        rel = rows[0].gamma / rows[0].d ** 0.5
        render(map_heatmap(rows, a, height=h), png, w, h,
               f"P(recovery) over d and n/d²: {a.alg.upper()} from the {a.init} start, ‖W*‖/‖I‖ = {rel:.3f}, "
               f"{trials} trials per cell")
        e = a.exponent
        fit = "" if e is None else f": n* ≈ {e.C:.3g}·d<sup>{e.alpha:.2f}</sup>, α 95% [{e.low:.2f}, {e.high:.2f}]"
        render(exponent_figure(a, height=h), png.replace(".png", "_alpha.png"), w, h,
               f"Samples for 50% recovery against d{fit}")
    else:
        render(map_heatmap(rows, a, height=h), png, w, h,
               f"P(recovery) over γ = ‖W*‖<sub>F</sub> and n at d = {rows[0].d}: {a.alg.upper()} from the "
               f"{a.init} start, {trials} trials per cell")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv", help="a table from python -m shallowres sweep --csv")
    ap.add_argument("png", help="output picture")
    ap.add_argument("--size", default="1100x560", help="WxH in CSS pixels (drawn at 2x)")
    ap.add_argument("--threshold", type=float, default=0.01)
    ap.add_argument("--title", default=None, help="title above the chart (default: from the table)")
    ap.add_argument("--map", choices=("d", "gamma"), help="the table is a map (sweep --map): draw its heatmap "
                                                          "(and, for d, the exponent plot next to PNG)")
    a = ap.parse_args(argv)
    rows = rows_from_csv(Path(a.csv).read_text())
    w, h = (int(v) for v in a.size.split("x"))
    if a.map:
        map_plots(rows, a.map, a.png, w, h)
        return 0
    d, gamma, trials = rows[0].d, rows[0].gamma, max(r.trials for r in rows)
    fig = phase_figure(rows, sorted({r.n for r in rows}), d, a.threshold, height=h)
    title = a.title or (f"Recovery of W* (relative error < {a.threshold:g}) vs n: d = {d}, "
                        f"‖W*‖<sub>F</sub> = {gamma:g}, {trials} trials per point")
    render(fig, a.png, w, h, title)
    return 0


if __name__ == "__main__":
    sys.exit(main())
