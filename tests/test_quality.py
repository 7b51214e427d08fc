"""The tree stays lint-clean, formatted and type-checked: CI enforces what the brief asks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, require

#: Every extension package, each type-checked by its own configuration.
EXTENSIONS = sorted(p.parent for p in (ROOT / "extensions").glob("*/pyproject.toml"))
CODE = ["flowkit", "tests", "examples", "benchmarks", "extensions"]


@pytest.mark.parametrize(
    ("command", "where"),
    [
        (["ruff", "check", *CODE], ROOT),
        (["ruff", "format", "--check", *CODE], ROOT),
        (["mypy"], ROOT),
        *((["mypy"], extension) for extension in EXTENSIONS),
    ],
    ids=["ruff", "ruff-format", "mypy", *(f"mypy-{e.name}" for e in EXTENSIONS)],
)
def test_tool_is_clean(command: list[str], where: Path) -> None:
    require("mypy" if command[0] == "mypy" else "ruff")
    result = subprocess.run(
        [sys.executable, "-m", *command], cwd=where, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_extension_is_found() -> None:
    assert [e.name for e in EXTENSIONS] == ["flowkit-s3", "flowkit-slurm"]
