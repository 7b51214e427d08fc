"""``python -m flowkit.worker`` runs a task from the store alone: the remote executors' path."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import flowkit
from flowkit.store import open_store
from flowkit.task.code import code_ref_for
from flowkit.task.spec import StepContract, TaskSpec
from tests.conftest import run_python
from tests.flows.linear import LinearFlow
from tests.runtime.test_shapes import Quiet


def _spec_for_step_a(tmp_path: Path) -> tuple[TaskSpec, str]:
    run = flowkit.run(LinearFlow, store=str(tmp_path), progress=Quiet(), base=10)
    store = open_store(str(tmp_path))
    start = run["start"].task
    graph = flowkit.graph_of(LinearFlow)
    params = {
        name: (ref.digest, ref.size, ref.type)
        for name, ref in store.get_task("LinearFlow", run.id, "start", start.id).artifacts.items()
        if name == "base"
    }
    spec = TaskSpec(
        store=str(tmp_path),
        flow="LinearFlow",
        run_id=run.id,
        step="a",
        task_id=store.new_task_id(),
        attempt=0,
        code=code_ref_for(LinearFlow, store),
        contract=StepContract.of(graph["a"]),
        inputs=(f"start/{start.id}/0",),
        parameters=params,
    )
    return spec, run.id


def test_worker_runs_one_task_from_the_store(tmp_path: Path) -> None:
    spec, run_id = _spec_for_step_a(tmp_path)
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(spec.to_json())
    result = run_python("-m", "flowkit.worker", spec_file)
    assert result.returncode == 0, result.stderr
    record = open_store(str(tmp_path)).get_task("LinearFlow", run_id, "a", spec.task_id)
    assert record.successful and record.next_steps == ("b",)
    task = flowkit.Task(record.pathspec, store=str(tmp_path))
    assert task.data.total == 12 and task.data.seen == ["start", "a"]


def test_worker_records_a_crash_the_task_could_not(tmp_path: Path) -> None:
    spec, run_id = _spec_for_step_a(tmp_path)
    broken = replace(spec, inputs=("start/does-not-exist/0",))
    result = run_python("-m", "flowkit.worker", broken.to_json())
    assert result.returncode == 1
    record = open_store(str(tmp_path)).get_task("LinearFlow", run_id, "a", spec.task_id)
    assert record.status == "failed" and record.exception is not None
    assert "does-not-exist" in record.exception.message
    assert json.loads(broken.to_json())["step"] == "a"
