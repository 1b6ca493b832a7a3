"""Stop latency in the real page: from the click on Stop to the moment the charts' last drawn
iteration equals the one the status line names as "stopped at", and stays so.

    python benchmarks/stop_latency.py [--repeat 5]

Starts ``streamlit run app.py`` on a free loopback port and drives it in headless Chromium
(Debian's). Two cases: GD at the paper's d = 20 (many cheap steps), and AM at d = 100,
n = 20000, stopped while an AM step (a preconditioned CG solve, about a second) is under
way. The click is dispatched from the page itself, so Playwright's own waiting is not
counted. Prints each latency and the median; nothing is asserted.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard.devserver import charts, chromium, serve, status_iterations, wait_idle  # noqa: E402

BUTTON = "button[data-testid^='stBaseButton']:not([data-testid='stBaseButton-header'])"
CASES = {
    "GD, d = 20, n = 1700": ("gd", dict(alg="gd", gd_iters=20000, tol=1e-15), 2.0),
    "AM, d = 100, n = 20000 (mid CG solve)": ("am", dict(alg="am", d=100, n=20000, tol=1e-15), None),
}


def click(page, label: str) -> float:
    """Click the app's button ``label`` from inside the page; returns the time just before."""
    t = time.monotonic()
    page.locator(BUTTON, has_text=label).first.evaluate("b => b.click()")
    return t


def settled(page, alg: str) -> tuple[int | None, int | None, bool]:
    last = charts(page)
    drawn = last[0]["last"].get(alg) if last else None
    text = page.locator(".sr-status").all_inner_texts()
    return drawn, status_iterations(page).get(alg), any("stopped at iteration" in t for t in text)


def one(page, url: str, alg: str, query: dict, wait: float | None) -> tuple[float, int]:
    page.goto(url + "/?" + "&".join(f"{k}={v}" for k, v in query.items()))
    wait_idle(page, 120_000)
    click(page, "Run")
    if wait is None:          # AM: wait for the first AM step to finish, then stop midway through the next
        page.wait_for_function("() => /AM · iteration [1-9]/.test(document.body.innerText)", timeout=120_000)
        time.sleep(0.4)
    else:
        time.sleep(wait)
    t_click = click(page, "Stop")
    seen, first_ok = [], None
    while time.monotonic() - t_click < 6.0:
        drawn, said, stopped = settled(page, alg)
        now = time.monotonic() - t_click
        ok = stopped and drawn is not None and drawn == said
        if ok and first_ok is None:
            first_ok = now
        elif not ok:
            first_ok = None
        seen.append((now, drawn, said, stopped))
        time.sleep(0.03)
    if first_ok is None:
        raise RuntimeError(f"never settled: {seen[-3:]}")
    return first_ok, seen[-1][1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print(f"load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with serve() as url, chromium() as browser:
        for name, (alg, query, wait) in CASES.items():
            times = []
            for _ in range(args.repeat):
                ctx = browser.new_context(viewport={"width": 1280, "height": 800})
                page = ctx.new_page()
                latency, t = one(page, url, alg, query, wait)
                times.append(latency)
                print(f"  {name}: {latency:.2f} s (stopped at t = {t})", flush=True)
                ctx.close()
            print(f"{name}: median {statistics.median(times):.2f} s over {len(times)}, "
                  f"max {max(times):.2f} s")
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
