"""python -m shallowres: exit codes, JSON keys, tables."""
import json
import subprocess
import sys

import numpy as np
import pytest

RUN_KEYS = {"t", "err", "rel_err", "train_loss", "test_loss", "flips_teacher", "flips_prev", "rho3"}
SUMMARY_KEYS = {"stop_reason", "n_iter", "rel_err", "seconds"}
THEORY_KEYS = {"sigma_min", "sigma_max", "kappa", "rho3", "rho_gd", "rho_am", "rho_am_tight",
               "t_ratio_pred", "kappa_w", "lambda", "assumption1_holds", "rho3_sum", "rho3_rss",
               "rho3_norm_of_sum", "rho3_unit_scale", "kappa_inf", "t_ratio_pred_tight", "t_ratio_local"}


def cli(*args):
    return subprocess.run([sys.executable, "-m", "shallowres", *args], capture_output=True, text=True,
                          timeout=300)


def test_run_json_lines_and_summary():
    p = cli("run", "--d", "10", "--n", "600", "--alg", "am", "--json")
    assert p.returncode == 0, p.stderr
    lines = [json.loads(s) for s in p.stdout.splitlines()]
    *records, summary = lines
    assert all(RUN_KEYS <= set(r) for r in records)
    assert [r["t"] for r in records] == list(range(len(records)))
    assert SUMMARY_KEYS <= set(summary) and summary["stop_reason"] == "converged"
    assert summary["n_iter"] == records[-1]["t"] and summary["rel_err"] == records[-1]["rel_err"] < 1e-8


def test_run_table_is_readable():
    p = cli("run", "--d", "10", "--n", "600", "--alg", "gd", "--iters", "60", "--every", "20")
    assert p.returncode == 0, p.stderr
    assert "rel_err" in p.stdout and "stop_reason = max_iters" in p.stdout
    rows = [s.split()[0] for s in p.stdout.splitlines() if s.strip()[:1].isdigit()]
    assert rows == ["0", "20", "40", "60"]


def test_run_near_n_equals_d2_says_how_long_an_am_step_may_take():
    p = cli("run", "--d", "12", "--n", "150", "--alg", "am", "--iters", "2")
    assert p.returncode == 0, p.stderr
    assert "note: n/d^2 = 1.04" in p.stdout and "22,000 inner iterations" in p.stdout
    far = cli("run", "--d", "10", "--n", "600", "--alg", "am", "--iters", "2")
    assert far.returncode == 0 and "note:" not in far.stdout


def test_run_resample_noise_eta_multiple_and_problem_file(tmp_path):
    rng = np.random.default_rng(0)
    f = tmp_path / "p.npz"
    np.savez(f, W_star=0.1 * rng.standard_normal((4, 4)), v_star=np.ones(4), X=rng.standard_normal((200, 4)))
    p = cli("run", "--problem", str(f), "--n", "30", "--alg", "gd", "--eta", "0.5x", "--iters", "5",
            "--resample", "--noise", "0.1", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout.splitlines()[-1])["n_iter"] == 5


