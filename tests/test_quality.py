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
    assert [e.name for e in EXTENSIONS] == [
        "flowkit-aws-batch",
        "flowkit-mlflow",
        "flowkit-s3",
        "flowkit-slurm",
    ]


def test_no_test_module_imports_a_conftest() -> None:
    # The extensions' test folders are not packages, so each conftest.py is imported as the
    # module "conftest": a test that imports from it may get another extension's.
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "extensions").glob("*/tests/*.py"))
        if any(
            line.startswith(("from conftest import", "import conftest"))
            for line in path.read_text().splitlines()
        )
    ]
    assert offenders == []
