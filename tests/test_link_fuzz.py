"""Hostile links (issue 15, items 1 and 10; issue 11, item 7): every page's query parameters.

A fixed corpus of hostile query strings runs through each page headless (AppTest): no
exception, every echoed value inside a code span (nothing of it outside one), bounded
text. Hypothesis drives the shared parser with arbitrary keys and values. A shared link
cannot make a visitor's browser fetch an image, follow a link or render markup.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from dashboard import state, widgets
from dashboard.state import FIELDS, MAX_WARNINGS, defaults, echo, link_warnings, parse_query, warnings_markdown

ROOT = Path(__file__).resolve().parent.parent
HOST = "evil.invalid"          # appears only in hostile values: never outside a code span
IMG = f"![x](http://{HOST}/val.png)"
PAGES = {"train": None, "theory": "pages/1_Theory.py", "phase": "pages/2_Phase_transition.py"}

CORPUS = [
    {"alg": IMG},
    {"d": f"<img src=http://{HOST}/a.png onerror=alert(1)>"},
    {"eta": "`" + IMG + "`"},
    {IMG: "1"},
    {"seed": "x" * 100_000 + IMG},
    {"tol": f"1e-8\n\n# heading\n{IMG}"},
    {"noise": f":material/warning: $\\frac{{1}}{{0}}$ :red[{HOST}] <http://{HOST}>"},
    {"n": ["300", "400", IMG]},
    {f"k{i}{IMG}": IMG for i in range(40)},
    {"init": f"[link](http://{HOST}/x)"},
    {"gamma": f"<script>fetch('http://{HOST}')</script>"},
    {"d": "1e309", "n": "nan", "gd_iters": "9" * 400, "eta": "-1x"},
    {"resample": f"\x00\x1b[31m\u2028{HOST}\r\n\r\n{IMG}"},
    {"grid": "custom", "n": IMG},
    {"grid": IMG, "threshold": IMG, "alg": ["GD", IMG], "init": [IMG]},
    {"embed": "true", "embed_options": IMG},
]


def opened(page: str, query: dict) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(query)
    if PAGES[page]:
        at.switch_page(PAGES[page])
    return at


def shown(at: AppTest) -> str:
    """Every text element a visitor reads on the page."""
    kinds = ("warning", "error", "info", "success", "markdown", "caption", "title", "header", "subheader")
    return "\n".join(e.value for k in kinds for e in at.get(k) if isinstance(e.value, str))


def assert_echoes_are_code(text: str) -> None:
    """Split on backticks: even pieces are the page's own words, odd pieces code spans."""
    pieces = text.split("`")
    outside, inside = pieces[::2], pieces[1::2]
    for piece in outside:
        assert HOST not in piece and "![" not in piece and "<img" not in piece and "<script" not in piece, piece[:200]
    for piece in inside:
        assert "\n" not in piece and len(piece) <= state.ECHO_LIMIT + 300


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("query", CORPUS, ids=range(len(CORPUS)))
def test_hostile_links_render_as_text(page, query):
    at = opened(page, query).run()
    assert not at.exception, at.exception
    text = shown(at)
    assert_echoes_are_code(text)
    warned = " ".join(w.value for w in at.warning) + " ".join(e.value for e in at.error)
    assert len(warned) < 6000                           # cut to short prefixes, at most 8 listed
    assert len(text) < 60_000


def test_a_hostile_link_is_warned_about_on_every_page():
    for page in PAGES:
        at = opened(page, {"d": IMG, "colour": "red"}).run()
        warning = " ".join(w.value for w in at.warning)
        assert f"d={echo(IMG)}" in warning and "Unknown URL parameter `colour` was ignored" in warning, page


@pytest.mark.parametrize("page", PAGES)
def test_repeated_values_count_by_the_last_silently_on_every_page(page):
    at = opened(page, {"d": ["5", "6"], "seed": ["1", "2"]}).run()
    assert not at.exception
    assert "link" not in " ".join(w.value for w in at.warning)     # (the Theory page warns of vacuous bounds)
    widget = at.number_input(key="d") if page == "phase" else at.slider(key="w_d")
    assert widget.value == 6


# ----- the shared parser, property-based ----------------------------------------------------

hostile = st.text(alphabet=st.characters(codec="utf-8"), max_size=300) | st.sampled_from(
    [IMG, "`" + IMG, IMG + "`", "``", "\n\n" + IMG, "x" * 5000, "<b>" + HOST + "</b>"])
keys = st.sampled_from(list(FIELDS) + ["embed"]) | hostile


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, hostile | st.lists(hostile, min_size=1, max_size=3), max_size=20))
def test_parse_query_never_raises_and_echoes_only_code(params):
    got, warnings = parse_query(params)
    assert set(got) == set(defaults())
    text = warnings_markdown(warnings) if warnings else ""
    for piece in text.split("`")[::2]:
        assert "![" not in piece and "<b>" not in piece
    for piece in text.split("`")[1::2]:
        assert "\n" not in piece and "\r" not in piece and len(piece) <= state.ECHO_LIMIT + 1
    assert text.count("\n- ") <= MAX_WARNINGS + 1


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(hostile, hostile | st.lists(hostile, min_size=1, max_size=3), max_size=10))
def test_link_warnings_echo_only_code(params):
    warnings = link_warnings(params, {"d": 20, "alg": ["GD", "AM"]}, multi=("alg",))
    for w in warnings:
        pieces = w.split("`")
        assert len(pieces) % 2 == 1
        assert all("\n" not in p and len(p) <= state.ECHO_LIMIT + 1 for p in pieces[1::2])


def test_echo_cuts_and_closes_every_span():
    assert echo("x" * 1000) == "`" + "x" * state.ECHO_LIMIT + "…`"
    assert echo("a`b\nc") == "`aʼb c`" and echo("") == "`(empty)`" and echo("  ") == "`(empty)`"


# ----- presets (issue 11, item 7) -----------------------------------------------------------

def test_every_preset_sets_every_run_setting():
    for name, p in widgets.PRESETS.items():
        assert set(state.RUN_FIELDS) | {"eps"} <= set(p), name
        for k, v in p.items():
            assert state.parse_value(FIELDS[k], state.fmt(v)) == v, (name, k)


def test_paper_preset_replaces_the_previous_seed_limits_and_tolerance():
    at = opened("train", {"seed": "7", "gd_iters": "50", "tol": "0.001", "am_iters": "9"}).run()
    labels = list(widgets.PRESETS)
    at.button(key=f"preset_{labels.index('Paper, Fig. 1(b)')}").click().run()
    assert not at.exception
    want = widgets.PRESETS["Paper, Fig. 1(b)"]
    assert at.query_params["seed"] == "0" and at.query_params["gd_iters"] == "1000"
    assert at.query_params["tol"] == "1e-08" and at.query_params["am_iters"] == "50"
    assert {k: at.query_params[k] for k in want} == {k: state.fmt(v) for k, v in want.items()}
