"""python -m shallowres sweep: output keys, CSV, progress, exit codes, Ctrl-C."""
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from shallowres.cli import build_parser
from shallowres.sweep import COLUMNS, PAPER_N, SweepSpec
from shallowres.sweep_cli import executor_from_args, parse_list, spec_from_args

TINY = ["--n", "12,60", "--d", "4", "--gamma", "1", "--trials", "2", "--gd-iters", "100", "--am-iters", "10"]
JSON_KEYS = {"spec", "rows", "done", "total", "cancelled", "seconds", "executor", "workers", "stalled", "lost",
             "retried"}


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "shallowres", "sweep", *args], capture_output=True,
                          text=True, timeout=300, env=env)


def test_json_output_keys_and_rows():
    p = cli(*TINY, "--executor", "serial", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert set(out) == JSON_KEYS
    assert out["done"] == out["total"] == 2 * 2 * 2 * 2 and out["cancelled"] is False
    assert [tuple(r) for r in out["rows"]] == [COLUMNS] * 8
    assert [(r["n"], r["alg"], r["init"]) for r in out["rows"][:4]] == [
        (12, "gd", "identity"), (12, "gd", "random"), (12, "am", "identity"), (12, "am", "random")]
    assert all(r["successes"] == 0 for r in out["rows"] if r["n"] == 12)


def test_text_table_csv_file_and_progress_on_stderr(tmp_path):
    f = tmp_path / "t.csv"
    p = cli(*TINY, "--executor", "processes", "--workers", "2", "--csv", str(f))
    assert p.returncode == 0, p.stderr
    assert "95% CI" in p.stdout and "all 16/16 trials" in p.stdout and "(processes, 2 workers)" in p.stdout
    rows = list(csv.DictReader(io.StringIO(f.read_text())))
    assert len(rows) == 8 and tuple(rows[0]) == COLUMNS
    bars = [s for s in p.stderr.splitlines() if "trials" in s]
    assert bars and bars[-1].split()[1] == "16/16"
    quiet = cli(*TINY, "--executor", "serial", "--csv", "-", "--no-progress")
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert quiet.stdout.splitlines()[0] == ",".join(COLUMNS) and len(quiet.stdout.splitlines()) == 9


def test_dask_local_cluster_from_the_command_line():
    p = cli(*TINY, "--alg", "am", "--scheduler", "local", "--workers", "1", "--json")   # implies dask
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["executor"] == "dask" and out["workers"] == 1 and out["done"] == 8


@pytest.mark.parametrize("args,flag,words", [
    (["--trials", "0"], "--trials", "trials must be an integer in [1, 10^5]; got 0"),
    (["--n", "1:1000000000000:1"], "--n", "n must be a list of at most 10,000 values"),
    (["--n", "100:2000:100", "--trials", "100000"], "--trials", "trials x grid cells must be at most 1,000,000"),
    (["--alg", "gd,sgd"], "--alg", "alg must be one of 'gd', 'am'; got 'sgd'"),
    (["--init", "zero"], "--init", "init must be one of"),
    (["--n", "0,100"], "--n", "n must be an integer in [1, 10^6]; got 0"),
    (["--n", "abc"], "--n", "n must be a comma-separated list or a range start:stop:step; got 'abc'"),
    (["--n", "100:50"], "--n", "range start:stop:step"),
    (["--n", "100:200:0"], "--n", "range start:stop:step"),
    (["--n", ","], "--n", "n must be a non-empty list"),
    (["--gamma", "-1"], "--gamma", "gamma must be a float in [0, 100]; got -1"),
    (["--threshold", "2"], "--threshold", "threshold must be a float in (0, 1]"),
    (["--executor", "gpu"], "--executor", "executor must be one of 'serial', 'processes', 'dask'"),
    (["--paper", "--map", "d"], "--map", "cannot be combined with --paper"),
    (["--csv", "x.csv", "--json"], "--json", "not allowed with argument --csv"),
    (["--trials", "many"], "--trials", "invalid int value"),
    (["--executor", "serial", "--scheduler", "local"], "scheduler", "only used with --executor dask"),
])
def test_bad_arguments_exit_2_with_one_line_naming_the_flag(args, flag, words):
    p = cli(*args)
    assert p.returncode == 2 and p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and flag in lines[0] and words in lines[0], p.stderr


def test_dask_without_an_address_is_a_usage_error():
    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
    p = cli(*TINY, "--executor", "dask", env=env)
    assert p.returncode == 2 and "scheduler must be 'local' or an address like tcp://HOST:PORT" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_paper_flag_is_the_papers_setup():
    a = build_parser().parse_args(["sweep", "--paper"])
    spec = spec_from_args(a)
    assert spec == SweepSpec() and executor_from_args(a) == "processes"
    assert (spec.d, spec.gamma, spec.n, spec.trials) == ((20,), (2.0,), PAPER_N, 10)
    assert (spec.algs, spec.inits, spec.threshold) == (("gd", "am"), ("identity", "random"), 0.01)
    assert spec_from_args(build_parser().parse_args(["sweep"])) == spec


@pytest.mark.parametrize("flags,changed", [
    (["--alg", "am"], {"algs": ("am",)}),
    (["--trials", "3", "--n", "700,1700"], {"trials": 3, "n": (700, 1700)}),
    (["--d", "10", "--init", "identity"], {"d": (10,), "inits": ("identity",)}),
])
def test_paper_is_a_set_of_defaults_other_flags_override(flags, changed):
    spec = spec_from_args(build_parser().parse_args(["sweep", "--paper", *flags]))
    assert spec == replace(SweepSpec(), **changed)


def test_parse_list():
    assert parse_list("n", "100:2000:100", int, ranges=True) == tuple(range(100, 2001, 100))
    assert parse_list("n", "5:7", int, ranges=True) == (5, 6, 7)
    assert parse_list("gamma", " 1, 2.5 ") == (1.0, 2.5)
    assert parse_list("alg", "gd,am", str) == ("gd", "am")
    with pytest.raises(ValueError, match="gamma must be a comma-separated list; got '1:3'"):
        parse_list("gamma", "1:3")


@pytest.mark.parametrize("where", [["--executor", "processes", "--workers", "2"],
                                   ["--scheduler", "local", "--workers", "2"],
                                   ["--executor", "serial"]])
def test_ctrl_c_cancels_prints_the_partial_table_and_exits_130(where):
    """SIGINT to the whole process group, as a terminal's Ctrl-C sends it: the workers (pool
    processes, LocalCluster workers) ignore it, the parent cancels, prints the partial table,
    exits 130 and leaves no process behind (no worker, no resource tracker)."""
    args = ["--n", "12,60", "--d", "4", "--gamma", "1", "--trials", "200", "--gd-iters", "300", *where]
    p = subprocess.Popen([sys.executable, "-m", "shallowres", "sweep", *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        first = p.stderr.readline()          # the first progress line: trials are running
        assert "trials" in first
        os.killpg(p.pid, signal.SIGINT)      # like Ctrl-C in a terminal: the whole process group
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, err
    assert "cancelled after" in out and "/1600 trials" in out
    done = int(out.split("cancelled after ")[1].split("/")[0])
    assert 0 < done < 1600
    for _ in range(50):                      # the group empties once the parent has exited
        try:
            os.killpg(p.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        pytest.fail("processes of the sweep outlived it")
