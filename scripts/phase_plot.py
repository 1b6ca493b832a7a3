"""The README's phase-transition plot, from a sweep table, with the page's own figure.

    python -m shallowres sweep --paper --csv docs/phase_transition.csv
    python scripts/phase_plot.py docs/phase_transition.csv docs/phase_transition.png

Renders ``dashboard.sweep_view.phase_figure`` with the plotly.js bundled in the
``plotly`` package and screenshots it in headless Chromium (Debian's, through
Playwright, as the browser tests do): no extra dependency such as kaleido.
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
from dashboard.sweep_view import phase_figure  # noqa: E402
from shallowres.sweep import rows_from_csv  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv", help="a table from python -m shallowres sweep --csv")
    ap.add_argument("png", help="output picture")
    ap.add_argument("--size", default="1100x560", help="WxH in CSS pixels (drawn at 2x)")
    ap.add_argument("--threshold", type=float, default=0.01)
    ap.add_argument("--title", default=None, help="title above the chart (default: from the table)")
    a = ap.parse_args(argv)
    rows = rows_from_csv(Path(a.csv).read_text())
    w, h = (int(v) for v in a.size.split("x"))
    d, gamma, trials = rows[0].d, rows[0].gamma, max(r.trials for r in rows)
    fig = phase_figure(rows, sorted({r.n for r in rows}), d, a.threshold, height=h)
    title = a.title or (f"Recovery of W* (relative error < {a.threshold:g}) vs n: d = {d}, "
                        f"‖W*‖<sub>F</sub> = {gamma:g}, {trials} trials per point")
    fig["layout"]["title"] = {"text": title, "x": 0.01, "xanchor": "left", "y": 0.98, "font": {"size": 20}}
    fig["layout"]["margin"]["t"] = 110
    fig["layout"]["width"] = w
    html = pio.to_html(fig, include_plotlyjs=True, full_html=True, config={"staticPlot": True})
    with tempfile.TemporaryDirectory() as tmp, chromium() as browser:
        page_file = Path(tmp) / "phase.html"
        page_file.write_text(html, encoding="utf-8")
        page = browser.new_page(viewport={"width": w, "height": h}, device_scale_factor=2)
        page.goto(page_file.as_uri())
        page.wait_for_selector(".main-svg", timeout=30_000)
        page.wait_for_timeout(500)
        page.locator(".plotly-graph-div").first.screenshot(path=a.png)
    print(f"wrote {a.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
