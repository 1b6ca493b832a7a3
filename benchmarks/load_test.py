"""A class on one server: N browser sessions press Run at once; what each student waits and sees.

    python benchmarks/load_test.py [--scenarios mixed10,heavy20,mixed30] [--memory-mb 600]

Starts one ``streamlit run app.py`` on loopback (the hosted app is one such process) and
opens N sessions in headless Chromium, each with its own settings. Students each have their own
laptop; here the browsers share the server's cores, so they draw no charts (they still receive and
merge every update) and run at the lowest CPU priority (nice 19), below the server's solver threads:

- default: the paper's d = 20, n = 1700, GD and AM (seeds differ, so cross-talk would show);
- heavy:   AM at d = 100, n = 20000, the run that took a 20-student server to 1.78 GB.

For each scenario it prints the server's peak resident memory (VmHWM), each session's wait
(click to first drawn record) and run time (click to the end), how it ended (finished,
queued, refused, stopped), and checks each finished session's final iteration and relative
error against the command line (``python -m shallowres run``) for its settings. At the end
it closes every session and reads the server's resident size a minute later, against its
idle size. Bounded: at most --timeout s per scenario; nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard.admission import STATS_ENV  # noqa: E402
from dashboard.devserver import chromium, memory_anatomy, memory_mb, serve, server_pid, wait_idle  # noqa: E402

BUTTON = "button[data-testid^='stBaseButton']:not([data-testid='stBaseButton-header'])"
DONE = "[data-testid='stDownloadButton']"
BODY_TEXT = "() => document.body.innerText"
REPAGES = "() => Number(document.body.dataset.srRepages || 0)"
DEFAULT = dict(d=20, n=1700, alg="both")
HEAVY = dict(d=100, n=20000, alg="am")
SCENARIOS = {          # name -> [(kind, count, delay before clicking, s)]
    "mixed10": [("default", 7, 0.0), ("heavy", 3, 0.0)],
    "heavy20": [("heavy", 20, 0.0), ("default", 3, 5.0)],
    "mixed30": [("heavy", 10, 0.0), ("default", 20, 2.0)],
    "default10": [("default", 10, 0.0)],
}


@dataclass
class Session:
    kind: str
    seed: int
    delay: float
    page: object = None
    clicked: float | None = None
    first: float | None = None
    done: float | None = None
    outcome: str = ""
    checked: str = ""
    notes: list = field(default_factory=list)
    polled: float = 0.0

    @property
    def query(self) -> dict:
        return {**(DEFAULT if self.kind == "default" else HEAVY), "seed": self.seed}


@cache
def cli(alg: str, d: int, n: int, seed: int) -> tuple[int, float]:
    """(final iteration, relative error) of ``python -m shallowres run`` with the page's settings."""
    iters = 1000 if alg == "gd" else 50
    out = subprocess.run([sys.executable, "-m", "shallowres", "run", "--d", str(d), "--n", str(n), "--alg", alg,
                          "--seed", str(seed), "--iters", str(iters), "--tol", "1e-8", "--json"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    return summary["n_iter"], summary["rel_err"]


def check(s: Session) -> str:
    # the status line drawn with the charts, and the result boxes under them
    text = s.page.locator(".sr-status").all_inner_texts() + \
        s.page.locator("[data-testid='stAlertContainer']").all_inner_texts()
    algs = ("gd", "am") if s.query["alg"] == "both" else (s.query["alg"],)
    bad = []
    for alg in algs:
        t, rel = cli(alg, s.query["d"], s.query["n"], s.seed)
        want = f"{alg.upper()} · iteration {t:,} · relative error {rel:.2e}"
        if not any(want in x for x in text):
            bad.append(want)
    if not bad:
        return "matches the CLI"
    shown = "; ".join(x.replace("\n", " | ") for x in text)[:300] or "no status line or result boxes"
    return "MISMATCH: expected " + "; ".join(bad) + f" (the page shows: {shown[:300]})"


PROBE = ("() => [document.querySelector('.sr-live-grid')?.dataset.latest || '', "
         f"!!document.querySelector(\"{DONE}\")]")


def latest(page) -> dict:
    """Iteration per algorithm the page's live charts hold (set by the component's script)."""
    return json.loads(page.evaluate("() => document.querySelector('.sr-live-grid')?.dataset.latest || '{}'"))


BROWSER_NICE = 19   # students' browsers run on their own laptops: here they yield the CPU to the server


def renice_browsers(nice: int = BROWSER_NICE) -> None:
    """Lower the CPU priority of every Chromium thread on this machine (Linux: nice is per thread)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"chrom" not in f.read().split(b"\0")[0]:
                    continue
            for tid in os.listdir(f"/proc/{pid}/task"):
                os.setpriority(os.PRIO_PROCESS, int(tid), nice)
        except (OSError, ValueError):
            pass


def server_waits(path: Path) -> dict:
    """The server's own record of each job's wait from submit to its first slice (dashboard.admission)."""
    try:
        return json.loads(path.read_text())["waits"]
    except (OSError, ValueError, KeyError):
        return {"light": [], "heavy": []}


def server_malloc(path: Path) -> dict:
    """The server's glibc heap figures as it last wrote them (dashboard.admission.malloc_stats),
    with the reaper's count of collections and the jobs that want CPU."""
    try:
        stats = json.loads(path.read_text())
        return {**stats["malloc"], "collections": stats["collections"], "wanting": stats["wanting"]}
    except (OSError, ValueError, KeyError):
        return {}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def watch(pid: int, stop: threading.Event, peak: list) -> None:
    while not stop.is_set():
        try:
            rss, hwm = memory_mb(pid)
            peak[0] = max(peak[0], rss)
            peak[1] = hwm
        except (OSError, KeyError):
            pass
        time.sleep(0.2)


def scenario(browser, url: str, name: str, timeout: float) -> list[Session]:
    sessions = []
    for kind, count, delay in SCENARIOS[name]:
        for i in range(count):         # defaults: seeds 1, 2, ...; heavy: 101-103 in turn (cross-talk would show)
            sessions.append(Session(kind, 1 + i if kind == "default" else 101 + i % 3, delay))
    for s in sessions:
        ctx = browser.new_context(viewport={"width": 1100, "height": 800})
        # Students each have their own laptop; here all browsers share the server's two cores, so
        # they receive and merge every update but do not draw it (see dashboard/live_chart.js).
        ctx.add_init_script("window.localStorage.setItem('shallowres.noDraw', '1')")
        s.page = ctx.new_page()
        s.page.goto(url + "/?" + "&".join(f"{k}={v}" for k, v in s.query.items()))
    for s in sessions:
        wait_idle(s.page, 120_000)
    renice_browsers()
    t0 = time.monotonic()
    reniced = t0
    pending = sorted(sessions, key=lambda s: s.delay)
    while time.monotonic() - t0 < timeout:
        now = time.monotonic() - t0
        for s in pending:
            if s.clicked is None and now >= s.delay:
                s.page.locator(BUTTON, has_text="Run").first.evaluate("b => b.click()")
                s.clicked = time.monotonic() - t0
        live = [s for s in sessions if s.clicked is not None and s.done is None]
        if not live and all(s.clicked is not None for s in sessions):
            break
        if time.monotonic() - reniced > 5:          # renderers started meanwhile
            renice_browsers()
            reniced = time.monotonic()
        for s in live:             # one call per page; pages already drawing are read every 2 s
            now = time.monotonic() - t0
            if s.first is not None and now - s.polled < 2.0:
                continue
            s.polled = now
            try:                   # a starved page can take longer than Playwright's timeouts: next poll
                holds, done = s.page.evaluate(PROBE)
                texts = s.page.evaluate(BODY_TEXT) if done else ""
            except PlaywrightError:
                continue
            if s.first is None and json.loads(holds or "{}"):
                s.first = now
            if done:
                s.done = now
                s.outcome = ("refused" if "too big" in texts else "stopped" if "stopped" in texts else "finished")
        time.sleep(0.2)
    for i, s in enumerate(sessions):
        if s.done is None:
            texts = s.page.evaluate(BODY_TEXT)
            s.outcome = ("broken" if "Connection error" in texts else
                         "queued" if "Waiting for room" in texts else "running")
            status = " | ".join(s.page.locator(".sr-status").all_inner_texts()).replace("\n", " | ")
            s.checked = (f"still {s.outcome} at the end; status line: {status[:200] or 'none'}; "
                         f"charts hold {latest(s.page)}")
            shot = ROOT / "artifacts" / "load_test" / f"{name}-{i + 1}-unfinished.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            s.page.screenshot(path=str(shot), full_page=True)
    return sessions


def anatomy_words(parts: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.0f} MB" for k, v in parts.items())


def big_words(big: list[tuple[float, float]]) -> str:
    return ", ".join(f"{rss:.0f} of {size:.0f} MB" for size, rss in big) or "none"


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))     # so the server started below is stopped
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", default="mixed10,heavy20,mixed30")
    ap.add_argument("--memory-mb", type=int, default=None, help="SHALLOWRES_MEMORY_MB for the server")
    ap.add_argument("--timeout", type=float, default=420.0)
    ap.add_argument("--after", type=float, default=65.0, help="seconds to watch the server after the sessions close")
    ap.add_argument("--trace", type=int, default=0, metavar="FRAMES",
                    help="run the server under tracemalloc (PYTHONTRACEMALLOC=FRAMES, slower) and print "
                         "what it still holds after the sessions close")
    args = ap.parse_args()
    env = {"SHALLOWRES_MEMORY_MB": str(args.memory_mb)} if args.memory_mb else {}
    if args.trace:
        env["PYTHONTRACEMALLOC"] = str(args.trace)
    stats_file = ROOT / "artifacts" / "load_test" / "server_stats.json"
    stats_file.parent.mkdir(parents=True, exist_ok=True)
    env[STATS_ENV] = str(stats_file)
    print(f"CPUs {os.cpu_count()}; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for kind, query in (("default", DEFAULT), ("heavy", HEAVY)):     # the CLI's answers first (cached)
        for seed in ((1, 2, 3) if kind == "default" else (101, 102, 103)):
            for alg in (("gd", "am") if query["alg"] == "both" else (query["alg"],)):
                cli(alg, query["d"], query["n"], seed)
    with serve(env=env) as url, chromium() as browser:
        pid = server_pid(url)
        warm = browser.new_context().new_page()
        warm.goto(url)
        wait_idle(warm, 120_000)
        warm.context.close()
        time.sleep(5)
        idle, (idle_parts, idle_big) = memory_mb(pid)[0], memory_anatomy(pid)
        idle_malloc = server_malloc(stats_file)
        print(f"server idle: {idle:.0f} MB resident ({anatomy_words(idle_parts)}; large other mappings "
              f"{big_words(idle_big)})")
        for name in args.scenarios.split(","):
            peak, stop = [0.0, 0.0], threading.Event()
            th = threading.Thread(target=watch, args=(pid, stop, peak), daemon=True)
            th.start()
            start, cpu0 = time.monotonic(), cpu_seconds(pid)
            before = server_waits(stats_file)
            sessions = scenario(browser, url, name, args.timeout)
            wall, cpu = time.monotonic() - start, cpu_seconds(pid) - cpu0
            for i, s in enumerate(sessions):
                if s.outcome == "finished":
                    s.checked = check(s)
                    if s.checked.startswith("MISMATCH"):       # a lag, or wrong for good?
                        t_check = time.monotonic()
                        while time.monotonic() - t_check < 15 and check(s).startswith("MISMATCH"):
                            s.page.wait_for_timeout(500)
                        if not check(s).startswith("MISMATCH"):
                            s.checked += f" (then matched, {time.monotonic() - t_check:.1f} s later)"
                    if s.checked.startswith("MISMATCH"):       # what the student saw, for the record
                        shot = ROOT / "artifacts" / "load_test" / f"{name}-{i + 1}.png"
                        shot.parent.mkdir(parents=True, exist_ok=True)
                        s.page.screenshot(path=str(shot), full_page=True)
                elif s.outcome == "stopped":                   # by whom: the status line says
                    s.checked = " | ".join(s.page.locator(".sr-status").all_inner_texts()).replace("\n", " | ")[:240]
                    shot = ROOT / "artifacts" / "load_test" / f"{name}-{i + 1}-stopped.png"
                    shot.parent.mkdir(parents=True, exist_ok=True)
                    s.page.screenshot(path=str(shot), full_page=True)
            repages = [int(s.page.evaluate(REPAGES)) for s in sessions]
            stop.set()
            th.join()
            print(f"\npages that asked for a full run again (the page marker, dashboard/fragments.py): "
                  f"{sum(r > 0 for r in repages)} of {len(sessions)} ({sum(repages)} requests)")
            print(f"\n## {name}: {len(sessions)} sessions, {wall:.0f} s; server peak resident "
                  f"{peak[0]:.0f} MB (high-water mark so far {peak[1]:.0f} MB); server CPU {cpu:.0f} s "
                  f"({cpu / wall:.2f} cores)")
            print("| session | settings | clicked (s) | first chart after (s) | ended after (s) | outcome | numbers |")
            print("|---|---|---:|---:|---:|---|---|")
            for i, s in enumerate(sessions):
                q = s.query
                wait = "" if s.first is None else f"{s.first - s.clicked:.1f}"
                took = "" if s.done is None else f"{s.done - s.clicked:.1f}"
                print(f"| {i + 1} | {s.kind}: {q['alg']}, d = {q['d']}, n = {q['n']}, seed {s.seed} | "
                      f"{s.clicked:.1f} | {wait} | {took} | {s.outcome} | {s.checked} |")
            for kind in ("default", "heavy"):
                w = [s.first - s.clicked for s in sessions if s.kind == kind and s.first is not None]
                d = [s.done - s.clicked for s in sessions if s.kind == kind and s.done is not None]
                if w:
                    print(f"{kind}: first chart median {statistics.median(w):.1f} s (max {max(w):.1f}); "
                          f"ended median {statistics.median(d) if d else float('nan'):.1f} s; "
                          f"{sum(s.outcome == 'finished' for s in sessions if s.kind == kind)} finished")
            time.sleep(1.5)                              # the server writes its stats every second
            after = server_waits(stats_file)
            for kind, name_ in (("light", "light jobs (default runs)"), ("heavy", "heavy jobs")):
                w = after[kind][len(before[kind]):]
                if w:
                    print(f"server side, {name_}: submit to first slice median {statistics.median(w):.2f} s "
                          f"(max {max(w):.2f} s, {len(w)} jobs)")
            for s in sessions:
                s.page.context.close()
        closed, series = time.monotonic(), []
        while time.monotonic() - closed < args.after:
            time.sleep(5)
            series.append((time.monotonic() - closed, memory_mb(pid)[0], server_malloc(stats_file)))
        print("\nafter the sessions closed (s: resident MB, glibc heap in use / free MB, the reaper's "
              "collections so far, jobs wanting CPU): " + ", ".join(
                  f"{t:.0f}: {r:.0f} ({m.get('in_use', 0):.0f} / {m.get('free', 0):.0f}, {m.get('collections')}, "
                  f"{m.get('wanting')})" for t, r, m in series))
        rss = memory_mb(pid)[0]
        print(f"all sessions closed, {args.after:.0f} s later: {rss:.0f} MB resident (idle was {idle:.0f} MB: "
              f"{rss - idle:+.0f} MB)")
        parts, big = memory_anatomy(pid)
        print("  where (MB, against idle): " + ", ".join(
            f"{k} {v:.0f} ({v - idle_parts[k]:+.0f})" for k, v in parts.items())
            + f"; large other mappings {big_words(big)}")
        print("  glibc's heap (MB): " + ", ".join(f"{k} {v:.0f}" for k, v in server_malloc(stats_file).items())
              + f" (idle: {', '.join(f'{k} {v:.0f}' for k, v in idle_malloc.items())})")
        heap = Path(f"{stats_file}.heap.txt")
        if args.trace and heap.exists():
            print("what the server's Python heap still holds (tracemalloc, largest first):")
            print(heap.read_text())
    print(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
