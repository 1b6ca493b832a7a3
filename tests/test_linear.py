"""The linearized operator B against the slides' dense formula."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from shallowres.linear import (
    B_matvec,
    B_operator,
    B_rmatvec,
    dense_B,
    gram_matrix,
    masks,
    normal_matrix,
    signed_masks,
    unvec,
    vec,
)
from tests.reference import B_from_slides, vec_cols


def _setup(seed, n=30, d=4):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) / np.sqrt(n)
    U = np.eye(d) + 0.5 * rng.standard_normal((d, d))
    v = rng.choice([-1.0, 1.0], d)
    return rng, X, U, v, signed_masks(masks(X, U), v)


def test_vec_stacks_columns():
    U = np.arange(9.0).reshape(3, 3)
    assert np.array_equal(vec(U), vec_cols(U))
    assert np.array_equal(unvec(vec(U), 3), U)


def test_B_vecU_is_the_network_at_the_point_that_built_the_masks():
    for seed in range(5):
        _, X, U, v, S = _setup(seed)
        assert np.allclose(B_matvec(X, S, U), np.maximum(X @ U, 0) @ v, atol=1e-14)
        assert np.allclose(B_from_slides(X, U, v) @ vec_cols(U), np.maximum(X @ U, 0) @ v, atol=1e-14)


def test_dense_B_equals_slides_formula():
    for seed in range(5):
        _, X, U, v, S = _setup(seed, n=25, d=5)
        assert np.allclose(dense_B(X, S), B_from_slides(X, U, v), atol=0)


def test_matrix_free_B_agrees_with_dense_B():
    rng, X, U, v, S = _setup(1, n=40, d=6)
    B = B_from_slides(X, U, v)
    Up = rng.standard_normal((6, 6))
    r = rng.standard_normal(40)
    assert np.allclose(B_matvec(X, S, Up), B @ vec_cols(Up), atol=1e-13)
    assert np.allclose(vec(B_rmatvec(X, S, r)), B.T @ r, atol=1e-13)
    op = B_operator(X, S)
    assert op.shape == (40, 36)
    assert np.allclose(op.matvec(vec(Up)), B @ vec_cols(Up), atol=1e-13)
    assert np.allclose(op.rmatvec(r), B.T @ r, atol=1e-13)


def test_normal_and_gram_matrices():
    _, X, U, v, S = _setup(2, n=50, d=4)
    B = B_from_slides(X, U, v)
    assert np.allclose(normal_matrix(X, S), B.T @ B, atol=1e-13)
    assert np.allclose(normal_matrix(X, S, chunk_bytes=8 * 16 * 7), B.T @ B, atol=1e-13)  # 7-row chunks
    assert np.allclose(gram_matrix(X, S), B @ B.T, atol=1e-13)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 40), d=st.integers(2, 7))
def test_adjoint_identity(seed, n, d):
    """<B u, r> = <u, B^T r> for random masks, u and r."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    U0 = rng.standard_normal((d, d))
    S = signed_masks(masks(X, U0), rng.choice([-1.0, 1.0], d))
    u = rng.standard_normal((d, d))
    r = rng.standard_normal(n)
    lhs = B_matvec(X, S, u) @ r
    rhs = np.vdot(u, B_rmatvec(X, S, r))
    assert np.isclose(lhs, rhs, rtol=1e-10, atol=1e-10)
