"""Timed fragments that keep the page around them in step with what they show.

A live page is one full run (buttons, result boxes, downloads) around a fragment that
reruns on a timer while something moves. Two faults of Streamlit under load (seen with
4 sessions on a busy machine, about 1 page in 12) are handled here:

- A full run's fragment block can be lost when a fragment run queued by its timer overlaps
  the full run; with the fragment directly in the page, the page's later elements shift up
  and the fragment's next run overwrites the one after it (the result boxes). Each fragment
  therefore sits in a container of its own (:func:`fragment`): a lost block is only the
  container's child.
- A full rerun asked from a fragment (``st.rerun(scope="app")``), or a full run itself, can
  be cut short and replaced by a fragment run, leaving a page whose run has ended with no
  result boxes and no timer to mend it. :class:`PageSync` records whether the page's last
  full run drew to its end and what it showed; the fragment asks for a full run until one
  does, and the live components' payloads carry a watchdog that
  reruns the fragment a moment after a full run, to check that it ended
  (:meth:`PageSync.unsettled`).
- The browser can lose a full run whole (seen with 30 sessions on 2 cores: 2 pages of 20 kept the
  buttons of a running run and no result boxes for minutes, while the server had drawn their end).
  Every full run therefore ends with a hidden marker naming it (:meth:`PageSync.end`), and the
  fragment's payloads say which full run the page should show (:meth:`PageSync.check`): a live
  component that finds another marker asks for a new full run (:meth:`PageSync.redraw`).
"""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx


def fragment(func: Callable, run_every: float | None, *args) -> None:
    """Call ``func(*args)`` as an ``st.fragment`` rerun every ``run_every`` seconds (None: only
    when its widgets or components ask), inside its own ``st.container``."""
    with st.container():
        st.fragment(run_every=run_every)(func)(*args)


def in_fragment_run() -> bool:
    """True in a fragment's own run, False in a full run of the page (fragments included)."""
    ctx = get_script_run_ctx()
    return bool(ctx is not None and ctx.fragment_ids_this_run)


class PageSync:
    """What the page's last full run drew: whether it reached its end, and whether it showed
    a moving run (session state, per page ``name``)."""

    def __init__(self, name: str):
        self.name = name
        self._drawn, self._moving, self._count = f"{name}_drawn", f"{name}_drawn_moving", f"{name}_full_runs"

    def begin(self, moving: bool) -> None:
        """At the top of a full run: the page is being drawn, for a run that moves or not."""
        st.session_state[self._count] = st.session_state.get(self._count, 0) + 1
        st.session_state[self._drawn] = False
        st.session_state[self._moving] = moving

    def mark(self) -> str:
        """The name of the page's latest full run, as its marker reads it: '<page>:<count>'."""
        return f"{self.name}:{st.session_state.get(self._count, 0)}"

    def end(self) -> None:
        """At the very end of a full run: its hidden marker, then every element is drawn."""
        st.html(f'<span data-sr-page="{self.mark()}" hidden></span>')
        st.session_state[self._drawn] = True

    def check(self) -> dict:
        """For a live component's payload: the marker the page should show, and whether to look
        (only in a fragment's own run after the full run drew to its end)."""
        return {"mark": self.mark(), "drawn": bool(st.session_state.get(self._drawn, True)) and in_fragment_run()}

    def redraw(self) -> None:
        """The browser does not show the last full run: the fragment's next run asks for a new one."""
        st.session_state[self._drawn] = False

    def run(self, main: Callable[[], None]) -> None:
        """Run the page's ``main`` (which calls :meth:`begin` and :meth:`end`). An error shown on the
        page ends its full run too, so the fragment never loops full reruns on it; a rerun or a stop
        (Streamlit's control exceptions, not ``Exception``) leaves the run marked cut short."""
        try:
            main()
        except Exception:
            self.end()
            raise

    def stale(self, moving: bool) -> bool:
        """In a fragment's own run: the page around it shows a run that has since stopped moving,
        or its last full run was cut short. The fragment then calls ``st.rerun(scope="app")``."""
        if not in_fragment_run():
            return False
        return not st.session_state.get(self._drawn, True) or \
            (st.session_state.get(self._moving, False) and not moving)

    def unsettled(self) -> bool:
        """True until a fragment run has seen the page's last full run end: a still live component
        then arms a short watchdog (``live_chart.SETTLE``) that reruns its fragment to check."""
        return not (st.session_state.get(self._drawn, True) and in_fragment_run())
