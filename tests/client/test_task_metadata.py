"""``Task.metadata`` across attempts, and the client's store selection, on fake runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flowkit.client import Run, Task, default_metadata, get_metadata, metadata
from flowkit.client.provider import describe
from flowkit.store import open_store

from .conftest import Runs


@pytest.fixture(autouse=True)
def _default_metadata_after() -> Iterator[None]:
    yield
    default_metadata()


def test_metadata_has_every_attempt_and_the_dict_the_latest(runs: Runs) -> None:
    end = Run(f"TrainFlow/{runs.good.run_id}", store=runs.store)["end"].task
    entries = end.metadata
    assert [m.value for m in entries if m.name == "attempt"] == ["0", "1"]
    assert [m.value for m in entries if m.name == "attempt_ok"] == ["False", "True"]
    assert [m.value for m in entries if m.name == "exit_code"] == ["1", "0"]
    assert end.metadata_dict["attempt"] == "1" and end.metadata_dict["attempt_ok"] == "True"
    first = Task(end.pathspec, store=runs.store, attempt=0)
    assert [m.value for m in first.metadata if m.name == "attempt"] == ["0"]
    assert first.metadata_dict["attempt_ok"] == "False"


def test_a_running_task_has_no_end_entries(runs: Runs) -> None:
    running = runs.store.records.start_task("TrainFlow", runs.running.run_id, "next")
    task = Task(running.pathspec, store=runs.store)
    assert {m.name for m in task.metadata} >= {"attempt", "ds-type", "host", "pid"}
    assert "attempt_ok" not in task.metadata_dict


def test_get_metadata_names_the_store_as_metaflow_does(runs: Runs) -> None:
    assert describe(runs.store) == f"local@{runs.store.url}"
    assert describe(open_store("memory://named")) == "memory@memory://named"
    assert metadata(runs.store.url) == f"local@{runs.store.url}" == get_metadata()
    assert Run(f"TrainFlow/{runs.good.run_id}").id == runs.good.run_id  # no store= given
