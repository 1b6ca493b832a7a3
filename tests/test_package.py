"""The numerics package stays importable in a notebook without the UI stack."""
import subprocess
import sys


def test_shallowres_imports_no_ui_or_dask():
    code = ("import sys, shallowres, shallowres.cli, shallowres.theory; "
            "bad = [m for m in ('streamlit', 'plotly', 'dask', 'distributed') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
