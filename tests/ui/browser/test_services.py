"""Without Chromium the browser tests skip, except where CI says they must run
(FLOWKIT_REQUIRE_SERVICES=1): then they fail, naming what is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

#: One browser test; the ``browser`` fixture is the first it needs.
A_BROWSER_TEST = "tests/ui/browser/test_runs_page.py::test_clicking_a_run_opens_its_page"


def run_without_chromium(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    missing = tmp_path / "no-such-chromium"
    environ = {k: v for k, v in os.environ.items() if k != "FLOWKIT_REQUIRE_SERVICES"}
    environ |= {"FLOWKIT_TEST_CHROMIUM": str(missing), "PYTHONPATH": str(ROOT), **env}
    argv = [sys.executable, "-m", "pytest", A_BROWSER_TEST, "-rfEs", "-p", "no:cacheprovider"]
    argv += ["-p", "no:xdist", "--basetemp", str(tmp_path / "basetemp")]
    return subprocess.run(argv, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120)


def test_a_missing_chromium_skips_the_browser_tests(tmp_path: Path) -> None:
    done = run_without_chromium(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 skipped" in done.stdout
    assert f"FLOWKIT_TEST_CHROMIUM={tmp_path / 'no-such-chromium'} is not an executable" in (
        done.stdout
    )


def test_a_missing_chromium_fails_them_where_services_are_required(tmp_path: Path) -> None:
    done = run_without_chromium(tmp_path, FLOWKIT_REQUIRE_SERVICES="1")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 error" in done.stdout
    assert "Chromium is not installed" in done.stdout
    assert "FLOWKIT_REQUIRE_SERVICES=1" in done.stdout
