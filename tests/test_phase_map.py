"""The sample-complexity map: its grid, the same table from every executor, its analysis, the CLI."""
import json
import math
import subprocess
import sys

import pytest

from shallowres import executors
from shallowres.phase_map import PAPER_REL_GAMMA, analyze, d_map_spec, format_analysis, gamma_map_spec
from shallowres.sweep import DETERMINISTIC_COLUMNS, SweepSpec, run_sweep, trial_seed

SMALL_MAP = d_map_spec(d=(3, 4, 5), ratios=(0.9, 1.3, 2.0, 3.0), trials=4)


def test_a_d_map_scales_n_with_d_squared_and_the_teacher_with_sqrt_d():
    spec = d_map_spec(d=(5, 20), ratios=(0.9, 1.5, 2.5), trials=3)
    assert spec.n_values(5) == (22, 38, 62) and spec.n_values(20) == (360, 600, 1000)
    assert spec.gamma_values(20) == (pytest.approx(2.0),)                    # the paper's gamma at d = 20
    assert spec.gamma_values(5) == (pytest.approx(PAPER_REL_GAMMA * math.sqrt(5)),)
    cells = spec.cells()
    assert len(cells) == spec.total // 3 == 6 and {c.alg for c in cells} == {"am"}
    # a map cell is an ordinary cell: the same trial seeds as a sweep at that (d, n, gamma)
    c = cells[-1]
    plain = SweepSpec(n=(c.n,), d=(c.d,), gamma=(c.gamma,), algs=("am",), inits=("identity",), trials=3)
    assert plain.cells() == (c,)
    assert run_sweep(plain, "serial").trials[2].seed == trial_seed(0, c.d, c.n, c.gamma, 0.0, 2)


def test_map_grids_are_checked():
    with pytest.raises(ValueError, match=r"n_per_d2 must be a float in \(0, 1000\]; got -1"):
        d_map_spec(ratios=(-1,))
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, 10\^6\]"):
        d_map_spec(d=(200,), ratios=(30.0,))
    with pytest.raises(ValueError, match=r"gamma must be a float in \[0, 100\]"):
        d_map_spec(d=(200,), rel_gamma=9.0)


@pytest.fixture(scope="module")
def serial_map():
    return run_sweep(SMALL_MAP, "serial")


def test_the_map_table_is_the_same_from_serial_processes_and_dask(serial_map):
    import distributed
    procs = run_sweep(SMALL_MAP, "processes", workers=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp://",
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        dask = run_sweep(SMALL_MAP, "dask", scheduler=cluster.scheduler_address)
    for res in (procs, dask):
        assert res.done == SMALL_MAP.total and not res.cancelled
        assert res.table(DETERMINISTIC_COLUMNS) == serial_map.table(DETERMINISTIC_COLUMNS)
        assert [(t.cell, t.trial, t.rel_err, t.n_iter) for t in res.trials] == \
            [(t.cell, t.trial, t.rel_err, t.n_iter) for t in serial_map.trials]
    assert {r.successes for r in serial_map.rows} != {0}


def test_analysis_of_a_map(serial_map):
    a = analyze(serial_map.rows, "d")
    assert [ln.d for ln in a.lines] == [3, 4, 5] and a.alg == "am" and a.init == "identity"
    for ln in a.lines:
        rows = [r for r in serial_map.rows if r.d == ln.d]
        assert ln.fit.n == tuple(r.n for r in rows) and ln.fit.successes == tuple(r.successes for r in rows)
        if ln.fit.status == "fit":
            assert min(ln.fit.n) * 0.3 < ln.fit.n_star < max(ln.fit.n) * 3
    text = format_analysis(a)
    assert "50% recovery threshold n*" in text and ("alpha =" in text or "not fitted" in text)
    d = a.as_dict()
    assert d["kind"] == "d" and len(d["lines"]) == 3 and "n_star_over_d2" in d["lines"][0]
    with pytest.raises(ValueError, match="kind must be one of 'd', 'gamma'"):
        analyze(serial_map.rows, "n")
    with pytest.raises(ValueError, match="no rows for alg='gd'"):
        analyze(serial_map.rows, "d", alg="gd")


def test_a_gamma_map_has_one_threshold_per_gamma():
    spec = gamma_map_spec(gamma=(0.5, 3.0), n=(10, 20, 40, 80), d=4, trials=3)
    res = run_sweep(spec, "serial")
    a = analyze(res.rows, "gamma")
    assert [ln.gamma for ln in a.lines] == [0.5, 3.0] and a.exponent is None
    assert "gamma" in format_analysis(a).splitlines()[1]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "shallowres", "sweep", *args], capture_output=True, text=True,
                          timeout=300)


def test_map_from_the_command_line():
    p = cli("--map", "d", "--d", "3,4,5,6", "--n-per-d2", "0.9,1.3,2,3", "--trials", "4", "--executor", "serial",
            "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["done"] == out["total"] == 4 * 4 * 4
    assert out["map"]["kind"] == "d" and [ln["d"] for ln in out["map"]["lines"]] == [3, 4, 5, 6]
    assert out["map"]["exponent"] is not None or out["map"]["why"]
    assert {r["alg"] for r in out["rows"]} == {"am"} and {r["init"] for r in out["rows"]} == {"identity"}
    text = cli("--map", "gamma", "--d", "4", "--gamma", "0.5,2", "--n", "10,20,40", "--trials", "2",
               "--executor", "serial", "--no-progress")
    assert text.returncode == 0 and "50% recovery threshold n*" in text.stdout


@pytest.mark.parametrize("args,flag", [
    (["--n-per-d2", "1,2"], "--n-per-d2"),
    (["--rel-gamma", "0.5"], "--rel-gamma"),
    (["--map", "d", "--n-per-d2", "-1"], "--n-per-d2"),
    (["--map", "d", "--n", "100"], "--n"),
    (["--map", "d", "--paper"], "--map"),
    (["--map", "x"], "--map"),
])
def test_map_flags_are_checked_in_one_line(args, flag):
    p = cli(*args)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and flag in lines[0], p.stderr


def test_processes_pin_blas_to_one_thread():
    """Item 9 of issue 15: every executor computes with one BLAS thread, so the tables agree bit
    for bit; a worker reports its own BLAS threads inside a batch."""
    with executors.process_executor(1) as pool:
        threads = pool.submit(_blas_threads_in_a_batch).result()
    assert threads == 1
    assert _blas_threads_in_a_batch() == 1


def _blas_threads_in_a_batch() -> int:
    from threadpoolctl import threadpool_info

    from shallowres.executors import one_blas_thread
    with one_blas_thread():
        return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
