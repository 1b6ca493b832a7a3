"""The dashboard's settings: one table, parsed from and written to the page URL.

Every setting lives in the URL (``?d=20&n=1700&gamma=2&...``), so a shared link
reproduces the exact run: the same seed gives the same teacher, data and numbers.
A value in the URL that cannot be parsed, or lies outside its range, is replaced
by the default and reported in a warning; parsing never raises. Every page treats a
link alike (:func:`parse_params` for pages that parse the URL, :func:`link_warnings`
for pages whose controls read it themselves): a repeated parameter counts by its
last value, silently; a bad value and an unknown key each get one warning; a
value is echoed only through :func:`echo` (a code span cut to a short prefix, so a
link cannot put an image, a link or markup on the page), and at most
``MAX_WARNINGS`` are listed.

The first script run of a browser session reads the URL; afterwards the widgets
are the source of truth and the URL is rewritten from them (``sync_url``). The
canonical settings live in ``st.session_state[SETTINGS_KEY]``, which both pages
read, so the Train and Theory pages always show the same problem.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shallowres.solvers import parse_eta
from shallowres.validation import MB

SETTINGS_KEY = "settings"
WARNINGS_KEY = "url_warnings"
MEMORY_BUDGET = 200 * MB        # per run; Community Cloud shares ~1 GB among all sessions
STREAMLIT_PARAMS = {"embed", "embed_options"}   # Streamlit's own; never ours to judge
ETA_MULTIPLES = (0.01, 100.0)   # allowed 'Kx' multiples of the theory step
ECHO_LIMIT = 60                 # characters of a link's value shown back
MAX_WARNINGS = 8                # link warnings listed; the rest are counted


def echo(text: object, limit: int = ECHO_LIMIT) -> str:
    """``text`` as an inline code span, cut to ``limit`` characters (with an ellipsis), for
    echoing user input in st.markdown/st.error/st.warning: inside a code span markdown is
    not interpreted, so no image, link, autolink, HTML, LaTeX or emoji directive can form.
    Backticks and line breaks in the text are replaced (they could close the span).
    (The same rule as the Phase page's ``sweep_view.echo`` on branch sweeps.)"""
    s = str(text)
    s = s if len(s) <= limit else s[:limit] + "…"
    s = re.sub(r"[`\r\n]", lambda m: "ʼ" if m.group() == "`" else " ", s)
    return f"`{s}`" if s.strip() else "`(empty)`"


@dataclass(frozen=True)
class Field:
    """One setting: its type, default and allowed values (inclusive range or choices)."""

    name: str
    kind: str                     # "int" | "float" | "bool" | "choice" | "eta"
    default: object
    low: float | None = None
    high: float | None = None
    options: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(self.options)
        if self.kind == "bool":
            return "true or false"
        if self.kind == "eta":
            return "'theory', a multiple like '0.5x' (0.01x to 100x), or a positive number"
        kind = "an integer" if self.kind == "int" else "a number"
        return f"{kind} in [{fmt(self.low)}, {fmt(self.high)}]"


FIELDS: dict[str, Field] = {f.name: f for f in (
    Field("d", "int", 20, 2, 100),
    Field("n", "int", 1700, 2, 200_000),
    Field("gamma", "float", 2.0, 0.0, 20.0),
    Field("delta", "float", 0.8, 0.01, 0.99),
    Field("alg", "choice", "both", options=("both", "gd", "am")),
    Field("init", "choice", "identity", options=("identity", "random", "delta")),
    Field("resample", "bool", False),
    Field("eta", "eta", "theory"),
    Field("gd_iters", "int", 1000, 1, 20_000),
    Field("am_iters", "int", 50, 1, 200),
    Field("tol", "float", 1e-8, 1e-15, 0.5),
    Field("noise", "float", 0.0, 0.0, 10.0),
    Field("seed", "int", 0, 0, 2**32 - 1),
    Field("eps", "float", 1e-2, 1e-12, 0.5),
    Field("logx", "bool", True),
    Field("slow", "bool", False),
    Field("present", "bool", False),
)}

# Settings that change the numbers of a run (``eps``, ``logx`` and ``slow`` do not).
RUN_FIELDS = ("d", "n", "gamma", "delta", "alg", "init", "resample", "eta",
              "gd_iters", "am_iters", "tol", "noise", "seed")

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
LABELS = {"d": "d", "n": "n", "gamma": "γ", "delta": "δ", "alg": "algorithms", "init": "init",
          "resample": "fresh samples", "eta": "η", "gd_iters": "GD iterations", "am_iters": "AM iterations",
          "tol": "tolerance", "noise": "noise σ", "seed": "seed"}


def defaults() -> dict:
    """A fresh dict of every setting at its default."""
    return {name: f.default for name, f in FIELDS.items()}


def fmt(x) -> str:
    """Shortest text that reads back as the same value: 2.0 -> '2', 1e-08 -> '1e-08'."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, float):
        if x.is_integer() and abs(x) < 1e15:
            return str(int(x))
        return repr(x)
    return str(x)


def parse_value(field: Field, text: str):
    """The value of ``text`` for ``field``; ValueError (with the allowed values) if bad."""
    s = text.strip()
    bad = ValueError(f"{field.name}={echo(text)} is not {field.describe()}")
    if field.kind == "choice":
        if s.lower() in field.options:
            return s.lower()
        raise bad
    if field.kind == "bool":
        if s.lower() in _TRUE | _FALSE:
            return s.lower() in _TRUE
        raise bad
    if field.kind == "eta":
        try:
            kind, value = parse_eta(s)
        except ValueError:
            raise bad from None
        if kind == "theory" and not ETA_MULTIPLES[0] <= value <= ETA_MULTIPLES[1]:
            raise bad
        return normalize_eta(s)
    try:
        x = float(s)
    except ValueError:
        raise bad from None
    if not math.isfinite(x) or not field.low <= x <= field.high:
        raise bad
    if field.kind == "int":
        if not x.is_integer():
            raise bad
        return int(x)
    return x


def normalize_eta(s: str) -> str:
    """Canonical text of a step size: 'theory', '<k>x' or '<number>'."""
    kind, value = parse_eta(s)
    if kind == "theory":
        return "theory" if value == 1.0 else f"{fmt(value)}x"
    return fmt(value)


def _last(raw) -> str:
    """The value that counts for a parameter given once or repeated: the last."""
    if isinstance(raw, list | tuple):
        return str(raw[-1]) if raw else ""
    return str(raw)


def unknown_key(key: str, known: Iterable[str]) -> str:
    return f"Unknown URL parameter {echo(key)} was ignored (known: {', '.join(known)})."


def parse_params(params: Mapping[str, str | list[str]], fields: Mapping[str, Field],
                 ignore: Iterable[str] = STREAMLIT_PARAMS) -> tuple[dict, list[str]]:
    """Values for ``fields`` from URL query parameters, and one warning per value not used.

    Missing parameters take their defaults silently; bad, out-of-range and unknown
    ones are reported (values echoed by :func:`echo`). With a repeated parameter the
    last value counts. Never raises.
    """
    settings, warnings = {name: f.default for name, f in fields.items()}, []
    for key, raw in params.items():
        if key in ignore:
            continue
        field = fields.get(key)
        if field is None:
            warnings.append(unknown_key(key, fields))
            continue
        try:
            settings[key] = parse_value(field, _last(raw))
        except ValueError as e:
            warnings.append(f"URL parameter {e}; using the default {key}={fmt(field.default)}.")
    return settings, warnings


def parse_query(params: Mapping[str, str | list[str]]) -> tuple[dict, list[str]]:
    """The dashboard's settings (``FIELDS``) from URL query parameters, with warnings
    (:func:`parse_params`)."""
    return parse_params(params, FIELDS)


def _same(raw: str, value) -> bool:
    """Whether a control's value is the link's text (numbers compared as numbers)."""
    if isinstance(value, bool):
        return raw.strip().lower() in (_TRUE if value else _FALSE)
    try:
        return float(raw) == float(value)
    except (TypeError, ValueError, OverflowError):
        return raw == str(value)


def link_warnings(params: Mapping[str, str | list[str]], values: Mapping[str, object],
                  multi: Iterable[str] = (), ignore: Iterable[str] = STREAMLIT_PARAMS) -> list[str]:
    """For a page whose controls read the URL themselves (``bind="query-params"``, which
    drops a bad value silently): one warning per link value a control did not take and
    per unknown key, by the rules of :func:`parse_params`. ``values``: each control's
    value after reading the link (its keys are the known parameters); ``multi``: controls
    that hold a list (every repeated value counts, in any order)."""
    multi, warnings = set(multi), []
    for key, raw in params.items():
        if key in ignore:
            continue
        if key not in values:
            warnings.append(unknown_key(key, values))
            continue
        value = values[key]
        if key in multi:
            given = sorted(map(str, raw if isinstance(raw, list | tuple) else [raw]))
            if given != sorted(map(str, value)):
                warnings.append(f"URL parameter {key}={echo(', '.join(given))} is not allowed here; using "
                                f"{key}={echo(', '.join(map(str, value)))}.")
        elif not _same(_last(raw), value):
            warnings.append(f"URL parameter {key}={echo(_last(raw))} is not allowed here; using {key}={echo(value)}.")
    return warnings


def drop_unreadable_numbers(keys: Iterable[str]) -> None:
    """Remove from the URL the values of ``keys`` (numbers read by URL-bound controls) that
    are not finite numbers: Streamlit 1.67's bound number_input raises OverflowError on
    ``?d=1e309`` (int(inf)) instead of ignoring the value. Call before the controls are
    drawn, keeping the link for :func:`link_warnings`, which then reports the value.

    Bound controls read the URL as it was when the script started, so the snapshot
    Streamlit keeps for them is reset to the cleaned URL too (its internal QueryParams
    method for page changes; without it, only the visible URL is cleaned)."""
    import streamlit as st

    bad = []
    for key in keys:
        if key in st.query_params:
            try:
                ok = math.isfinite(float(_last(st.query_params.get_all(key))))
            except (TypeError, ValueError, OverflowError):
                ok = False
            if not ok:
                bad.append(key)
    if not bad:
        return
    for key in bad:
        del st.query_params[key]
    try:
        from streamlit.runtime.state.session_state_proxy import get_session_state

        with get_session_state().query_params() as qp:
            qp.set_initial_query_params_from_current()
    except (ImportError, AttributeError, RuntimeError):
        pass


def warnings_markdown(warnings: list[str]) -> str:
    """The one warning box's text: a title and at most MAX_WARNINGS items (the rest counted)."""
    shown = warnings[:MAX_WARNINGS]
    more = len(warnings) - len(shown)
    tail = f"\n- … and {more} more value{'s' if more > 1 else ''} not used." if more > 0 else ""
    return "**Some values in the link were not used.**\n\n- " + "\n- ".join(shown) + tail


def encode(settings: Mapping) -> dict[str, str]:
    """Query parameters for ``settings``: every setting, as text that parses back exactly."""
    return {name: fmt(settings[name]) for name in FIELDS}


def describe_difference(before: Mapping, after: Mapping) -> str:
    """The run settings of ``before`` that differ from ``after``, as "n = 850, fresh samples on"."""
    out = []
    for name in RUN_FIELDS:
        if name != "alg" and before[name] != after[name]:
            v = before[name]
            out.append(f"{LABELS[name]} {'on' if v else 'off'}" if isinstance(v, bool)
                       else f"{LABELS[name]} = {fmt(v)}")
    return ", ".join(out)


def run_key(settings: Mapping) -> tuple:
    """What identifies a run: the settings that change its numbers."""
    return tuple(settings[name] for name in RUN_FIELDS)


# ----- Streamlit glue ----------------------------------------------------------------

def session_settings() -> dict:
    """The session's settings; on its first run, parsed from the URL (warnings kept)."""
    import streamlit as st

    if SETTINGS_KEY not in st.session_state:
        qp = {k: st.query_params.get_all(k) for k in st.query_params}
        settings, warnings = parse_query(qp)
        st.session_state[SETTINGS_KEY] = settings
        st.session_state[WARNINGS_KEY] = (dict(settings), warnings)
    return dict(st.session_state[SETTINGS_KEY])


def show_url_warnings(settings: Mapping) -> None:
    """Warn about bad URL values while the settings are still those read from the URL."""
    import streamlit as st

    parsed, warnings = st.session_state.get(WARNINGS_KEY, ({}, []))
    if warnings and dict(settings) == parsed:
        show_warnings(warnings)


def show_warnings(warnings: list[str]) -> None:
    """The link warnings as one st.warning (every page: :func:`warnings_markdown`)."""
    import streamlit as st

    if warnings:
        st.warning(warnings_markdown(warnings), icon=":material/warning:")


def sync_url(settings: Mapping) -> None:
    """Store ``settings`` in the session and write them to the URL if it differs."""
    import streamlit as st

    st.session_state[SETTINGS_KEY] = dict(settings)
    want = encode(settings)
    have = {k: st.query_params.get(k) for k in st.query_params}
    if have != want:
        st.query_params.from_dict(want)
