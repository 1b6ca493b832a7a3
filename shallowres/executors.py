"""Where sweep trials run: one ``concurrent.futures.Executor`` interface, three kinds.

- ``serial``: :class:`SerialExecutor`, runs each call inside ``submit`` (no threads,
  no processes; the safe choice on a small shared server);
- ``processes``: a ``ProcessPoolExecutor`` on this machine (default: all cores),
  started with ``spawn``, one BLAS thread per worker and SIGINT ignored (see
  :data:`_WORKER_SETUP`);
- ``dask``: a Dask ``distributed`` cluster through ``Client.get_executor()``; the
  address comes from ``scheduler`` (``tcp://HOST:PORT``), else the environment
  variable ``DASK_SCHEDULER_ADDRESS``; ``scheduler="local"`` starts a ``LocalCluster``
  whose worker processes ignore SIGINT (:data:`IGNORE_SIGINT`), so a Ctrl-C in the
  terminal reaches only the parent, which cancels the sweep and closes the cluster.
  Dask is imported only here and only when asked for, so the library works without it.

Sweeps also run every batch under :func:`one_blas_thread`, whatever the executor.

Use :func:`open_executor` as a context manager; it closes what it started.
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import functools
import logging
import multiprocessing
import os
import warnings
from collections.abc import Iterator

from .validation import CONSTRAINTS, check

DASK_ENV = "DASK_SCHEDULER_ADDRESS"
CONNECT_TIMEOUT = "10s"

# Run in each worker process before it imports NumPy: one BLAS thread per process
# (NumPy's OpenBLAS reads these variables when it loads; P processes with several
# BLAS threads each on P cores oversubscribe the machine and can run 10-100x
# slower), and Ctrl-C goes to the parent only, which then cancels the sweep.
# ``exec`` of a constant string is used because any function of this package
# would import NumPy before it could run.
_WORKER_SETUP = (
    "import os, signal\n"
    "for _k in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS'):\n"
    "    os.environ[_k] = '{threads}'\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
)


@functools.cache
def _blas():
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController()


def one_blas_thread():
    """Context manager: one BLAS thread inside it. Every sweep batch runs under it, in
    every executor, so a table does not depend on where it was computed (a product
    split over threads may round differently) and workers do not oversubscribe cores."""
    return _blas().limit(limits=1, user_api="blas")


def cpu_count() -> int:
    """Cores this process may use (the affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


class SerialExecutor(cf.Executor):
    """Runs ``fn(*args)`` inside ``submit`` and returns a finished Future.

    The caller's loop gets each result before it submits the next call, so
    progress is reported trial by trial and a stop between trials is immediate.
    """

    max_workers = 1

    def __init__(self):
        self._shutdown = False

    def submit(self, fn, /, *args, **kwargs) -> cf.Future:
        if self._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        f: cf.Future = cf.Future()
        f.set_running_or_notify_cancel()
        try:
            f.set_result(fn(*args, **kwargs))
        except Exception as e:  # handed to the caller through the future, like a pool does
            f.set_exception(e)
        return f

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._shutdown = True


def process_executor(workers: int | None = None) -> cf.ProcessPoolExecutor:
    """A ``spawn`` process pool of ``workers`` processes (default: all cores), each
    with one BLAS thread and SIGINT ignored."""
    workers = check("workers", cpu_count() if workers is None else workers)
    return cf.ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
        initializer=exec, initargs=(_WORKER_SETUP.format(threads=1),))


# Preload script for the workers of a LocalCluster we start (Dask runs text with a
# space in it as a script, in the worker process's main thread).
IGNORE_SIGINT = "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN)"


def scheduler_address(scheduler: str | None) -> str:
    """``scheduler``, else $DASK_SCHEDULER_ADDRESS; "local" or an address with "://"."""
    address = scheduler or os.environ.get(DASK_ENV, "")
    address = address.strip()
    if address != "local" and "://" not in address:
        got = repr(scheduler) if scheduler else f"{DASK_ENV}={os.environ.get(DASK_ENV)!r}"
        raise ValueError("scheduler must be 'local' or an address like tcp://HOST:PORT "
                         f"(or set {DASK_ENV}); got {got}")
    return address


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise ValueError("executor 'dask' needs the packages dask and distributed: "
                         "pip install 'dask[distributed]'") from None
    return distributed


@contextlib.contextmanager
def dask_executor(scheduler: str | None = None, workers: int | None = None) -> Iterator[cf.Executor]:
    """A ``concurrent.futures`` executor on a Dask cluster (``Client.get_executor``).

    ``scheduler="local"`` starts a ``LocalCluster`` of ``workers`` single-threaded
    worker processes (default: all cores) and closes it on exit. The workers must
    be able to import ``shallowres`` (installed, or on their ``PYTHONPATH``).
    """
    address = scheduler_address(scheduler)
    distributed = _import_distributed()
    with contextlib.ExitStack() as stack:
        if address == "local":
            n = check("workers", cpu_count() if workers is None else workers)
            with warnings.catch_warnings():   # its HTTP endpoint says when port 8787 is taken: harmless
                warnings.filterwarnings("ignore", message="Port .* is already in use")
                cluster = stack.enter_context(distributed.LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True, preload=[IGNORE_SIGINT],
                    dashboard_address=None, silence_logs=logging.ERROR))
            address = cluster.scheduler_address
        try:
            client = stack.enter_context(distributed.Client(address, timeout=CONNECT_TIMEOUT))
        except (OSError, TimeoutError) as e:
            raise ValueError(f"scheduler {address} did not answer within {CONNECT_TIMEOUT} ({e})") from None
        executor = client.get_executor(pure=False)
        executor.max_workers = max(1, sum(client.nthreads().values()))
        yield executor


EXECUTORS = CONSTRAINTS["executor"].options


@contextlib.contextmanager
def open_executor(kind: str = "processes", workers: int | None = None,
                  scheduler: str | None = None) -> Iterator[cf.Executor]:
    """Open a ``serial``, ``processes`` or ``dask`` executor; shut it down on exit.

    Every executor has a ``max_workers`` attribute: how many calls run at once.
    """
    kind = check("executor", kind)
    if kind == "serial":
        yield SerialExecutor()
    elif kind == "processes":
        with process_executor(workers) as pool:
            yield pool
    else:
        with dask_executor(scheduler, workers) as ex:
            yield ex


def parallelism(executor: cf.Executor) -> int:
    """How many calls ``executor`` runs at once: its ``max_workers`` (our executors),
    ``_max_workers`` (the standard library's pools), else the core count."""
    for attr in ("max_workers", "_max_workers"):
        n = getattr(executor, attr, None)
        if isinstance(n, int) and n >= 1:
            return n
    return cpu_count()
