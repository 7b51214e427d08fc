"""Shared fixtures. Tests that need a service fail instead of skipping in CI."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
FLOWS = ROOT / "tests" / "flows"


def require(module: str) -> ModuleType:
    """Import ``module``, skipping the test when it is missing, unless CI says it must exist."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if os.environ.get("FLOWKIT_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{module} is required here (FLOWKIT_REQUIRE_SERVICES=1): {exc}")
        pytest.skip(f"{module} is not installed")


def run_python(
    *args: str | Path,
    cwd: Path = ROOT,
    timeout: float = 60,
    env: Mapping[str, str | None] | None = None,
    path: Sequence[Path] = (),
) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGS`` the way a user would, capturing its output: with this process's
    environment changed by ``env`` (a None value removes a variable) and the repo, then
    ``path``, on its PYTHONPATH."""
    changes = env or {}
    env = {k: v for k, v in {**os.environ, **changes}.items() if v is not None}
    env["PYTHONPATH"] = os.pathsep.join(map(str, [ROOT, *path]))
    return subprocess.run(
        [sys.executable, *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(autouse=True, scope="session")
def _code_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Workers of the test session (subprocesses too) extract runs' code packages into a
    folder of the session, not into the user's cache."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))


@pytest.fixture
def flows_dir() -> Path:
    return FLOWS
