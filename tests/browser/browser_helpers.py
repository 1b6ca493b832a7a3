"""Helpers for browser tests of any dashboard page (see conftest.py for the fixtures)."""
from __future__ import annotations

import re
from urllib.parse import urlencode

from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from dashboard.devserver import errors

TIMEOUT_MS = 120_000


def url_for(base: str, path: str = "", **query) -> str:
    return f"{base}/{path}" + (f"?{urlencode(query)}" if query else "")


def press(page, label: str) -> None:
    """Click the app's first button showing ``label``: Streamlit buttons only, so neither the
    help icons (whose names contain their widget's label) nor Streamlit's own header Stop."""
    buttons = "button[data-testid^='stBaseButton']:not([data-testid='stBaseButton-header'])"
    page.locator(buttons, has_text=label).first.click()


def wait_for(page, selector: str, timeout: float = TIMEOUT_MS) -> None:
    page.wait_for_selector(selector, timeout=timeout)


def assert_no_errors(page) -> None:
    bad = errors(page)
    assert not bad, f"error elements on the page: {bad}"


def drop_the_full_run_showing(page, text: bytes) -> dict:
    """Lose, on its way to ``page``, the first full run of the page whose messages contain ``text``
    (say, the result boxes drawn once a run has ended): every full run's messages are held until
    it finishes, then passed on, or all dropped (the browser never hears that that run happened).
    Returns counters {"dropped": messages dropped, "done": a run was dropped}."""
    state = {"held": None, "dropped": 0, "done": False}

    def route(ws):
        server = ws.connect_to_server()

        def from_server(message):
            if state["done"] or not isinstance(message, bytes):
                ws.send(message)
                return
            msg = ForwardMsg.FromString(message)
            kind = msg.WhichOneof("type")
            if kind == "new_session" and not msg.metadata.run.fragment_ids:
                state["held"] = []
            if state["held"] is None:
                ws.send(message)
                return
            state["held"].append(message)
            if kind == "script_finished":
                held, state["held"] = state["held"], None
                if any(text in m for m in held):
                    state.update(dropped=len(held), done=True)
                else:
                    for m in held:
                        ws.send(m)

        server.on_message(from_server)
        ws.on_message(server.send)

    page.route_web_socket(re.compile(r".*/_stcore/stream"), route)
    return state
