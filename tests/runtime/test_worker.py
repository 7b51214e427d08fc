"""``python -m flowkit.worker`` runs a task from the store alone: the remote executors' path."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import flowkit
from flowkit.store import open_store
from flowkit.task.code import code_ref_for
from flowkit.task.spec import StepContract, TaskSpec
from tests.conftest import ROOT, require, run_python
from tests.flows.gated import GatedFlow
from tests.flows.linear import LinearFlow
from tests.flows.session_children import SessionChildrenFlow
from tests.runtime.test_shapes import Quiet


def _spec_after_start(tmp_path: Path, flow: type, step: str, **params: Any) -> TaskSpec:
    """A spec for ``step`` (which follows ``start``) in a run of ``flow`` that just ran."""
    run = flowkit.run(flow, store=str(tmp_path), progress=Quiet(), **params)
    store = open_store(str(tmp_path))
    start = run["start"].task
    graph = flowkit.graph_of(flow)
    stored = {
        name: (ref.digest, ref.size, ref.type)
        for name, ref in store.records.get_task(
            graph.name, run.id, "start", start.id
        ).artifacts.items()
        if name in {p.attr for p in graph.parameters}
    }
    return TaskSpec(
        store=str(tmp_path),
        flow=graph.name,
        run_id=run.id,
        step=step,
        task_id=store.records.new_task_id(),
        attempt=0,
        code=code_ref_for(flow, store),
        contract=StepContract.of(graph[step]),
        inputs=(f"start/{start.id}/0",),
        parameters=stored,
    )


def _spec_for_step_a(tmp_path: Path) -> tuple[TaskSpec, str]:
    spec = _spec_after_start(tmp_path, LinearFlow, "a", base=10)
    return spec, spec.run_id


def test_worker_runs_one_task_from_the_store(tmp_path: Path) -> None:
    spec, run_id = _spec_for_step_a(tmp_path)
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(spec.to_json())
    result = run_python("-m", "flowkit.worker", spec_file)
    assert result.returncode == 0, result.stderr
    record = open_store(str(tmp_path)).records.get_task("LinearFlow", run_id, "a", spec.task_id)
    assert record.successful and record.next_steps == ("b",)
    task = flowkit.Task(record.pathspec, store=str(tmp_path))
    assert task.data.total == 12 and task.data.seen == ["start", "a"]


def test_worker_runs_a_stored_spec_from_the_store_path_it_is_given(tmp_path: Path) -> None:
    """The spec names the store as the machine that wrote it reached it; a cluster node
    mounts the same folder elsewhere and passes that path."""
    (tmp_path / "disk").mkdir()
    (tmp_path / "head").symlink_to(tmp_path / "disk")
    spec, run_id = _spec_for_step_a(tmp_path / "head")
    key = open_store(str(tmp_path / "head")).put_spec(spec.to_json())
    (tmp_path / "head").unlink()  # not mounted there on the node
    (tmp_path / "node").symlink_to(tmp_path / "disk")
    result = run_python("-m", "flowkit.worker", tmp_path / "node", key)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "head").exists(), "the worker used the spec's store path"
    record = open_store(str(tmp_path / "disk")).records.get_task(
        "LinearFlow", run_id, "a", spec.task_id
    )
    assert record.successful and record.next_steps == ("b",)
    task = flowkit.Task(record.pathspec, store=str(tmp_path / "disk"))
    assert task.data.total == 12 and task.data.seen == ["start", "a"]


def test_an_array_element_runs_the_task_its_index_picks(tmp_path: Path) -> None:
    spec, run_id = _spec_for_step_a(tmp_path)
    store = open_store(str(tmp_path))
    other = store.put_spec('{"not": "run"}')
    listed = store.put_task_list([other, store.put_spec(spec.to_json())])
    argv = ("-m", "flowkit.worker", "--quiet", "--index-from", "ARRAY_INDEX", tmp_path, listed)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ARRAY_INDEX": "1"}
    result = subprocess.run(
        [sys.executable, *map(str, argv)], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    record = store.records.get_task("LinearFlow", run_id, "a", spec.task_id)
    assert record.successful
    for index, said in [("2", "'2', not an index of the 2 tasks"), ("", "'', not an index")]:
        bad = subprocess.run(
            [sys.executable, *map(str, argv)],
            env={**env, "ARRAY_INDEX": index},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert bad.returncode == 2 and f"$ARRAY_INDEX is {said}" in bad.stderr, bad.stderr
    not_a_list = run_python("-m", "flowkit.worker", "--index-from", "X", tmp_path, other)
    assert not_a_list.returncode == 2
    assert "is not a list of task specs" in not_a_list.stderr


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("0" * 64, "no task spec '{key}' in the store at {store}"),
        ("spec.json", "'{key}' is not a task spec key (64 hex digits) for the store at {store}"),
    ],
)
def test_worker_says_which_key_it_did_not_find_where(
    tmp_path: Path, key: str, message: str
) -> None:
    result = run_python("-m", "flowkit.worker", tmp_path, key)
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {message.format(key=key, store=tmp_path)}\n    hint: give the key the "
        "executor stored the task's spec under (Store.put_spec), and the store it used, as "
        "this machine reaches it\n"
    )


def test_worker_records_a_crash_the_task_could_not(tmp_path: Path) -> None:
    spec, run_id = _spec_for_step_a(tmp_path)
    broken = replace(spec, inputs=("start/does-not-exist/0",))
    result = run_python("-m", "flowkit.worker", broken.to_json())
    assert result.returncode == 1
    record = open_store(str(tmp_path)).records.get_task("LinearFlow", run_id, "a", spec.task_id)
    assert record.status == "failed" and record.exception is not None
    assert "does-not-exist" in record.exception.message
    assert json.loads(broken.to_json())["step"] == "a"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="tracked on Linux only")
def test_the_processes_a_task_started_end_with_it(tmp_path: Path) -> None:
    psutil = require("psutil")
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    spec = _spec_after_start(tmp_path / "s", SessionChildrenFlow, "spawn", pid_dir=str(pid_dir))
    for old in pid_dir.glob("*.pid"):
        old.unlink()  # the run's own task wrote these
    result = run_python("-m", "flowkit.worker", spec.to_json())
    assert result.returncode == 0, result.stderr
    pids = [int(p.read_text()) for p in pid_dir.glob("*.pid")]
    assert len(pids) == 2
    alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    assert alive == [], "a process the task started in a session of its own outlived it"


@pytest.mark.parametrize("quiet", [False, True])
def test_quiet_stores_the_tasks_output_but_prints_none_of_it(tmp_path: Path, quiet: bool) -> None:
    spec = _spec_after_start(tmp_path, GatedFlow, "middle", value=7)
    key = open_store(str(tmp_path)).put_spec(spec.to_json())
    result = run_python("-m", "flowkit.worker", *(["--quiet"] if quiet else []), tmp_path, key)
    assert result.returncode == 0, result.stderr
    record = open_store(str(tmp_path)).records.get_task(
        "GatedFlow", spec.run_id, "middle", spec.task_id
    )
    assert record.successful
    assert flowkit.Task(record.pathspec, store=str(tmp_path)).stdout == "middle 7\n"
    if quiet:
        assert (result.stdout, result.stderr) == ("", "")
    else:
        assert "middle 7" in result.stdout
