"""A store holding real runs for the web UI's tests, made once per test session (one worker
makes it for all under xdist): a successful foreach run with a DataFrame, an array and an
image; a failed run with a dead letter, and its resumed run that succeeded."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

import flowkit
from tests.flows.failures import FixableFlow
from tests.flows.ui import UiShowcaseFlow
from tests.runtime.test_shapes import Quiet


@dataclass(frozen=True)
class UiStore:
    """Where the store is and the ids of the runs in it."""

    path: Path
    #: UiShowcaseFlow's run: width 4 (start -> 4 x train -> join -> end), label "baseline".
    showcase: str
    #: A second UiShowcaseFlow run: width 6, label "wider" (what run comparisons compare).
    wider: str
    #: FixableFlow's run whose ``work`` failed on both attempts (a dead letter).
    failed: str
    #: The resume of ``failed`` with the fix, which succeeded.
    resumed: str


@pytest.fixture(scope="session")
def ui_store(tmp_path_factory: pytest.TempPathFactory) -> UiStore:
    """Made once per test session: under ``pytest -n N`` the first worker to need it makes
    it while the others wait, then all read it (nothing writes to it; a test that writes
    copies it first)."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the session's folder, above each worker's own
    folder = shared / "ui-store"
    with (shared / "ui-store.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        made = folder / "runs.json"
        if not made.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a worker that failed making it
            ids = _make_runs(str(folder / "store"))
            made.write_text(json.dumps(ids))
        return UiStore(folder / "store", *json.loads(made.read_text()))


def _make_runs(store: str) -> list[str]:
    """Run the flows: the ids of the showcase, wider, failed and resumed runs."""
    showcase = flowkit.run(UiShowcaseFlow, store=store, progress=Quiet())
    wider = flowkit.run(UiShowcaseFlow, store=store, progress=Quiet(), width=6, label="wider")
    with pytest.raises(flowkit.RunFailed) as failed:
        flowkit.run(FixableFlow, store=store, progress=Quiet())
    os.environ["FLOWKIT_TEST_FIXED"] = "1"
    try:
        resumed = flowkit.resume(FixableFlow, store=store, progress=Quiet())
    finally:
        del os.environ["FLOWKIT_TEST_FIXED"]
    return [showcase.id, wider.id, failed.value.run.id, resumed.id]
