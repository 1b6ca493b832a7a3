"""shallowres: learn a shallow ReLU residual network y = relu(X (W* + I)) v*
by gradient descent (GD) and alternating minimization (AM), after Jagatap &
Hegde, "Linearly Convergent Algorithms for Learning Shallow Residual Networks"
(ISIT 2019). NumPy/SciPy only: no UI imports.
"""
from .problem import Problem, initial_point, load_problem, make_problem, problem_from_arrays
from .solvers import IterRecord, Monitor, RunResult, am, gd, iterate, plan_run, run
from .theory import Theory, empirical, empirical_ratio, theory
from .theory_path import TheoryPath, path_run, theory_path
from .validation import MemoryBudgetError

__all__ = [
    "Problem", "make_problem", "problem_from_arrays", "load_problem", "initial_point",
    "IterRecord", "RunResult", "Monitor", "gd", "am", "iterate", "run", "plan_run",
    "Theory", "theory", "empirical", "empirical_ratio", "MemoryBudgetError",
    "TheoryPath", "theory_path", "path_run",
]
