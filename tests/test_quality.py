"""The tree stays lint-clean, formatted and type-checked: CI enforces what the brief asks."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT, require


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "flowkit", "tests", "examples"],
        ["ruff", "format", "--check", "flowkit", "tests", "examples"],
        ["mypy"],
    ],
    ids=["ruff", "ruff-format", "mypy"],
)
def test_tool_is_clean(command: list[str]) -> None:
    require("mypy" if command[0] == "mypy" else "ruff")
    result = subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
