"""One Plotly figure that is updated in place (``Plotly.react``) instead of remounted: for the
Train page's pictures while a run moves.

``st.plotly_chart`` remounts its element whenever the figure changes (its id hashes the spec),
so a picture redrawn every second is blank or doubled part of the time. This custom component
(``st.components.v2``, the same plotly.js as ``dashboard.live_chart``) keeps one chart per key
and hands it each new figure. Figures are Plotly dicts (``dashboard.object_figures``).
"""
from __future__ import annotations

from collections.abc import Callable

import plotly.io
import streamlit as st

from .live_chart import LOADER, plotly_urls, watchdog_ms

JS = LOADER + """
const CHARTS = (window.__shallowresReact ??= new Map());     // by key: a remount keeps the chart
export default function (component) {
  const { data, key, parentElement, setTriggerValue } = component;
  if (!data) return;
  let S = CHARTS.get(key);
  if (!S) {
    const div = document.createElement("div");
    div.className = "sr-react-chart";
    S = { div, parent: null, drawn: null, watchdog: null };
    CHARTS.set(key, S);
  }
  // No payload for data.watchdog ms while the chart moves: the fragment's timed rerun was lost, so
  // ask for one (the trigger reruns the fragment).
  armWatchdog(S, data.watchdog, () => setTriggerValue("poke", String(Date.now())));
  checkPage(S, data.page, (v) => setTriggerValue("repage", v));
  if (S.parent !== parentElement) { parentElement.append(S.div); S.parent = parentElement; }
  if (S.drawn === data.fig) return;
  const fig = JSON.parse(data.fig);
  S.div.style.height = (fig.layout.height || 450) + "px";
  loadPlotly(data.plotly).then((P) => {
    P.react(S.div, fig.data, fig.layout, { responsive: true, displaylogo: false });
    S.drawn = data.fig;
  });
}
"""
CSS = ".sr-react-chart {width: 100%;}"


def react_chart(fig: dict, key: str, tick: float | None = None, settle: bool = False,
                page: dict | None = None, on_repage: Callable[[], None] = lambda: None) -> None:
    """Draw ``fig`` (a Plotly dict) under ``key``, updating the chart already there in place. ``tick``:
    the seconds between the enclosing fragment's timed reruns while it moves (None when still); a
    page that hears nothing for ``WATCHDOG_TICKS`` of them asks for a rerun, and a still one with
    ``settle`` asks once, a moment later (``dashboard.live_chart.watchdog_ms``). ``page`` and
    ``on_repage``: as for ``dashboard.live_chart.live_charts``."""
    _COMPONENT(data={"fig": plotly.io.to_json(fig, validate=False), "plotly": plotly_urls(),
                     "watchdog": watchdog_ms(tick, settle), "page": page},
               key=key, on_poke_change=_heard, on_repage_change=on_repage)


def _heard() -> None:
    """The browser's watchdog fired: its fragment reruns (nothing else to do)."""


_COMPONENT = st.components.v2.component("shallowres_react_chart", html="<div></div>", css=CSS, js=JS,
                                        isolate_styles=False)
