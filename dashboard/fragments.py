"""Timed fragments, each inside a container of its own.

Under load, Streamlit's frontend can lose a fragment's block during a full rerun (a
fragment run queued by its timer starts while the full run's messages are still in
flight). When the fragment sits directly in the page, the page's later elements then
shift up one place and the fragment's next run overwrites the element after it: a
load test saw the Train page's result boxes replaced this way, 1 page in 20. Inside a
container that every full run redraws, a lost block is only the container's child,
and nothing else moves.
"""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st


def fragment(func: Callable, run_every: float | None, *args) -> None:
    """Call ``func(*args)`` as an ``st.fragment`` rerun every ``run_every`` seconds (None: only
    when its widgets change), inside its own ``st.container``."""
    with st.container():
        st.fragment(run_every=run_every)(func)(*args)
