"""Shared fixtures. In CI (CI=true) a skipped test fails the run: a browser test
that silently skips is a test that does not exist."""
from __future__ import annotations

import os

import pytest


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
        if skipped:
            reporter.write_line(f"CI: {skipped} test(s) skipped; skipped tests fail CI.", red=True)
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
