"""Starting a run: whatever stops it between its record and its scheduler, it ends recorded,
with its heartbeat stopped, its warm worker closed and its view closed."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

import flowkit
from flowkit.executor.registry import Executors
from flowkit.runtime.scheduler import Scheduler
from flowkit.store import open_store
from tests.conftest import require
from tests.flows.linear import LinearFlow
from tests.runtime.test_shapes import Quiet


class Closed(Quiet):
    """A progress sink that remembers being closed."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = False

    def close(self) -> None:
        self.closed = True


def _heartbeats() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "flowkit-heartbeat"]


@pytest.mark.parametrize(
    ("interrupt", "status", "message"),
    [
        (KeyboardInterrupt(), "cancelled", "cancelled by the user before it started"),
        (RuntimeError("no scheduler"), "failed", "the run could not start: no scheduler"),
    ],
)
def test_a_run_stopped_before_its_scheduler_runs_ends_cleanly(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    interrupt: BaseException,
    status: str,
    message: str,
) -> None:
    psutil = require("psutil")
    before = {p.pid for p in psutil.Process().children(recursive=True)}

    def stopped(self: Scheduler, **kwargs: Any) -> None:
        raise interrupt

    monkeypatch.setattr(Scheduler, "__init__", stopped)
    sink = Closed()
    with pytest.raises(type(interrupt)):
        flowkit.run(LinearFlow, store=str(tmp_path), progress=sink, base=1)
    run = flowkit.Flow("LinearFlow", store=str(tmp_path)).latest_run
    end = open_store(str(tmp_path)).records.get_run_end("LinearFlow", run.id)
    assert end is not None and (end.status, end.message) == (status, message)
    assert run.status == status
    assert _heartbeats() == [] and sink.closed
    left = [
        p
        for p in psutil.Process().children(recursive=True)
        if p.pid not in before and p.status() != psutil.STATUS_ZOMBIE
    ]
    assert left == [], "the warm worker outlived the run"


def test_the_view_closes_even_if_closing_an_executor_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    close = Executors.close

    def failing(self: Executors, **options: Any) -> None:
        close(self, **options)
        raise OSError("the backend hung up")

    monkeypatch.setattr(Executors, "close", failing)
    sink = Closed()
    with pytest.raises(OSError, match="the backend hung up"):
        flowkit.run(LinearFlow, store=str(tmp_path), progress=sink, base=1)
    assert sink.closed and _heartbeats() == []
    assert flowkit.Flow("LinearFlow", store=str(tmp_path)).latest_run.status == "succeeded"
