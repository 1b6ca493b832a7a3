"""Live Plotly charts that grow in place: a custom component (``st.components.v2``) that
keeps one Plotly.js chart per figure alive and sends it only what is new.

Why not ``st.plotly_chart`` in a loop or a fragment: every figure change remounts
Streamlit's Plotly element, so a chart redrawn four times a second is blank or stale
a good part of the time and loses its zoom. Here the browser keeps the data; each
rerun of the page's live fragment sends the rows added since a moment ago
(:class:`Feed`), and ``Plotly.react`` updates the same chart.

plotly.js comes from the installed ``plotly`` package (never a CDN): on first use it is
copied to the app's ``static/`` folder, which Streamlit serves when
``server.enableStaticServing`` is on (``.streamlit/config.toml``).
"""
from __future__ import annotations

import base64
import collections
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "static"
LOADER = Path(__file__).with_name("plotly_loader.js").read_text()     # loadPlotly(urls), shared
JS = LOADER + Path(__file__).with_name("live_chart.js").read_text()
CSS = """
.sr-live-grid {display: grid; grid-template-columns: repeat(var(--sr-columns, 2), minmax(0, 1fr));
               gap: 0.25rem 1.5rem; width: 100%;}
@media (max-width: 900px) {.sr-live-grid {grid-template-columns: minmax(0, 1fr);}}
.sr-live-chart {min-width: 0;}
.sr-status {font-size: 1rem; line-height: 1.6; min-height: 1.6em; margin-bottom: 0.4rem;
            color: var(--st-text-color, #31333F);}
"""
OVERLAP = 5.0       # seconds: each payload repeats what was sent this long ago and later (a loaded
                    # browser may draw only every few seconds, merging the payloads in between)
WATCHDOG_TICKS = 6  # a moving page with no payload for this many ticks of its fragment asks for one
WATCHDOG_MIN = 4.0  # seconds, at least
SETTLE = 3.0        # seconds after a still payload of a page not yet seen drawn to its end: check it
                    # (``dashboard.fragments.PageSync``)
log = logging.getLogger("shallowres.live_chart")


def plotly_js_name() -> str:
    """File name of the installed plotly.js, with its version (so browsers never mix versions)."""
    import plotly

    return f"plotly-{plotly.__version__}.min.js"


def ensure_plotly_js(static: Path = STATIC) -> Path | None:
    """Copy plotly.js from the installed ``plotly`` package into ``static/`` (once, atomically);
    None if that is impossible (read-only app folder)."""
    import plotly

    target = static / plotly_js_name()
    if target.exists():
        return target
    source = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    try:
        static.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=static, suffix=".part")
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out)
        os.replace(tmp, target)
        return target
    except OSError as e:
        log.warning("could not copy plotly.js into %s: %s", static, e)
        return None


def plotly_urls() -> list[str]:
    """Where the browser finds plotly.js: relative to the page (any base path), then at the root."""
    name = plotly_js_name()
    return [f"./app/static/{name}", f"/app/static/{name}"]


def encode(values: np.ndarray) -> dict:
    """A column as base64 (little-endian float64, or int32 for integers); width > 1 for a matrix."""
    a = np.asarray(values)
    width = a.shape[1] if a.ndim == 2 else 1
    if np.issubdtype(a.dtype, np.integer) or a.dtype == bool:
        raw, dtype = np.ascontiguousarray(a, dtype="<i4"), "i4"
    else:
        raw, dtype = np.ascontiguousarray(a, dtype="<f8"), "f8"
    return {"dtype": dtype, "b64": base64.b64encode(raw.tobytes()).decode("ascii"), "width": width}


class Feed:
    """What one browser chart has been sent, so each payload carries only recent rows.

    A payload starts every series at ``base``: the number of rows it had when a payload
    was sent at least ``OVERLAP`` seconds ago (0 for a new stream or a new series), so
    payloads overlap and one lost or merged payload loses nothing.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self.gen: str | None = None
        self._marks: collections.deque = collections.deque()     # (time, {series: rows})

    def reset(self) -> None:
        """Send everything next time (the browser asked, or the page was rebuilt)."""
        self.gen = None
        self._marks.clear()

    def payload(self, gen: str, series: Mapping[str, np.ndarray], head: Mapping, figs: list,
                final: bool = False, **extra) -> dict:
        """The rows each series gained since ``OVERLAP`` s ago; every row if ``final`` (nothing moves,
        so no later payload could mend a gap)."""
        now = self._clock()
        if gen != self.gen:
            self.gen = gen
            self._marks.clear()
        while len(self._marks) > 1 and self._marks[1][0] <= now - OVERLAP:
            self._marks.popleft()
        sent = self._marks[0][1] if self._marks and self._marks[0][0] <= now - OVERLAP and not final else {}
        out, rows = {}, {}
        for name, values in series.items():
            n = len(values)
            base = min(sent.get(name, 0), n)
            out[name] = {"base": base, **encode(np.asarray(values)[base:])}
            rows[name] = n
        self._marks.append((now, rows))
        full = all(s["base"] == 0 for s in out.values())
        return {"gen": gen, "full": full, "series": out, "head": head, "figs": figs, "final": final, **extra}


def watchdog_ms(tick: float | None, settle: bool = False) -> int | None:
    """How long a page waits for its fragment's next payload before asking (ms): while it moves
    (every ``tick`` s), ``WATCHDOG_TICKS`` ticks; when still, ``SETTLE`` if ``settle`` (the page's
    full run has not been seen to end), else None."""
    if tick is None:
        return int(1000 * SETTLE) if settle else None
    return int(1000 * max(WATCHDOG_MIN, WATCHDOG_TICKS * tick))


def live_charts(payload: dict, key: str, on_resync: Callable[[], None], columns: int = 2,
                tick: float | None = None, settle: bool = False, page: dict | None = None,
                on_repage: Callable[[], None] = lambda: None):
    """Mount (or update) the charts; ``on_resync`` runs when the browser asks for everything again:
    a payload it cannot merge, or none for ``WATCHDOG_TICKS`` ticks of the live fragment
    (``tick`` s; None when nothing moves) while the page still moves. A still payload with
    ``settle`` reruns the fragment ``SETTLE`` s later (:func:`watchdog_ms`). ``page``
    (``PageSync.check``): the full run the page should show; ``on_repage`` runs when the
    browser finds another (``dashboard.fragments``)."""
    return _COMPONENT(data={**payload, "plotly": plotly_urls(), "columns": columns,
                            "watchdog": watchdog_ms(tick, settle), "page": page},
                      key=key, on_resync_change=on_resync, on_settle_change=_checked,
                      on_repage_change=on_repage)


def _checked() -> None:
    """The browser's settle check: its fragment reruns (nothing else to do)."""


# Registered once, at import (Streamlit's advice for components); plotly.js copied beside the app.
ensure_plotly_js()
_COMPONENT = st.components.v2.component("shallowres_live_charts", html="<div></div>", css=CSS, js=JS,
                                        isolate_styles=False)
