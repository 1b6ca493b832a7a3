"""The numerics package stays importable in a notebook without the UI stack."""
import subprocess
import sys


def test_shallowres_imports_no_ui_or_dask():
    code = ("import sys, shallowres, shallowres.cli, shallowres.theory; "
            "bad = [m for m in ('streamlit', 'plotly', 'dask', 'distributed') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_wheel_installs_the_library_and_its_console_command(tmp_path):
    """Build a wheel, install it into a fresh virtual environment (its runtime dependencies come
    from the package index, or pip's cache), and run the ``shallowres`` command it installs."""
    import json
    import shutil
    import venv
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    src = tmp_path / "src"                          # build from a copy: setuptools writes build/ beside the source
    shutil.copytree(root / "shallowres", src / "shallowres", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(src)],
                   check=True, capture_output=True, text=True)
    (wheel,) = (tmp_path / "dist").glob("shallowres-*.whl")
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / ("Scripts" if sys.platform == "win32" else "bin")
    subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    str(wheel)], check=True, capture_output=True, text=True)
    out = subprocess.run([str(bin_dir / "shallowres"), "run", "--d", "5", "--n", "100", "--json"],
                         check=True, capture_output=True, text=True, cwd=tmp_path)
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["alg"] == "gd" and summary["n_iter"] >= 1 and 0 <= summary["rel_err"] < 1
    probe = subprocess.run([str(bin_dir / "python"), "-c",
                            "import shallowres, sys; print(shallowres.__file__); "
                            "sys.exit(any(m in sys.modules for m in ('streamlit', 'plotly')))"],
                           check=True, capture_output=True, text=True, cwd=tmp_path)
    assert str(env_dir) in probe.stdout                        # the installed copy, not the checkout
