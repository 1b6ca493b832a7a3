"""Teacher, data, initializations, bring-your-own arrays, reproducibility."""
import numpy as np
import pytest

from shallowres import initial_point, load_problem, make_problem, problem_from_arrays


def test_balanced_teacher_has_equal_column_norms_and_gamma():
    p = make_problem(d=12, n=100, gamma=3.0, seed=1)
    col = np.linalg.norm(p.W_star, axis=0)
    assert np.allclose(col, 3.0 / np.sqrt(12))
    assert np.isclose(p.gamma, 3.0)
    assert set(np.unique(p.v_star)) <= {-1.0, 1.0}


def test_gaussian_teacher_has_frobenius_gamma_and_unequal_columns():
    p = make_problem(d=12, n=100, gamma=3.0, seed=1, w_star="gaussian")
    assert np.isclose(np.linalg.norm(p.W_star), 3.0)
    col = np.linalg.norm(p.W_star, axis=0)
    assert col.max() / col.min() > 1.1


def test_data_scale_and_labels():
    p = make_problem(d=10, n=4000, seed=0)
    assert p.X.shape == (4000, 10) and p.X_test.shape == (500, 10)
    assert np.isclose(p.X.var(), 1 / 4000, rtol=0.05)          # N(0, 1/n)
    assert np.isclose(p.X_test.var(), 1 / 4000, rtol=0.1)
    assert np.allclose(p.y, np.maximum(p.X @ (p.W_star + np.eye(10)), 0) @ p.v_star)


def test_noise_is_added_in_units_of_one_over_sqrt_n():
    clean = make_problem(d=10, n=5000, seed=0)
    noisy = make_problem(d=10, n=5000, seed=0, noise=2.0)
    assert np.array_equal(clean.X, noisy.X)
    assert np.isclose(np.std(noisy.y - clean.y), 2.0 / np.sqrt(5000), rtol=0.05)


def test_one_seed_reproduces_everything_bit_for_bit():
    a, b = make_problem(d=8, n=50, seed=7), make_problem(d=8, n=50, seed=7)
    for k in ("W_star", "v_star", "X", "y", "X_test", "y_test"):
        assert np.array_equal(getattr(a, k), getattr(b, k))
    c = make_problem(d=8, n=50, seed=8)
    assert not np.array_equal(a.X, c.X)
    for init in ("random", "delta"):
        assert np.array_equal(initial_point(a, init), initial_point(b, init))


def test_initializations():
    p = make_problem(d=10, n=50, gamma=2.0, seed=0)
    assert np.array_equal(initial_point(p, "identity"), np.zeros((10, 10)))
    W = initial_point(p, "random")
    assert abs(W.std() * 10 - 1) < 0.2           # vec(W^0) ~ N(0, I)/d
    for delta in (0.1, 0.5, 0.9):
        W = initial_point(p, "delta", delta=delta)
        assert np.isclose(np.linalg.norm(W - p.W_star), delta * np.linalg.norm(p.W_star + np.eye(10)))


def test_bring_your_own_arrays_and_npz(tmp_path):
    rng = np.random.default_rng(0)
    W, v, X, Xt = rng.standard_normal((3, 3)), np.array([1.0, -1, 1]), rng.standard_normal((20, 3)), \
        rng.standard_normal((7, 3))
    p = problem_from_arrays(W, v, X, Xt)
    assert np.array_equal(p.X_test, Xt) and p.n == 20 and p.d == 3
    assert np.allclose(p.y_test, np.maximum(Xt @ (W + np.eye(3)), 0) @ v)
    f = tmp_path / "p.npz"
    np.savez(f, W_star=W, v_star=v, X=X, X_test=Xt)
    q = load_problem(str(f))
    assert np.array_equal(q.W_star, W) and np.array_equal(q.y, p.y)


@pytest.mark.parametrize("args, match", [
    (dict(W_star=np.zeros((3, 4)), v_star=np.ones(3), X=np.ones((5, 3))), "W_star must be a square"),
    (dict(W_star=np.zeros((3, 3)), v_star=np.ones(4), X=np.ones((5, 3))), "v_star must be an array of shape 3"),
    (dict(W_star=np.zeros((3, 3)), v_star=np.ones(3), X=np.ones((5, 2))), "X must be an array of shape any x 3"),
    (dict(W_star=np.full((3, 3), np.nan), v_star=np.ones(3), X=np.ones((5, 3))), "W_star must hold finite"),
    (dict(W_star=np.zeros((1, 1)), v_star=np.ones(1), X=np.ones((5, 1))), r"d an integer in \[2, 200\]"),
])
def test_bring_your_own_validation(args, match):
    with pytest.raises(ValueError, match=match):
        problem_from_arrays(**args)


def test_load_problem_errors(tmp_path):
    with pytest.raises(ValueError, match="missing.npz' cannot be read"):
        load_problem(str(tmp_path / "missing.npz"))
    f = tmp_path / "bad.npz"
    np.savez(f, W_star=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="it lacks v_star, X"):
        load_problem(str(f))
