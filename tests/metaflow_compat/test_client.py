"""The client reads runs as Metaflow 2.19's does: task metadata, parent and child tasks,
origins, mapping access that raises KeyError, ``Task.exception``'s fields, run tags, namespaces,
``get_metadata``/``metadata``, ``Metaflow()`` and the fields of ``DataArtifact``.

Every value is read back from real runs of :mod:`tests.metaflow_compat.flows.client_flows`.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from click.testing import CliRunner

import flowkit
from flowkit import (
    Flow,
    Metaflow,
    Run,
    Step,
    Task,
    default_namespace,
    get_metadata,
    get_namespace,
    metadata,
    namespace,
)
from flowkit.cli.main import cli
from flowkit.client import NamespaceMismatch, TaggingError
from flowkit.client.provider import default_metadata
from flowkit.settings import current_user
from flowkit.store import open_store
from flowkit.store.fsck import fsck
from tests.metaflow_compat.flows.client_flows import ClientFlow
from tests.runtime.test_shapes import Quiet

pytestmark = pytest.mark.slow

OTHER = "someone_else"


@dataclass(frozen=True)
class Runs:
    store: str
    ok: Run
    caught: Run
    failed: Run
    resumed: Run
    others: Run  # started by another user


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    store = str(tmp_path_factory.mktemp("client") / "store")
    namespace(None)  # the runs below start while the parent shows every run
    try:
        ok = flowkit.run(ClientFlow, store=store, progress=Quiet(), tags=["nightly"])
        caught = flowkit.run(ClientFlow, store=store, progress=Quiet(), fail="caught")
        with pytest.raises(flowkit.RunFailed) as failed:
            flowkit.run(ClientFlow, store=store, progress=Quiet(), fail="right")
        resumed = flowkit.resume(
            ClientFlow, store=store, progress=Quiet(), origin_run_id=failed.value.run.id, fail=""
        )
        before = os.environ.get("FLOWKIT_USER")
        os.environ["FLOWKIT_USER"] = OTHER
        try:
            others = flowkit.run(ClientFlow, store=store, progress=Quiet())
        finally:
            if before is None:
                del os.environ["FLOWKIT_USER"]
            else:
                os.environ["FLOWKIT_USER"] = before
    finally:
        default_namespace()
    return Runs(store, ok, caught, failed.value.run, resumed, others)


@pytest.fixture(autouse=True)
def _default_namespace_after() -> Iterator[None]:
    yield
    default_namespace()
    default_metadata()


def _each(run: Run, index: int) -> Task:
    (task,) = [t for t in run["each"] if t.index == index]
    return task


# -- Task.metadata -----------------------------------------------------------------------------


def test_task_metadata_says_what_the_records_know(runs: Runs) -> None:
    task = _each(runs.ok, 1)
    entries = task.metadata
    assert all(m.task is task and isinstance(m.created_at, int) for m in entries)
    assert all(m.type == m.name for m in entries if m.name != "attempt_ok")
    meta = task.metadata_dict
    assert meta["attempt"] == "0" and meta["attempt_ok"] == "True"
    assert [m.type for m in entries if m.name == "attempt_ok"] == ["internal_attempt_status"]
    assert meta["foreach-execution-path"] == "start:1"
    assert meta["ds-type"] == "local" and meta["ds-root"] == open_store(runs.store).url
    assert meta["user"] == current_user() and meta["runtime"] == "dev"
    assert meta["python_version"] == platform.python_version()
    assert meta["flowkit_version"] == flowkit.__version__
    assert meta["script-name"] == "client_flows.py"
    assert json.loads(meta["code-package"])["sha"] == runs.ok.record.code_digest
    assert "origin-run-id" not in meta  # the run resumed nothing
    assert "foreach-execution-path" not in runs.ok["start"].task.metadata_dict


def test_a_clone_has_its_origins_in_its_metadata(runs: Runs) -> None:
    start = runs.resumed["start"].task
    meta = start.metadata_dict
    assert meta["origin-run-id"] == runs.failed.id and meta["origin-task-id"] == start.id
    right = runs.resumed["right"].task  # ran again: its run's origin, no task origin
    assert right.metadata_dict["origin-run-id"] == runs.failed.id
    assert "origin-task-id" not in right.metadata_dict


def test_a_failed_attempt_says_so(runs: Runs) -> None:
    meta = runs.failed["right"].task.metadata_dict
    assert meta["attempt_ok"] == "False" and meta["failure"] == "error"


# -- parent and child tasks --------------------------------------------------------------------


def _ids(tasks: Iterator[Task]) -> list[str]:
    return sorted(t.pathspec for t in tasks)


def test_parent_and_child_tasks_through_foreach_and_joins(runs: Runs) -> None:
    run = runs.ok
    start, gather, end = run["start"].task, run["gather"].task, run["end"].task
    each = sorted(run["each"], key=lambda t: t.index or 0)
    assert _ids(start.child_tasks) == sorted(t.pathspec for t in each)
    assert list(start.parent_tasks) == []
    for task in each:
        assert _ids(task.parent_tasks) == [start.pathspec]
        assert _ids(task.child_tasks) == [gather.pathspec]
    assert _ids(gather.parent_tasks) == sorted(t.pathspec for t in each)
    sides = [run["left"].task.pathspec, run["right"].task.pathspec]
    assert _ids(gather.child_tasks) == sorted(sides)
    assert sorted(run["meet"].task.parent_task_pathspecs) == sorted(sides)
    assert list(end.parent_task_pathspecs) == [run["meet"].task.pathspec]
    assert list(end.child_tasks) == [] and all(isinstance(t, Task) for t in each[0].parent_tasks)


def test_parents_of_a_resumed_run_are_its_own_tasks(runs: Runs) -> None:
    meet = runs.resumed["meet"].task
    parents = list(meet.parent_tasks)
    assert {t.pathspec.split("/")[1] for t in parents} == {runs.resumed.id}
    left = runs.resumed["left"].task  # a clone: its record names the origin run's gather
    assert _ids(left.parent_tasks) == [runs.resumed["gather"].task.pathspec]


# -- origins -----------------------------------------------------------------------------------


def test_run_and_step_origin_pathspec(runs: Runs) -> None:
    origin = f"ClientFlow/{runs.failed.id}"
    assert runs.resumed.origin_pathspec == origin
    assert runs.resumed["right"].origin_pathspec == f"{origin}/right"
    assert runs.ok.origin_pathspec is None and runs.ok["start"].origin_pathspec is None
    assert runs.resumed["start"].task.origin_pathspec == (
        f"{origin}/start/{runs.resumed['start'].task.id}"
    )


# -- mapping access ----------------------------------------------------------------------------


def test_missing_names_raise_key_error_and_in_works(runs: Runs) -> None:
    run = runs.ok
    task = run["end"].task
    assert "answer" in task and "nope" not in task and "end" in run and "nope" not in run
    for missing in (
        lambda: task["nope"],
        lambda: run["nope"],
        lambda: run["each"]["nope"],
        lambda: Flow("ClientFlow", store=runs.store)["nope"],
    ):
        with pytest.raises(KeyError):
            missing()
    try:
        task["nope"]
    except KeyError as exc:
        assert "has no artifact 'nope'" in str(exc)
    with pytest.raises(AttributeError):
        task.data.nope  # noqa: B018
    assert not hasattr(task.data, "nope") and task["answer"].data == 120


# -- Task.exception ----------------------------------------------------------------------------


def test_exception_of_a_failed_task_has_metaflows_fields(runs: Runs) -> None:
    error = runs.failed["right"].task.exception
    assert error is not None
    assert error.type == "builtins.RuntimeError" and error.exception == "the right side broke"
    assert error.stacktrace is not None and error.stacktrace.startswith("Traceback")
    assert "client_flows.py" in error.stacktrace
    # flowkit's own fields stay
    assert (error.name, error.message, error.failure) == (
        "RuntimeError",
        "the right side broke",
        "error",
    )
    assert str(error) == "RuntimeError: the right side broke"


def test_no_exception_after_catch_handled_one(runs: Runs) -> None:
    caught = _each(runs.caught, 1)
    assert caught.caught and caught.successful and caught.exception is None
    assert caught.data.oops.exception == "two is caught"  # the @catch variable has it
    assert runs.caught["end"].task.exception is None and runs.caught.data.answer == 80
    assert runs.ok["end"].task.exception is None


# -- tags --------------------------------------------------------------------------------------


def test_system_and_user_tags(runs: Runs) -> None:
    run = Run(runs.ok.pathspec, store=runs.store)
    assert run.user_tags == {"nightly"}
    assert {f"user:{current_user()}", "runtime:dev"} <= run.system_tags
    assert f"python_version:{platform.python_version()}" in run.system_tags
    assert f"flowkit_version:{flowkit.__version__}" in run.system_tags
    assert any(t.startswith("date:") for t in run.system_tags)
    assert run.tags == run.user_tags | run.system_tags


def test_tags_change_as_metaflow_says(runs: Runs) -> None:
    run = Run(runs.caught.pathspec, store=runs.store)
    run.add_tag("a")
    run.add_tags(["b", "c"])
    run.remove_tag("b")
    run.remove_tag("never-there")  # removing a tag the run lacks does nothing
    run.replace_tag("c", "d")
    run.add_tag("runtime:dev")  # a system tag already: not added, no error
    assert run.user_tags == {"a", "d"}
    assert Run(run.pathspec, store=runs.store).user_tags == {"a", "d"}  # read back
    with pytest.raises(TaggingError, match="system tag"):
        run.remove_tag("runtime:dev")
    with pytest.raises(TaggingError, match="may not be a string"):
        run.add_tags("abc")
    with pytest.raises(TaggingError, match="empty"):
        run.add_tag("")
    # two writers that do not see each other's change lose neither
    first, second = (Run(run.pathspec, store=runs.store) for _ in range(2))
    first.add_tag("from-first")
    second.add_tag("from-second")
    assert {"from-first", "from-second"} <= Run(run.pathspec, store=runs.store).user_tags
    flow = Flow("ClientFlow", store=runs.store)
    assert [r.id for r in flow.runs("from-first", "a")] == [run.id]
    assert fsck(open_store(runs.store)).problems == []
    run.remove_tags(["a", "d", "from-first", "from-second"])
    assert Run(run.pathspec, store=runs.store).user_tags == frozenset()


def test_tag_cli_changes_and_lists_tags(runs: Runs) -> None:
    spec = runs.resumed.pathspec
    cli_runner = CliRunner()
    added = cli_runner.invoke(cli, ["tag", "add", spec, "x1", "x2", "--store", runs.store])
    assert added.exit_code == 0, added.output
    listed = cli_runner.invoke(cli, ["tag", "list", spec, "--store", runs.store])
    assert listed.exit_code == 0 and "x1" in listed.output and "runtime:dev" in listed.output
    removed = cli_runner.invoke(cli, ["tag", "remove", spec, "runtime:dev", "--store", runs.store])
    assert removed.exit_code != 0 and "system tag" in removed.output
    cli_runner.invoke(cli, ["tag", "replace", spec, "x1", "y1", "--store", runs.store])
    cli_runner.invoke(cli, ["tag", "remove", spec, "x2", "--store", runs.store])
    assert Run(spec, store=runs.store).user_tags == {"y1"}


# -- namespaces --------------------------------------------------------------------------------


def test_the_default_namespace_is_the_users_own_runs(runs: Runs) -> None:
    assert get_namespace() == f"user:{current_user()}"
    flow = Flow("ClientFlow", store=runs.store)
    mine = [runs.resumed.id, runs.failed.id, runs.caught.id, runs.ok.id]
    assert [r.id for r in flow] == mine  # newest first, without the other user's run
    assert flow.latest_run is not None and flow.latest_run.id == runs.resumed.id
    with pytest.raises(NamespaceMismatch, match=r"namespace\(None\)"):
        Run(runs.others.pathspec, store=runs.store)
    with pytest.raises(NamespaceMismatch):
        Task(runs.others["end"].task.pathspec, store=runs.store)
    with pytest.raises(NamespaceMismatch):
        flow[runs.others.id]
    assert runs.others.id in flow  # it is there, outside the namespace


def test_namespace_none_shows_every_run_and_a_tag_filters(runs: Runs) -> None:
    assert namespace(None) is None and get_namespace() is None
    flow = Flow("ClientFlow", store=runs.store)
    assert next(r.id for r in flow) == runs.others.id
    assert Run(runs.others.pathspec, store=runs.store).id == runs.others.id
    namespace(f"user:{OTHER}")
    assert [r.id for r in Flow("ClientFlow", store=runs.store)] == [runs.others.id]
    namespace("nightly")  # a user tag is a namespace too
    assert [r.id for r in Flow("ClientFlow", store=runs.store).runs()] == [runs.ok.id]
    namespace("user:nobody")
    with pytest.raises(NamespaceMismatch):
        Flow("ClientFlow", store=runs.store)
    assert Metaflow(store=runs.store).flows == []
    assert default_namespace() == f"user:{current_user()}"


def test_a_running_step_sees_the_default_namespace(runs: Runs) -> None:
    # the runs were started after namespace(None): the step saw the user's own namespace
    assert runs.ok["start"].task.data.seen_namespace == f"user:{current_user()}"


def test_flowkits_own_tools_do_not_filter_by_namespace(runs: Runs) -> None:
    namespace("user:nobody")
    listed = CliRunner().invoke(cli, ["runs", "ClientFlow", "--store", runs.store])
    assert listed.exit_code == 0 and runs.others.id in listed.output and runs.ok.id in listed.output
    shown = CliRunner().invoke(cli, ["show", runs.others.pathspec, "--store", runs.store])
    assert shown.exit_code == 0, shown.output


# -- get_metadata / metadata / Metaflow() -------------------------------------------------------


def test_metadata_selects_the_store_the_client_reads(runs: Runs) -> None:
    root = open_store(runs.store).url
    assert metadata(runs.store) == f"local@{root}" == get_metadata()
    assert Flow("ClientFlow").latest_run is not None  # no store= : the one chosen
    assert metadata(f"local@{runs.store}") == f"local@{root}"
    assert metadata("memory://elsewhere") == "memory@memory://elsewhere"
    with pytest.raises(flowkit.FlowkitError):
        Flow("ClientFlow")


def test_a_forked_process_reads_the_store_settings_not_its_parents_choice(
    runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWKIT_STORE", runs.store)
    metadata("memory://elsewhere")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a running step is forked so: it starts again from the settings
        os.write(write, get_metadata().encode())
        os._exit(0)
    os.close(write)
    said = os.read(read, 4096).decode()
    os.waitpid(pid, 0)
    os.close(read)
    assert said == f"local@{open_store(runs.store).url}"
    assert get_metadata() == "memory@memory://elsewhere"  # this process keeps its choice


def test_metaflow_lists_the_flows_in_the_namespace(runs: Runs) -> None:
    everything = Metaflow(store=runs.store)
    assert [f.id for f in everything.flows] == ["ClientFlow"] == [f.id for f in everything]
    assert everything["ClientFlow"].id == "ClientFlow" and repr(everything) == "Metaflow()"


# -- artifacts and runs ------------------------------------------------------------------------


def test_data_artifact_fields_and_run_shortcuts(runs: Runs) -> None:
    run = runs.ok
    end = run["end"].task
    answer = end["answer"]
    assert answer.data == 120 and answer.id == "answer"
    assert answer.pathspec == f"{end.pathspec}/answer"
    assert answer.sha == end.record.artifacts["answer"].digest
    assert answer.finished_at == end.finished_at and answer.finished_at is not None
    assert run.data is not None and run.data.answer == 120 and run.data.sides == ["left", "right"]
    assert run.finished_at is not None and run.finished_at >= run.created_at
    steps = [s.id for s in run]  # newest first, as Metaflow iterates a run
    assert steps[0] == "end" and steps[-1] == "start" and steps[-2] == "each"
    assert [s.id for s in run.graph_steps()][:3] == ["start", "each", "gather"]
    code = run.code
    assert code is not None and "class ClientFlow" in code.flow_source
    assert Step(f"{run.pathspec}/each", store=runs.store).finished_at is not None


def test_every_object_knows_its_parent_and_its_runs_tags(runs: Runs) -> None:
    run = runs.ok
    task = run["end"].task
    assert task.parent.pathspec == f"{run.pathspec}/end" and task.parent.parent.id == run.id
    assert run.parent.id == "ClientFlow" and task.path_components == task.pathspec.split("/")
    assert task.tags == run.tags == run["end"].tags and task.user_tags == {"nightly"}
    assert task.runtime_name == "dev" and "runtime:dev" in run["end"].system_tags