def test_theory_json_keys():
    p = cli("theory", "--d", "10", "--n", "800", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert THEORY_KEYS <= set(out)
    assert out["kappa"] > 1 and isinstance(out["assumption1_holds"], bool)
    assert out["rho3_unit_scale"] == pytest.approx(out["rho3_sum"] * 800 ** 0.5)
    for k, v in out.items():
        if v is None:
            assert isinstance(out.get(f"{k}_reason"), str), k
    for k in ("t_ratio_pred", "t_ratio_pred_tight", "t_ratio_local"):
        assert out[k] is None or isinstance(out[k], float)


def test_theory_json_at_the_bounds_hold_preset_has_a_number():
    p = cli("theory", "--d", "2", "--n", "4000", "--gamma", "0.01", "--json")
    out = json.loads(p.stdout)
    assert out["rho_gd"] < 1 and out["rho_am"] < 1 and isinstance(out["t_ratio_pred"], float)
    assert "t_ratio_pred_reason" not in out
    assert [r["key"] for r in out["ladder"]] == ["paper", "tight", "local"]


def test_theory_path_json_has_per_iterate_arrays_and_verdicts():
    p = cli("theory", "--d", "4", "--n", "300", "--gamma", "0.5", "--path", "--eps", "1e-6", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    for alg in ("gd", "am"):
        path = out["path"][alg]
        T = len(path["t"])
        assert all(len(path[k]) == T for k in ("sigma_min", "kappa", "rho3_sum", "rho3_rss", "rho3_norm_of_sum",
                                               "rho_gd", "rho_am", "rho_am_tight", "rel_err"))
        assert len(path["factor"]) == len(path["verdict_tight"]) == T - 1
        assert path["verdict_tight_counts"]["exceeded"] == 0
        assert path["sigma_min"][0] == pytest.approx(out["sigma_min"], rel=1e-12)
    keys = [r["key"] for r in out["ladder"]]
    assert keys == ["paper", "tight", "local", "tight_path", "measured"]
    measured = out["ladder"][-1]
    assert measured["t_am"] == len(out["path"]["am"]["t"]) - 1


def test_theory_table_says_vacuous():
    p = cli("theory")
    assert p.returncode == 0 and "vacuous" in p.stdout
    assert "kappa_inf" in p.stdout and "towards 1" not in p.stdout.replace("not towards 1", "")


def test_theory_table_edge_cases_say_the_right_words():
    """Issue 9: rho_3 = 0 at W^0 is not 'vacuous'; an infinite kappa is not 'vacuous' either."""
    p = cli("theory", "--d", "2", "--n", "40", "--gamma", "0.01")
    assert p.returncode == 0, p.stderr
    line = next(s for s in p.stdout.splitlines() if s.strip().startswith("t_ratio_pred "))
    assert "vacuous" not in line and "vacuous" not in p.stdout
    assert "lands on W* in one step" in p.stdout
    p = cli("theory", "--d", "10", "--n", "50")
    kappa = next(s for s in p.stdout.splitlines() if s.strip().startswith("kappa "))
    assert "vacuous" not in kappa and "kappa: sigma_min = 0" in p.stdout and "not a bound" in p.stdout


@pytest.mark.parametrize("args, flag", [
    (["run", "--gamma", "-1"], "--gamma"),
    (["run", "--d", "abc"], "--d"),
    (["run", "--d", "500"], "--d"),
    (["run", "--n", "0"], "--n"),
    (["run", "--delta", "1.5", "--init", "delta"], "--delta"),
    (["run", "--alg", "lbfgs"], "--alg"),
    (["run", "--init", "zeros"], "--init"),
    (["run", "--eta", "-3"], "--eta"),
    (["run", "--eta", "fast"], "--eta"),
    (["run", "--iters", "0"], "--iters"),
    (["run", "--tol", "2"], "--tol"),
    (["run", "--seed", "-5"], "--seed"),
    (["run", "--noise", "-1"], "--noise"),
    (["run", "--problem", "/nonexistent.npz"], "--problem"),
    (["run", "--every", "0"], "--every"),
    (["run", "--bogus"], "--bogus"),
    (["theory", "--eps", "0"], "--eps"),
    (["theory", "--path", "--max-spectra", "1"], "--max-spectra"),
    (["theory", "--path", "--gd-iters", "0"], "--gd-iters"),
    (["theory", "--eta", "fast"], "--eta"),
    (["run", "--d", "200", "--n", "1000000"], "memory budget"),
    (["run", "--memory-budget", "inf"], "--memory-budget"),
    (["run", "--memory-budget", "nan"], "--memory-budget"),
    (["theory", "--memory-budget", "1e300"], "--memory-budget"),
])
def test_bad_arguments_exit_2_with_one_line(args, flag):
    p = cli(*args)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and flag in lines[0], p.stderr
    assert "Traceback" not in p.stderr and p.stdout == ""


def test_no_command_exits_2():
    assert cli().returncode == 2


def test_theory_with_no_active_relu_says_why():
    p = cli("theory", "--d", "2", "--n", "1", "--gamma", "0.5", "--seed", "9")
    assert p.returncode == 0, p.stderr
    assert "B = 0" in p.stdout


def test_bad_problem_file_names_the_flag(tmp_path):
    f = tmp_path / "tiny.npz"
    np.savez(f, W_star=np.zeros((1, 1)), v_star=np.ones(1), X=np.ones((5, 1)))
    p = cli("run", "--problem", str(f))
    assert p.returncode == 2 and "argument --problem: problem file" in p.stderr
    assert "tiny.npz': W_star must be a square" in p.stderr
    big = tmp_path / "big.npz"
    np.savez(big, W_star=np.zeros((3, 3)), v_star=np.ones(3), X=np.zeros((400_000, 3)))
    p = cli("run", "--problem", str(big), "--memory-budget", "10")
    assert p.returncode == 2 and "more than the memory budget" in p.stderr and "big.npz" in p.stderr
