"""The paper's sweep as the code stood when issue 12 was filed, frozen as the benchmark's reference.

Commit 24979bb is the last one before the batched sweeps (its successor, 975d99f, adds
the stalled rule): one ``run()`` per trial with every per-iteration record, no stalled
rule, trial-major order. ``frozen_package(dest)`` extracts that commit's ``shallowres/``
with ``git archive``; ``benchmarks/run.py --rows sweep_paper`` puts it first on the
path of a fresh process and times its own ``run_sweep(SweepSpec(), "serial")``, so
later speed-ups of the unbatched solver do not move into the reference.

Raises ``RuntimeError`` when the repository's history does not hold the commit (a
shallow clone: fetch with ``git fetch --unshallow``).
"""
from __future__ import annotations

import io
import os
import subprocess
import tarfile

BASELINE_COMMIT = "24979bbd599602d32611a3ae6993bf3197da3fc7"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def frozen_package(dest: str, commit: str = BASELINE_COMMIT) -> str:
    """Extract ``shallowres/`` as of ``commit`` into ``dest``; returns ``dest`` (put it first on sys.path)."""
    proc = subprocess.run(["git", "-C", ROOT, "archive", "--format=tar", commit, "shallowres"],
                          capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"the sweep baseline needs commit {commit[:7]} in this repository's history "
                           f"(git fetch --unshallow): {proc.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def task_key(cell, trial: int) -> str:
    """A trial's name that does not depend on which package's Cell holds it."""
    return f"{cell.d}|{cell.gamma!r}|{cell.noise!r}|{cell.n}|{cell.alg}|{cell.init}|{trial}"
