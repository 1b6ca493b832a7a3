"""Screenshots of every dashboard page after a run, for the README.

    python scripts/screenshots.py [--sizes 1280x800,1920x1080] [--out docs/screenshots]

Starts ``streamlit run app.py`` on a free loopback port, opens each page in headless
Chromium (Debian's), presses Run where there is one, waits for the charts, and saves
``train.png``, ``train-midrun.png`` (slow motion, 4 s after Run), ``theory.png`` (the
paper's setting), ``theory-bounds-hold.png`` (the "Bounds hold" preset), ``theory-steps.png``
and ``theory-bounds-hold-steps.png`` (the per-step charts), ``phase.png`` if
pages/2_Phase_transition.py exists, and the Lesson's views (``lesson*.png``: step 1, the
landscape, masks, network and baselines of step 2, steps 3, 4 and 8), at the first size;
other sizes get a ``-WxH`` suffix.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard.devserver import chromium, errors, serve, wait_idle  # noqa: E402

# (file name, URL path with query, press Run, optional heading to scroll to the top of the view)
BOUNDS_HOLD = "Theory?d=2&n=4000&gamma=0.01&eps=1e-08&seed=0"
PAGES = [("train", "", True), ("train-midrun", "?slow=true", True), ("theory", "Theory", False),
         ("theory-bounds-hold", BOUNDS_HOLD, False),
         ("theory-steps", "Theory?eta=0.9x&eps=1e-08&gd_iters=3000", False, "Every step against its bound"),
         ("theory-bounds-hold-steps", BOUNDS_HOLD, False, "Every step against its bound")]
LIVE = ".sr-live-grid .js-plotly-plot"          # the Train page's live charts
DONE = "[data-testid='stDownloadButton']"       # ... drawn once its run has ended
if (ROOT / "pages" / "2_Phase_transition.py").exists():
    PAGES.append(("phase", "Phase_transition", True))
PAGES += [("lesson", "Lesson", False), ("lesson-landscape", "Lesson?step=2", False, "AM iteration t"),
          ("lesson-masks", "Lesson?step=2", False, "The loss on a"),
          ("lesson-network", "Lesson?step=2", False, "The network at t"),
          ("lesson-baselines", "Lesson?step=2", False, "Relative error against iterations"),
          ("lesson-stall", "Lesson?step=3", False), ("lesson-weights", "Lesson?step=4", False, "Weights at t"),
          ("lesson-phase", "Lesson?step=8", False)]


def shoot(browser, url: str, name: str, path: str, press_run: bool, size: tuple[int, int],
          out: Path, suffix: str, scroll_to: str | None = None) -> Path:
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.goto(f"{url}/{path}", timeout=60_000)
    wait_idle(page, timeout=120_000)
    page.wait_for_selector("[data-testid='stSidebar']", timeout=60_000)
    if press_run:
        button = page.get_by_role("button", name="Run", exact=False).first
        button.click()
        page.wait_for_timeout(500)
        if name == "train-midrun":
            page.wait_for_timeout(3500)
        elif name in ("train", "phase"):        # the Phase page's sweep, too, computes after the script is idle
            page.wait_for_selector(DONE, timeout=900_000)
        else:
            wait_idle(page, timeout=300_000)
    page.wait_for_selector(LIVE if name.startswith("train") else "[data-testid='stPlotlyChart']", timeout=300_000)
    if path.startswith("Theory"):
        page.wait_for_selector("text=Assumptions checklist", timeout=300_000)   # the page's last section
    if scroll_to:
        page.get_by_text(scroll_to).first.evaluate("e => e.scrollIntoView({block: 'start'})")
    if name != "train-midrun":
        page.wait_for_timeout(1500)          # let Plotly finish its layout
    bad = errors(page)
    if bad:
        print(f"{name}: error elements on the page: {bad}", file=sys.stderr)
    page.mouse.move(size[0] - 5, size[1] - 5)     # no tooltip over the picture
    page.wait_for_timeout(300)
    target = out / f"{name}{suffix}.png"
    page.screenshot(path=str(target))
    page.close()
    return target


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1920x1080,1280x800", help="viewport sizes, WxH, comma-separated")
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"), help="output folder")
    ap.add_argument("--pages", default=",".join(p[0] for p in PAGES), help="which pages, comma-separated")
    a = ap.parse_args(argv)
    sizes = [tuple(int(v) for v in s.split("x")) for s in a.sizes.split(",")]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    with serve() as url, chromium() as browser:
        for i, size in enumerate(sizes):
            suffix = "" if i == 0 else f"-{size[0]}x{size[1]}"
            for name, path, press_run, *scroll in [p for p in PAGES if p[0] in a.pages.split(",")]:
                print(shoot(browser, url, name, path, press_run, size, out, suffix, *scroll))
    return 0


if __name__ == "__main__":
    sys.exit(main())
