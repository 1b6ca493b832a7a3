"""Developer helper (tests, screenshots): run the dashboard in a real Streamlit server and
drive it with Playwright in Debian's Chromium. Not used by the app itself.

    with serve() as url:                       # streamlit run app.py on a free loopback port
        with chromium() as browser:            # Playwright + /usr/bin/chromium, headless
            page = browser.new_page(); page.goto(url); wait_idle(page)
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ERROR_SELECTOR = "[data-testid='stException'], [data-testid='stAlertContentError']"
IDLE_SELECTOR = "[data-testid='stApp'][data-test-script-state='notRunning']"


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Poll ``/_stcore/health`` until the server answers ok; raise if it dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with status {proc.returncode}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        time.sleep(0.2)
    raise TimeoutError(f"streamlit at {url} not healthy after {timeout:.0f} s")


@contextlib.contextmanager
def serve(script: str = "app.py", port: int | None = None, log: Path | None = None,
          env: dict | None = None) -> Iterator[str]:
    """``streamlit run <script>`` headless on a free loopback port; yields its base URL.

    Extra ``streamlit run`` flags come from $DEVSERVER_EXTRA (e.g. "--logger.level debug");
    ``env`` adds environment variables (e.g. SHALLOWRES_MEMORY_MB). The server's process id
    is ``server_pid(url)``.
    """
    port = port or free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
           *os.environ.get("DEVSERVER_EXTRA", "").split()]
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    _PIDS[url] = proc.pid
    try:
        wait_healthy(url, proc)
        yield url
    finally:
        _PIDS.pop(url, None)
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            out.close()


_PIDS: dict[str, int] = {}


def server_pid(url: str) -> int:
    """Process id of the server ``serve`` started at ``url``."""
    return _PIDS[url]


def memory_mb(pid: int) -> tuple[float, float]:
    """(resident, peak resident) size of a process in MB, from /proc (Linux)."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def memory_anatomy(pid: int) -> tuple[dict[str, float], list[tuple[float, float]]]:
    """Where a process's resident memory sits, in MB, from /proc/PID/smaps (Linux): glibc's
    main heap (``[heap]``), anonymous mappings aligned to 64 MiB (glibc's per-thread arenas),
    anonymous mappings of exactly 1 MiB (Python's small-object arenas in 3.10+), other
    anonymous mappings (large arrays, thread stacks, BLAS buffers) and file-backed mappings
    (code); and (size, resident) in MB of each other anonymous mapping with 4 MB or more
    resident, largest first."""
    out = dict.fromkeys(("heap", "thread arenas", "python arenas", "other anonymous", "files"), 0.0)
    big: list[tuple[float, float]] = []           # (size, resident) of other anonymous mappings >= 4 MB
    kind = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                lo, hi = (int(x, 16) for x in head[0].split("-"))
                size, name = hi - lo, (head[5] if len(head) > 5 else "")
                if name == "[heap]":
                    kind = "heap"
                elif name.startswith("/"):
                    kind = "files"
                elif name:
                    kind = None                      # [stack], [vdso], ...
                elif size == 1 << 20:
                    kind = "python arenas"
                elif lo % (64 << 20) == 0:        # glibc aligns each arena heap to 64 MiB
                    kind = "thread arenas"
                else:
                    kind = "other anonymous"
            elif head[0] == "Rss:" and kind:
                out[kind] += int(head[1]) / 1024
                if kind == "other anonymous" and int(head[1]) >= 4096:
                    big.append((size / 2**20, int(head[1]) / 1024))
    return out, sorted(big, reverse=True)


def chromium_path() -> str:
    """Debian's chromium; raises (never skips) when it is missing."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise RuntimeError("chromium not found on PATH: install Debian's chromium package "
                           "(scripts/test.sh does it)")
    return path


@contextlib.contextmanager
def chromium():
    """A headless Playwright Chromium browser (the Debian binary)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wait_idle(page, timeout: float = 60_000) -> None:
    """Wait until the app is connected and its script has stopped running."""
    page.wait_for_selector(IDLE_SELECTOR, timeout=timeout)


def errors(page) -> list[str]:
    """Texts of exception or error elements on the page."""
    return [e.inner_text() for e in page.query_selector_all(ERROR_SELECTOR)]


# JavaScript run in the page: one entry per live chart (Train page): a persistent id stamped on
# its Plotly DOM node (a replaced node gets a new one), whether it is on screen, the number of
# points of each trace, and the last x of the first trace of each algorithm.
CHARTS_JS = """() => [...document.querySelectorAll('.sr-live-grid .js-plotly-plot')].map(e => {
  if (!e.__probe) e.__probe = Math.random().toString(36).slice(2);
  const r = e.getBoundingClientRect();
  const op = parseFloat(getComputedStyle(e).opacity) * parseFloat(getComputedStyle(e.parentElement).opacity);
  const data = e.data || [];
  const last = {};
  for (const t of data) {
    if (t.legendgroup && !(t.legendgroup in last) && t.x && t.x.length) last[t.legendgroup] = t.x[t.x.length - 1];
  }
  return {id: e.__probe, visible: r.width > 0 && r.height > 0 && r.top < innerHeight && op > 0.5,
          points: data.map(t => (t.x && t.type !== 'heatmap') ? t.x.length : 0), last};
})"""


def charts(page) -> list[dict]:
    """The Train page's live charts as the browser shows them now (see CHARTS_JS)."""
    return page.evaluate(CHARTS_JS)


def status_iterations(page) -> dict[str, int]:
    """Iteration numbers the status line names, per algorithm ("GD · iteration 1,234 · ...")."""
    import re

    text = " ".join(page.locator(".sr-status").all_inner_texts())
    return {alg.lower(): int(n.replace(",", "")) for alg, n in re.findall(r"\b(GD|AM) · iteration ([\d,]+)", text)}
