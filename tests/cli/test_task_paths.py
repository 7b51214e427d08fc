"""The one function every command taking a step or task pathspec uses (``flowkit logs``,
``flowkit card``, a flow file's ``dump``/``logs``/``card``)."""

from __future__ import annotations

from pathlib import Path

import pytest

import flowkit
from flowkit.cli.task_paths import task_at, tasks_at
from flowkit.store import open_store
from flowkit.store.errors import BadPathspecError
from tests.metaflow_compat.flows.runs_hello import RunsHelloFlow
from tests.runtime.test_shapes import Quiet


def test_a_step_names_its_tasks_and_one_task_only_if_it_ran_one(tmp_path: Path) -> None:
    run = flowkit.run(RunsHelloFlow, store=str(tmp_path), progress=Quiet())
    store = open_store(str(tmp_path))
    square = f"{run.pathspec}/square"
    tasks = tasks_at(square, store)
    assert sorted(t.data.value for t in tasks) == [1, 4, 9]
    assert [t.pathspec for t in tasks_at(tasks[0].pathspec, store)] == [tasks[0].pathspec]
    assert task_at(f"{run.pathspec}/start", store).data.doubled == 2
    with pytest.raises(BadPathspecError) as info:
        task_at(square, store)
    assert info.value.message == f"step {square} has 3 tasks, so it names no single task"
    assert info.value.hint.startswith(f"give the task too: {square}/TASK_ID")
    for pathspec, named in (("RunsHelloFlow", "flow"), (run.pathspec, "run")):
        with pytest.raises(BadPathspecError, match=f"names a {named}, not a task"):
            tasks_at(pathspec, store)
