"""Bring-your-own data (issue 11, items 1-2) and hostile --problem files (issue 15, items 2-4).

Every crafted file class gives exit status 2 with one line naming --problem (through
``cli.main`` in-process, so the cases stay fast) and load_problem a ValueError; nothing
larger than the budget is read and pickled data are never executed.
"""
from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from shallowres import cli, load_problem, make_problem, problem_from_arrays, run
from shallowres.problem import ProblemFileError

D = 4


def unscaled(d=10, rows=1000, seed=1, **kw):
    """The convention of several public codes: X ~ N(0, 1) unscaled, W* = 0.3 G / sqrt(d), v* = ones."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, d))
    W = 0.3 * rng.standard_normal((d, d)) / np.sqrt(d)
    return problem_from_arrays(W, np.ones(d), X, **kw), X


# ----- item 1: the scale of the user's X -----------------------------------------------------

def test_test_set_and_noise_follow_the_scale_of_the_given_X():
    p, X = unscaled()
    assert p.sigma == pytest.approx(np.sqrt(np.mean(X**2)))
    assert 0.9 < p.sigma < 1.1 and np.std(p.X_test) == pytest.approx(p.sigma, rel=0.05)
    rec = run(p, "am", iters=1).records[0]
    # issue 11: train 0.191 against test 0.000173 (1000x) before; now the same scale
    assert 0.5 < rec.test_loss / rec.train_loss < 2, (rec.train_loss, rec.test_loss)
    noisy, _ = unscaled(noise=0.5)
    assert np.std(noisy.y - p.y) == pytest.approx(0.5 * p.sigma, rel=0.1)   # noise in units of X's scale


def test_generated_problems_keep_their_numbers():
    p = make_problem(d=6, n=300, noise=0.3, seed=2)
    assert p.sigma == 1 / np.sqrt(300) and p.batches is None
    X1, y1 = p.batch(1, resample=True)
    assert X1.shape == (300, 6) and not np.array_equal(X1, p.X)


def test_fresh_batches_are_rows_of_the_users_X_without_replacement():
    p, X = unscaled(rows=1000, noise=0.1, seed=3, n=100)
    assert p.n == 100 and p.batches == 10
    seen = set()
    rows = {r.tobytes() for r in X}
    for t in range(10):
        Xt, yt = p.batch(t, resample=True)
        assert Xt.shape == (100, 10)
        keys = [r.tobytes() for r in Xt]
        assert set(keys) <= rows                        # never a row outside the user's X
        assert not seen & set(keys)                     # never a row twice
        seen |= set(keys)
        clean = np.maximum(Xt @ (p.W_star + np.eye(10)), 0) @ p.v_star
        assert np.std(yt - clean) == pytest.approx(0.1 * p.sigma, rel=0.3)
    with pytest.raises(ValueError, match=r"^resample draws a fresh batch of n = 100 rows .* enough for 10 batches"):
        p.batch(10, resample=True)
    with pytest.raises(ValueError, match="use at most 9 iterations"):
        run(p, "gd", resample=True, iters=10)


def test_resample_on_user_data_keeps_the_scale_gd_step_fits():
    p, X = unscaled(rows=4000, seed=4, n=400)
    res = run(p, "gd", resample=True, iters=9)
    loss = res.history["train_loss"]
    # before: the fresh N(0, 1/n) batches dropped the loss 2000x at t = 1 and GD stalled
    assert 0.3 < loss[1] / loss[0] < 1
    assert res.rel_err < res.history["rel_err"][0]
    q, _ = unscaled(rows=1000, seed=4)
    with pytest.raises(ValueError, match="enough for the first batch only: choose n <= 500"):
        run(q, "gd", resample=True, iters=5)


def test_cli_resample_with_a_problem_file_needs_a_batch_size(tmp_path, capsys):
    rng = np.random.default_rng(0)
    f = tmp_path / "p.npz"
    np.savez(f, W_star=0.1 * rng.standard_normal((D, D)), v_star=np.ones(D), X=rng.standard_normal((200, D)))
    assert cli.main(["run", "--problem", str(f), "--resample", "--iters", "5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "argument --resample: resample draws a fresh batch" in err
    assert cli.main(["run", "--problem", str(f), "--d", "5"]) == 2
    assert "argument --problem:" in capsys.readouterr().err


# ----- item 2 and issue 15 item 3: the parameter named, never NumPy's words ----------------

def good(**over):
    rng = np.random.default_rng(0)
    args = dict(W_star=0.1 * rng.standard_normal((D, D)), v_star=np.array([1.0, -1, 1, 1]),
                X=rng.standard_normal((50, D)))
    args.update(over)
    return args


@pytest.mark.parametrize("over, match", [
    (dict(v_star=3 * np.array([1.0, -1, 1, 1])), r"v_star must hold only \+1 and -1 .* got 3 at index 0 and 3 more"),
    (dict(v_star=np.array([1.0, -1, 1, 1]) / 20), r"v_star must hold only \+1 and -1"),
    (dict(v_star=np.zeros(D)), r"v_star must hold only \+1 and -1 .* got 0 at index 0"),
    (dict(v_star=np.array([1, -1, 1, 1j])), "v_star must hold real numbers; got complex"),
    (dict(v_star=np.array([1.0, -1, 1, 1]) * 1e300), r"v_star must hold only \+1 and -1"),
    (dict(W_star=np.full((D, D), 1e300)), r"W_star must have a Frobenius norm .* in \[0, 100\]; got 4e\+300"),
    (dict(W_star=np.full((D, D), 1e150)), r"W_star must have a Frobenius norm .* got 4e\+150"),
    (dict(X=np.full((50, D), 1e300)), r"X must have a root-mean-square entry in \[1e-100, 1e\+100\]; got 1e\+300"),
    (dict(X=np.zeros((50, D))), r"X must have a root-mean-square entry .* \(all zero\)"),
    (dict(X=np.ones(50)), "X must be a 2-D array; got 1-D"),
    (dict(W_star=np.array([[0.1, "a"], [0, 0]], dtype=object)), "W_star must be a numeric array .* dtype object"),
    (dict(W_star=[[0.1, 0.2], [0.3]]), "W_star must be a rectangular numeric array; got ragged"),
    (dict(W_star="0.1 0.2"), "W_star must be a numeric array; got a string"),
    (dict(X=[["1", "2", "3", "4"]]), "X must be a numeric array .* dtype <U1"),
    (dict(X_test=np.ones((3, 5))), r"X_test must be an array of shape any x 4"),
    (dict(n=51), r"n must be an integer in \[1, 50\]"),
])
def test_bad_arrays_raise_valueerror_naming_the_parameter(over, match):
    with pytest.raises(ValueError, match=match):
        problem_from_arrays(**good(**over))


def test_v_star_of_signs_is_accepted_in_any_numeric_type():
    p = problem_from_arrays(**good(v_star=np.array([1, -1, 1, 1], dtype=np.int8)))
    assert p.v_star.dtype == float and set(p.v_star) == {-1.0, 1.0}


def test_load_problem_of_a_non_path_is_a_valueerror():
    for bad in (123, None, b"\0x", ["a.npz"]):
        with pytest.raises(ValueError, match="problem must be a path to an .npz file"):
            load_problem(bad)


def test_tiny_eta_is_blamed_not_the_gradient():
    p = make_problem(d=5, n=200, seed=1)
    res = run(p, "gd", eta=1e-300, iters=10)
    assert res.stop_reason == "fixed_point"
    assert "gradient is zero" not in res.message
    assert "step η = 1e-300 is too small" in res.message and "gradient is not zero" in res.message


# ----- crafted --problem files -------------------------------------------------------------

def npy_bytes(a: np.ndarray | None = None, header: dict | None = None, data: bytes | None = None) -> bytes:
    """An .npy member: a real array, or a hand-made header followed by ``data``."""
    buf = io.BytesIO()
    if header is None:
        np.lib.format.write_array(buf, a, allow_pickle=True)
        return buf.getvalue()
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + (data or b"")


def hdr(shape, descr="<f8"):
    return dict(descr=descr, fortran_order=False, shape=shape)


def npz(path, members: dict[str, bytes], compression=zipfile.ZIP_STORED) -> str:
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return str(path)


def valid_members(**over) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    m = {"W_star.npy": npy_bytes(0.1 * rng.standard_normal((D, D))), "v_star.npy": npy_bytes(np.ones(D)),
         "X.npy": npy_bytes(rng.standard_normal((40, D)))}
    m.update(over)
    return {k: v for k, v in m.items() if v is not None}


class Payload:
    """Unpickling this would create a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def crafted(tmp_path) -> dict[str, tuple[str, str]]:
    """name -> (path, words the message must contain)."""
    ok = npz(tmp_path / "ok.npz", valid_members())
    raw = Path(ok).read_bytes()
    cases = {}

    def add(name, path, words):
        cases[name] = (str(path), words)

    add("missing", tmp_path / "nope.npz", "cannot be read (No such file or directory)")
    add("directory", tmp_path, "is not a regular file")
    add("dev_zero", "/dev/zero", "is not a regular file")
    (tmp_path / "empty.npz").write_bytes(b"")
    add("empty", tmp_path / "empty.npz", "is empty")
    (tmp_path / "text.npz").write_text("W_star = [[1, 2], [3, 4]]\n")
    add("text", tmp_path / "text.npz", "is not an .npz (zip) archive (it starts with b'W_star'")
    np.save(tmp_path / "one.npy", np.ones((3, 3)))
    add("npy_file", tmp_path / "one.npy", "is a .npy file (one array)")
    (tmp_path / "trunc.npz").write_bytes(raw[: len(raw) // 2])
    add("truncated_zip", tmp_path / "trunc.npz", "is not a readable .npz archive (truncated or damaged")
    (tmp_path / "zeros.npz").write_bytes(b"PK" + bytes(5000))
    add("bad_zip", tmp_path / "zeros.npz", "is not a readable .npz archive")
    add("lacks_X", npz(tmp_path / "lacks.npz", valid_members(**{"X.npy": None})), "it lacks X")
    add("bad_magic", npz(tmp_path / "magic.npz", valid_members(**{"W_star.npy": b"NOTNUMPY" + bytes(200)})),
        "member W_star.npy:")
    obj = np.empty(D, dtype=object)
    obj[:] = [Payload(str(tmp_path / "PWNED"))] * D
    add("object_array", npz(tmp_path / "obj.npz", valid_members(**{"v_star.npy": npy_bytes(obj)})),
        "member v_star.npy: it holds object (pickled) data")
    add("complex", npz(tmp_path / "cplx.npz", valid_members(**{"X.npy": npy_bytes(np.ones((40, D)) * 1j)})),
        "member X.npy: it holds dtype complex128")
    add("structured", npz(tmp_path / "rec.npz", valid_members(
        **{"X.npy": npy_bytes(header=dict(descr=[("a", "<f8")], fortran_order=False, shape=(40,)),
                              data=bytes(320))})), "member X.npy: it holds dtype")
    add("negative_shape", npz(tmp_path / "neg.npz", valid_members(
        **{"X.npy": npy_bytes(header=hdr((-40, D)), data=bytes(8 * 40 * D))})), "invalid shape (-40, 4)")
    add("huge_shape_W", npz(tmp_path / "hugeW.npz", valid_members(
        **{"W_star.npy": npy_bytes(header=hdr((10**9, 10**9)), data=bytes(64))})),
        "W_star must be a square d x d array, d an integer in [2, 200]; the file declares shape (1000000000")
    add("huge_shape_v", npz(tmp_path / "hugev.npz", valid_members(
        **{"v_star.npy": npy_bytes(header=hdr((10**12,)), data=bytes(64))})),
        "v_star must be an array of shape 4; the file declares shape (1000000000000,)")
    add("huge_rows_X", npz(tmp_path / "hugeX.npz", valid_members(
        **{"X.npy": npy_bytes(header=hdr((10**10, D)), data=bytes(64))})),
        "X must have 1 to 10^6 rows; the file declares 10000000000")
    add("one_d_X", npz(tmp_path / "x1.npz", valid_members(**{"X.npy": npy_bytes(np.ones(40))})),
        "X must be a 2-D array; the file declares shape (40,)")
    add("short_data", npz(tmp_path / "short.npz", valid_members(
        **{"X.npy": npy_bytes(header=hdr((40, D)), data=bytes(100))})),
        "member X.npy is truncated: its header declares")
    add("long_data", npz(tmp_path / "long.npz", valid_members(
        **{"W_star.npy": npy_bytes(header=hdr((D, D)), data=bytes(8 * D * D + 4096))})),
        "member W_star.npy is longer than declared")
    big = npy_bytes(header=hdr((D, D)), data=bytes(50 * 2**20))       # a 50 MB member of zeros ...
    add("bomb", npz(tmp_path / "bomb.npz", valid_members(**{"v_star.npy": big}), zipfile.ZIP_DEFLATED),
        "v_star must be a 1-D array; the file declares shape (4, 4)")  # ... 50 kB compressed, never inflated
    add("bomb_matching_shape", npz(tmp_path / "bomb2.npz", valid_members(**{"W_star.npy": big}),
                                   zipfile.ZIP_DEFLATED), "member W_star.npy is longer than declared")
    huge_header = npy_bytes(header=dict(hdr((D, D)), pad="x" * 20000), data=bytes(8 * D * D))
    add("huge_header", npz(tmp_path / "hh.npz", valid_members(**{"W_star.npy": huge_header})),
        "member W_star.npy: Header info length (20150) is large")
    add("bad_v_values", npz(tmp_path / "v3.npz", valid_members(**{"v_star.npy": npy_bytes(3 * np.ones(D))})),
        r"v_star must hold only +1 and -1")
    add("nan_X", npz(tmp_path / "nan.npz", valid_members(**{"X.npy": npy_bytes(np.full((40, D), np.nan))})),
        "X must hold finite numbers")
    add("big_W", npz(tmp_path / "bigW.npz", valid_members(**{"W_star.npy": npy_bytes(np.full((D, D), 1e300))})),
        "W_star must have a Frobenius norm")
    return cases


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return crafted(tmp_path_factory.mktemp("crafted"))


CASES = ["missing", "directory", "dev_zero", "empty", "text", "npy_file", "truncated_zip", "bad_zip", "lacks_X",
         "bad_magic", "object_array", "complex", "structured", "negative_shape", "huge_shape_W", "huge_shape_v",
         "huge_rows_X", "one_d_X", "short_data", "long_data", "bomb", "bomb_matching_shape", "huge_header",
         "bad_v_values", "nan_X", "big_W"]


@pytest.mark.parametrize("case", CASES)
def test_every_crafted_file_is_one_line_exit_2_naming_problem(case, files, capsys):
    path, words = files[case]
    assert cli.main(["run", "--problem", path, "--iters", "2"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err.count("\n") == 1, out.err
    assert out.err.startswith("python -m shallowres run: error: argument --problem: problem ")
    assert words in out.err, out.err
    assert len(out.err) < 600                       # never the whole input echoed back
    with pytest.raises(ProblemFileError):
        load_problem(path)
    assert not os.path.exists(os.path.join(os.path.dirname(files["object_array"][0]), "PWNED"))


def test_the_crafted_list_covers_every_case(files):
    assert sorted(files) == sorted(CASES)


def test_odd_member_names_are_ignored_and_a_valid_file_loads(tmp_path):
    m = valid_members(**{"../../escape.npy": npy_bytes(np.ones(3)), "W_star": b"junk", "notes.txt": b"hi",
                         "X_extra.npy": pickle.dumps([1, 2])})
    p = load_problem(npz(tmp_path / "odd.npz", m))
    assert p.d == D and p.n == 40


def test_the_memory_budget_is_checked_from_the_headers(tmp_path, capsys):
    rows = 300_000        # 300k x 4 float64 = 9.6 MB stored, 19 MB with its float64 copy
    f = npz(tmp_path / "big.npz", valid_members(**{"X.npy": npy_bytes(header=hdr((rows, D)),
                                                                         data=bytes(8 * rows * D))}))
    assert cli.main(["run", "--problem", f, "--memory-budget", "10"]) == 2
    err = capsys.readouterr().err
    assert "argument --problem:" in err and "more than the memory budget of 10 MB" in err
