"""Every public entry validates its parameters with one message format."""
import numpy as np
import pytest

from shallowres import MemoryBudgetError, initial_point, make_problem, run, theory
from shallowres.validation import check

P = make_problem(d=4, n=30, seed=0)


@pytest.mark.parametrize("call, message", [
    (lambda: make_problem(d=1), "d must be an integer in [2, 200]; got 1"),
    (lambda: make_problem(d=201), "d must be an integer in [2, 200]; got 201"),
    (lambda: make_problem(d=2.5), "d must be an integer in [2, 200]; got 2.5"),
    (lambda: make_problem(d="20"), "d must be an integer in [2, 200]; got '20'"),
    (lambda: make_problem(d=True), "d must be an integer in [2, 200]; got True"),
    (lambda: make_problem(n=0), "n must be an integer in [1, 10^6]; got 0"),
    (lambda: make_problem(n=10**6 + 1), "n must be an integer in [1, 10^6]; got 1000001"),
    (lambda: make_problem(gamma=-1), "gamma must be a float in [0, 100]; got -1"),
    (lambda: make_problem(gamma=float("nan")), "gamma must be a float in [0, 100]; got nan"),
    (lambda: make_problem(gamma=float("inf")), "gamma must be a float in [0, 100]; got inf"),
    (lambda: make_problem(noise=-0.1), "noise must be a float in [0, 100]; got -0.1"),
    (lambda: make_problem(seed=-1), "seed must be an integer in [0, 9223372036854775807]; got -1"),
    (lambda: make_problem(w_star="uniform"), "w_star must be one of 'balanced', 'gaussian'; got 'uniform'"),
    (lambda: make_problem(n_test=0), "n_test must be an integer in [1, 10^5]; got 0"),
    (lambda: initial_point(P, "zeros"), "init must be one of 'identity', 'random', 'delta'; got 'zeros'"),
    (lambda: initial_point(P, "delta", delta=1.0), "delta must be a float in (0, 1); got 1.0"),
    (lambda: initial_point(P, "delta", delta=0), "delta must be a float in (0, 1); got 0"),
    (lambda: run(P, "lbfgs"), "alg must be one of 'gd', 'am', 'sgd', 'adam'; got 'lbfgs'"),
    (lambda: run(P, "gd", eta=0), "eta must be a float in (0, 10^12]; got 0"),
    (lambda: run(P, "gd", eta=-1.0), "eta must be a float in (0, 10^12]; got -1.0"),
    (lambda: run(P, "gd", eta="0x"), "eta_scale must be a float in (0, 100]; got 0.0"),
    (lambda: run(P, "gd", eta="fast"), "eta must be 'theory', a multiple like '0.5x', or a float"),
    (lambda: run(P, "gd", iters=0), "iters must be an integer in [1, 10^6]; got 0"),
    (lambda: run(P, "gd", tol=-1e-3), "tol must be a float in [0, 1]; got -0.001"),
    (lambda: run(P, "am", am_solver="qr"), "am_solver must be one of"),
    (lambda: run(P, "gd", memory_budget=10), "memory_budget must be an integer in [10485760,"),
    (lambda: theory(P, eps=0), "eps must be a float in (0, 1); got 0"),
    (lambda: theory(P, delta=2), "delta must be a float in (0, 1); got 2"),
])
def test_validation_messages(call, message):
    with pytest.raises(ValueError) as e:
        call()
    assert message in str(e.value)


def test_check_coerces():
    assert check("d", 20.0) == 20 and isinstance(check("d", 20.0), int)
    assert check("gamma", 2) == 2.0 and isinstance(check("gamma", np.float32(2)), float)
    assert check("alg", "AM") == "am"


def test_memory_guard_refuses_instead_of_being_killed():
    with pytest.raises(MemoryBudgetError, match=r"needs about [\d,]+ MB, more than the memory budget of 1,024 MB"):
        make_problem(d=200, n=10**6)
    small = 64 * 2**20
    with pytest.raises(MemoryBudgetError, match="keeping every W"):
        run(make_problem(d=50, n=100, seed=0), "gd", iters=10**5, keep_W=True, memory_budget=small)
    assert isinstance(MemoryBudgetError("x"), ValueError)


def test_memory_guard_covers_forced_dense_solver():
    p = make_problem(d=60, n=4000, seed=0)   # dense B would be 4000 x 3600 x 8 B x 3 = 345 MB
    with pytest.raises(MemoryBudgetError, match="dense solver"):
        run(p, "am", am_solver="dense", memory_budget=200 * 2**20)
