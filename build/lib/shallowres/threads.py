"""BLAS thread limits for small problems.

Multi-threaded BLAS on the thin n x d by d x d products of a small problem costs
more in thread wake-ups than it saves, and on a shared or oversubscribed machine
(a classroom server, a sweep with one process per core) spinning threads can make
an iteration 100x slower. Small problems therefore run single-threaded.
"""
from __future__ import annotations

from contextlib import nullcontext
from functools import cache

SINGLE_THREAD_BELOW = 4_000_000   # n d^2 multiply-adds in one X @ U product


@cache
def _controller():
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController()


def blas_limit(n: int, d: int):
    """Context manager: one BLAS thread when n d^2 < SINGLE_THREAD_BELOW, else no limit."""
    if n * d * d >= SINGLE_THREAD_BELOW:
        return nullcontext()
    return _controller().limit(limits=1, user_api="blas")


def single_threaded_blas() -> None:
    """Pin BLAS to one thread for the whole process (a hosted dashboard: a fraction
    of a core shared by many sessions, where a second BLAS thread only spins)."""
    _controller().limit(limits=1, user_api="blas")
