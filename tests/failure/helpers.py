"""What the failure tests share: running a flow of tests/flows/failures.py as a user would,
``flowkit`` commands in a subprocess, and a store check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from flowkit.store import open_store
from flowkit.store.fsck import fsck
from tests.conftest import FLOWS, ROOT

FLOW_FILE = FLOWS / "failures.py"


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("FLOWKIT_")}
    return {**base, "PYTHONPATH": str(ROOT), **extra}


def flow_cli(
    flow: str, *args: str | Path, timeout: float = 60, **extra: str
) -> subprocess.CompletedProcess[str]:
    """``python tests/flows/failures.py ARGS`` for one of its flows."""
    return subprocess.run(
        [sys.executable, str(FLOW_FILE), *map(str, args)],
        cwd=ROOT,
        env=env(FLOWKIT_TEST_FLOW=flow, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def flowkit_cli(
    *args: str | Path, timeout: float = 60, **extra: str
) -> subprocess.CompletedProcess[str]:
    """The ``flowkit`` command, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "flowkit.cli.main", *map(str, args)],
        cwd=ROOT,
        env=env(**extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_sound(store_root: Path) -> None:
    """fsck finds nothing wrong, in Python and on the command line."""
    report = fsck(open_store(str(store_root)))
    assert report.problems == [], report.problems
    assert report.records > 0
    result = flowkit_cli("fsck", "--store", store_root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no problems found" in result.stdout


def attempts(store_root: Path, flow: str, step: str) -> list[list[tuple[str, str | None]]]:
    """``[(status, failure), ...]`` of every attempt, for each task of ``step`` in the
    flow's latest run."""
    store = open_store(str(store_root))
    run_id = store.records.list_runs(flow)[-1]
    return [
        [(a.status, a.failure) for a in store.records.task_attempts(flow, run_id, step, t.task_id)]
        for t in store.records.list_tasks(flow, run_id, step)
    ]


def letters_json(store_root: Path) -> list[dict[str, object]]:
    result = flowkit_cli("dlq", "list", "--json", "--store", store_root)
    assert result.returncode == 0, result.stderr
    data: list[dict[str, object]] = json.loads(result.stdout)
    return data
