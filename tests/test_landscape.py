"""The loss landscape: grid values against direct loss evaluations, the plane, the projections."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shallowres import initial_point, make_problem, run
from shallowres.landscape import (
    MAX_GRID,
    MIN_GRID,
    filter_directions,
    grid_size,
    landscape,
    loss_at,
    loss_grid,
    plane_directions,
)
from tests.reference import loss as reference_loss


@pytest.fixture(scope="module")
def runs():
    p = make_problem(d=6, n=200, gamma=1.0, seed=3)
    gd = run(p, "gd", iters=200, keep_W=True)
    am = run(p, "am", keep_W=True)
    return p, {"gd": np.array([r.W for r in gd.records]), "am": np.array([r.W for r in am.records])}


@pytest.mark.parametrize("mode", ["plane", "filter"])
def test_every_grid_value_is_the_loss_evaluated_directly(runs, mode):
    p, paths = runs
    sl = landscape(p, mode, paths=paths, grid=9)
    for j, b in enumerate(sl.b):
        for i, a in enumerate(sl.a):
            want = reference_loss(p.X, p.y, sl.point(a, b), p.v_star)
            assert sl.loss[j, i] == pytest.approx(want, rel=1e-10, abs=1e-18)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10**6), st.lists(st.floats(-2, 2), min_size=1, max_size=7),
       st.lists(st.floats(-2, 2), min_size=1, max_size=5))
def test_loss_grid_matches_loss_at_for_any_directions_and_coordinates(seed, a, b):
    p = make_problem(d=4, n=30, gamma=0.7, seed=seed % 97, n_test=1)
    rng = np.random.default_rng(seed)
    C, D1, D2 = rng.standard_normal((3, 4, 4)) * 0.5
    grid = loss_grid(p.X, p.y, p.v_star, C, D1, D2, np.array(a), np.array(b))
    assert grid.shape == (len(b), len(a))
    for j, bj in enumerate(b):
        for i, ai in enumerate(a):
            assert grid[j, i] == pytest.approx(loss_at(p.X, p.y, p.v_star, C + ai * D1 + bj * D2), rel=1e-9,
                                               abs=1e-15)


def test_the_teacher_sits_at_the_origin_with_zero_loss(runs):
    p, _ = runs
    D1, D2 = filter_directions(p)
    assert loss_grid(p.X, p.y, p.v_star, p.W_star, D1, D2, np.zeros(1), np.zeros(1))[0, 0] == 0.0


def test_the_plane_holds_w0_and_ams_first_step_in_relative_error_units(runs):
    p, paths = runs
    sl = landscape(p, "plane", paths=paths, grid=7)
    a, b, off = sl.project(paths["am"][:2])
    rel0 = np.linalg.norm(paths["am"][0] - p.W_star) / p.scale
    assert a[0] == pytest.approx(rel0, rel=1e-12) and abs(b[0]) < 1e-12
    assert np.allclose(off, 0, atol=1e-12)
    assert np.hypot(a[1], b[1]) == pytest.approx(np.linalg.norm(paths["am"][1] - p.W_star) / p.scale, rel=1e-12)
    assert np.vdot(sl.D1, sl.D2) == pytest.approx(0, abs=1e-12)
    assert np.linalg.norm(sl.D1) == pytest.approx(p.scale) and np.linalg.norm(sl.D2) == pytest.approx(p.scale)
    # the window covers W^0 and every projected iterate
    for P in paths.values():
        a, b, _ = sl.project(P)
        assert sl.a[0] <= a.min() and a.max() <= sl.a[-1] and sl.b[0] <= b.min() and b.max() <= sl.b[-1]


def test_an_off_plane_iterate_reports_its_distance(runs):
    p, paths = runs
    sl = landscape(p, "plane", paths=paths, grid=5)
    E = np.random.default_rng(0).standard_normal((6, 6))
    E -= np.vdot(E, sl.D1) / np.vdot(sl.D1, sl.D1) * sl.D1
    E -= np.vdot(E, sl.D2) / np.vdot(sl.D2, sl.D2) * sl.D2
    W = sl.point(0.1, -0.05) + 0.3 * E / np.linalg.norm(E)
    a, b, off = sl.project(W[None])
    assert a[0] == pytest.approx(0.1) and b[0] == pytest.approx(-0.05)
    assert off[0] == pytest.approx(0.3 / p.scale)


def test_filter_directions_have_the_teachers_filter_norms():
    p = make_problem(d=7, n=60, gamma=2.0, seed=1)
    for D in filter_directions(p, seed=4):
        assert np.allclose(np.linalg.norm(D, axis=0), np.linalg.norm(p.U_star, axis=0))


def test_plane_directions_without_a_third_point_or_a_parallel_one_are_still_a_plane():
    p = make_problem(d=5, n=60, gamma=1.0, seed=2)
    W0 = initial_point(p, "identity")
    for third in (None, p.W_star + 2 * (W0 - p.W_star)):
        D1, D2 = plane_directions(p, W0, third)
        assert abs(np.vdot(D1, D2)) < 1e-9 * p.scale**2
        assert np.linalg.norm(D2) == pytest.approx(p.scale)


def test_grid_size_is_odd_within_bounds_and_shrinks_with_the_problem():
    sizes = [grid_size(n, 20) for n in (50, 500, 1700, 5000, 50_000, 10**6)]
    assert all(g % 2 == 1 and MIN_GRID <= g <= MAX_GRID for g in sizes)
    assert sizes == sorted(sizes, reverse=True)
    assert grid_size(1700, 20) ** 2 * 1700 * 20 <= 1.0 * 1.2e8


@pytest.mark.parametrize("kw, name", [(dict(mode="pca"), "mode"), (dict(grid=2), "grid"),
                                      (dict(grid=True), "grid"), (dict(W0=np.zeros((3, 3))), "W0")])
def test_bad_arguments_name_themselves(kw, name):
    p = make_problem(d=4, n=30, seed=0)
    with pytest.raises(ValueError, match=f"^{name} "):
        landscape(p, **kw)
