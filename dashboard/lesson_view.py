"""The Lesson page's glue to Streamlit: cached step computations that wait for the server.

Each step's runs (``dashboard.lesson.compute``) go through the server's admission controller
(``server.controller().call``: they wait for memory and a CPU slot like a Train-page run) and
are cached across sessions (bounded ``st.cache_data``: one entry per step, an hour), so a class
opening the same step computes it once. A step sets the shared settings, so the Train page
then shows the same problem.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import streamlit as st

from . import lesson, state

WAIT = " (or waiting for room on the shared server)"
SPINNERS = {
    "model": "Drawing the teacher …",
    "gd-vs-am": "Running GD, AM and Table I's baselines, and the loss landscape …",
    "stall": "Running GD at the theory step, at 0.9 × it, and from a random start …",
    "few-samples": "Running GD and AM with n = 300 …",
    "far": "Running GD and AM from the identity and from a random start …",
    "fresh": "Running GD and AM with fresh samples and on one fixed set …",
    "theory": "Computing the paper's bounds at two settings …",
    "phase": "Running a small phase-transition sweep …",
}


def on_server(fn: Callable[[], object], nbytes: int, seconds: float):
    """Run ``fn()`` through the server's admission controller when a Streamlit server runs the
    page (it waits for ``nbytes`` of memory and a CPU slot); directly otherwise (tests, scripts)."""
    from . import server

    if not server.has_runtime():
        return fn()
    return server.controller().call(fn, session_id=server.session_id(), nbytes=nbytes, seconds=seconds)


@st.cache_data(max_entries=len(lesson.STEPS), ttl=3600, show_spinner=False)
def _computed(slug: str) -> dict:
    s = lesson.step(slug)
    return on_server(lambda: lesson.compute(slug), lesson.memory_bytes(slug), s.seconds)


def computed(slug: str) -> dict:
    """Step ``slug``'s results at its own settings (cached, computed through the admission controller)."""
    with st.spinner(SPINNERS[slug] + WAIT):
        return _computed(slug)


def adopt(settings: Mapping) -> None:
    """Make ``settings`` the session's shared settings, so the Train and Theory pages show them
    (their controls are re-seeded from them on entering; the URL's warnings no longer apply)."""
    from .widgets import PAGE_KEY

    st.session_state[state.SETTINGS_KEY] = dict(settings)
    st.session_state[state.WARNINGS_KEY] = ({}, [])
    st.session_state[PAGE_KEY] = "lesson"

