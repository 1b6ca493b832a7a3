"""What the Train page shows of a run: the live view (everything computed so far) or a paced
replay of it, as a dict in ``st.session_state[VIEW]``: ``{"mode": "live"}``, or ``{"mode":
"timed", "playing": ..., "start", "duration", "T", "logx", "t", "kind", "epoch"}``."""
from __future__ import annotations

import math
import time
from collections.abc import MutableMapping

JOB, VIEW = "job", "view"       # session-state keys: the page's RunJob, and the view of it


def pace(elapsed: float, duration: float, T: int, log_x: bool) -> int:
    """Iteration shown ``elapsed`` s into a replay of ``duration`` s over 0..T (log-paced on a log axis)."""
    f = min(max(elapsed / duration, 0.0), 1.0)
    return int(math.floor((T + 1) ** f - 1)) if log_x else int(math.floor(f * T))


def cursor(view: dict, now: float) -> int | None:
    """The last iteration shown: None in the live view (everything computed so far)."""
    if view["mode"] == "live":
        return None
    if not view["playing"]:
        return view["t"]
    return pace(now - view["start"], view["duration"], view["T"], view["logx"])


def start_replay(duration: float, T: int, log_x: bool, kind: str = "replay") -> dict:
    return {"mode": "timed", "kind": kind, "playing": True, "start": time.monotonic(), "duration": duration,
            "T": T, "logx": log_x, "t": 0, "epoch": time.monotonic_ns()}


def scrub(state: MutableMapping, T: int, log_x: bool) -> None:
    """The slider's change: show the run paused at t = ``state["replay_t"]``. ``T``: the run's last
    iteration when the slider was drawn. Ignored unless the run is still stopped there: a change from
    a slider drawn for an earlier stop can arrive after Run (3 of 26 Stop-then-Run tries in Chromium
    froze the view at the stop point, the status reading "replay" while the run went on to its end)."""
    job = state.get(JOB)
    if job is None or job.active or job.T != T:
        return
    state[VIEW] = {**start_replay(1.0, T, log_x), "playing": False, "t": int(state["replay_t"])}
