"""A store holding real runs for the web UI's tests, made once per test session (one worker
makes it for all under xdist): a successful foreach run with a DataFrame, an array and an
image; a failed run with a dead letter, and its resumed run that succeeded."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from starlette.testclient import TestClient

import flowkit
from flowkit.store import Store, open_store
from flowkit.ui.app import create_app
from flowkit.ui.common import UiContext
from tests.flows.failures import FixableFlow
from tests.flows.ui import UiLiveFlow, UiShowcaseFlow
from tests.runtime.test_shapes import Quiet

T = TypeVar("T")


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


def api_client(path: Path) -> TestClient:
    """A client of the UI's API over the store at ``path``."""
    return TestClient(create_app(UiContext(open_store(str(path)))))


@pytest.fixture(scope="module")
def store(ui_store: UiStore) -> Store:
    return open_store(str(ui_store.path))


@pytest.fixture(scope="module")
def client(store: Store) -> Iterator[TestClient]:
    """The API over the ``ui_store``."""
    with TestClient(create_app(UiContext(store))) as client:
        yield client


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


@dataclass
class LiveRun:
    """UiLiveFlow running in a thread until ``open_gate``; its run id once it started."""

    store: Path
    gate: Path
    run_id: str
    thread: threading.Thread
    outcome: list[object]

    def open_gate(self) -> None:
        self.gate.touch()

    def wait_for_step(self, step: str) -> None:
        """Until ``step`` has a task in the store."""
        records = open_store(str(self.store)).records
        wait_for(
            lambda: bool(records.list_tasks("UiLiveFlow", self.run_id, step)),
            what=f"the live run's {step} step to start",
        )


@pytest.fixture
def live_run(tmp_path: Path) -> Iterator[LiveRun]:
    """UiLiveFlow running in a thread of the test's own store, once its run record exists;
    at the end its gate opens and the run must have ended, successfully."""
    store, gate = tmp_path / "store", tmp_path / "gate"
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(
                flowkit.run(UiLiveFlow, store=str(store), progress=Quiet(), gate=str(gate))
            )
        except BaseException as exc:  # the test reports it; a thread would swallow it
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        run_id = wait_for(lambda: _running_run(store), what="the live run to start")
        yield LiveRun(store, gate, run_id, thread, outcome)
    finally:
        gate.touch()
        thread.join(timeout=60)
    assert not thread.is_alive(), "the live run did not end after its gate opened"
    assert [type(o).__name__ for o in outcome] == ["Run"], outcome


def _running_run(store: Path) -> str | None:
    if not store.exists():
        return None
    record = next(open_store(str(store)).records.iter_runs("UiLiveFlow"), None)
    return None if record is None else record.run_id


def wait_for(probe: Callable[[], T | None], *, what: str, timeout: float = 60) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
