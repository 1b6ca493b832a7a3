"""The dashboard's UI helpers, used by ``app.py`` and ``pages/``.

- ``state``:   the settings table, URL (query-parameter) parsing with warnings, and its sync;
- ``widgets``: sidebar controls, presets and the assumptions panel;
- ``stream``:  a per-session run of GD and/or AM advanced step by step, with throttled redraws;
- ``figures``: Plotly figure builders (plain dicts: fast to build and to serialize);
- ``export``:  CSV and JSON downloads of a run;
- ``theory_view``: the Theory page's cached computations and its words (units, subscripts);
- ``theory_figures``: the Theory page's figure builders (per-step contraction, kappa_t, rho_3, kappa vs n);
- ``sweep_view``: the Phase page's chart, table, cache, shipped tables and ``echo`` of user input;
- ``map_view``: the sample-complexity map figures (heatmap with thresholds, n* against d);
- ``object_figures``: pictures of W^t, W*, the masks P^t with flips marked, the network with per-neuron flips;
- ``landscape_figure``: the loss landscape around W* with runs' paths projected on it;
- ``glossary``: one-sentence explanations of kappa, rho_3, delta and flips (help texts, hovers);
- ``lesson``, ``lesson_view``, ``lesson_figures``: the Lesson page's steps, its cached computations, its charts;
- ``devserver``: for tests and screenshots only: a real ``streamlit run`` and headless Chromium.

Importing any of them has no side effects and creates no shared mutable state.
"""
