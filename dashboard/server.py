"""The server-wide pieces of the dashboard: the one admission controller of this process,
and the identity and liveness of browser sessions (Streamlit's runtime).

Limits come from ``st.secrets["shallowres"]`` (memory_mb, workers, cpu_seconds_per_minute,
idle_ttl) and then from environment variables (``Limits.ENV``); see the README's Deploy section.
"""
from __future__ import annotations

import gc
import logging
from dataclasses import replace

import streamlit as st
from streamlit.runtime import exists, get_instance
from streamlit.runtime.scriptrunner import get_script_run_ctx

from shallowres.threads import single_threaded_blas

from .admission import Controller, Limits, tune_malloc

log = logging.getLogger("shallowres.server")


def _secrets() -> dict:
    try:
        return dict(st.secrets.get("shallowres", {}))
    except Exception:       # no secrets file: Streamlit raises its own error types here
        return {}


def has_runtime() -> bool:
    """True inside a Streamlit server (AppTest and plain Python have none)."""
    return exists()


def is_alive(session_id: str) -> bool:
    """True while the browser session is connected (or when there is no runtime: tests)."""
    return not exists() or get_instance().is_active_session(session_id)


@st.cache_resource(show_spinner=False)
def controller() -> Controller:
    """The process's admission controller (created by the first session, shared by all)."""
    single_threaded_blas()          # a fraction of a core: a second BLAS thread only spins
    tune_malloc()
    gc.freeze()     # the imported modules' objects: automatic full collections skip them
    limits = Limits.from_env(secrets=_secrets())
    # A job of a disconnected page is held, not cut, for as long as Streamlit keeps the session for
    # a reconnect: a browser starved under load (mixed30) lost its websocket for over 10 s, came back
    # to its session, and found its run cut ("the page was closed or lost its connection").
    limits = replace(limits, grace=max(limits.grace, float(st.get_option("server.disconnectedSessionTTL"))))
    log.info("admission limits: %s", limits)
    return Controller(limits, is_alive=is_alive)


def session_id() -> str:
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else ""


def queue_words(job, begins: str) -> str | None:
    """Why ``job`` (a run or a sweep that wants CPU) is not computing, in words for its page
    (``begins``: what appears once it starts), or None if it is computing now."""
    ctl = controller()
    ctl.ensure(job)              # what the page shows as running is on the controller's books
    place = ctl.place(job)
    if place.state == "queued":
        ahead = "no run" if place.ahead == 0 else f"{place.ahead} run{'s' if place.ahead > 1 else ''}"
        return (f":material/hourglass_top: **Waiting for room on the server**: {ahead} ahead of you, "
                f"about {max(1, round(place.eta)):,} s. {begins}")
    used = ctl.usage(job.session_id)
    if place.state == "admitted" and not place.running and used >= ctl.limits.cpu_per_minute:
        return (f":material/hourglass_top: **Sharing the server**: this page used {used:.0f} s of compute in "
                f"the last minute (the limit while others wait is {ctl.limits.cpu_per_minute:.0f} s), "
                "so other students' runs go first for a moment.")
    return None
