"""``@catch``, ``@timeout`` and crashes keep what Metaflow 2.19 keeps: the artifacts a step
set before it failed go on next to the ``@catch`` variable (those of its last attempt), the
variable reads as Metaflow's ``MetaflowExceptionWrapper`` and is None when the step
succeeded, tasks after a caught failure report no exception, a timeout interrupts the step
where it stands, and a step that dies of a signal says so in its log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import flowkit
from flowkit.cards import get_cards
from flowkit.cli.main import cli
from flowkit.runtime.events import TaskEvent, TaskOutput
from flowkit.store import TaskRecord, open_store
from flowkit.surfaces.layout import ASCII, task_text
from flowkit.task.caught import CaughtFailure
from flowkit.task.code import code_ref_for
from flowkit.task.spec import StepContract, TaskSpec
from tests.failure.helpers import attempts, env
from tests.metaflow_compat.flows.catch_flows import (
    CatchForeachFlow,
    CatchLinearFlow,
    CaughtSegfaultFlow,
    FailingFlow,
    OwnErrorFlow,
    SignalFlow,
    TimeoutCardFlow,
    TimeoutCatchFlow,
    UnpicklableCatchFlow,
)
from tests.runtime.test_shapes import Quiet

FLOW_FILE = Path(__file__).parent / "flows" / "catch_flows.py"


def _record(store: Path, run: Any, step: str) -> TaskRecord:
    task = run[step].task
    record = open_store(str(store)).records.get_task("CatchLinearFlow", run.id, step, task.id)
    assert record is not None
    return record


def test_catch_keeps_what_the_last_attempt_set(tmp_path: Path) -> None:
    run = flowkit.run(CatchLinearFlow, store=str(tmp_path), progress=Quiet())
    assert run.successful
    compute = run["compute"].task
    assert compute.successful and compute.data.partial == "set by attempt 1"
    assert compute.data.x == 11  # the last attempt's 1 + 10, not 21: attempts start afresh
    caught = compute.data.compute_failed
    assert isinstance(caught, CaughtFailure) and isinstance(caught, Exception)
    assert caught.type == "builtins.ValueError"
    assert caught.exception == caught.message == "bad input on attempt 1"
    assert caught.stacktrace is not None and caught.stacktrace == caught.traceback == str(caught)
    assert caught.stacktrace.startswith("Traceback (most recent call last):")
    assert "catch_flows.py" in caught.stacktrace and "in compute" in caught.stacktrace
    assert caught.stacktrace.rstrip().endswith("ValueError: bad input on attempt 1")
    assert caught.failure == "error"
    # a @catch step that succeeded has its variable, set to None (Metaflow sets it so)
    assert run["fine"].task.data.fine_failed is None
    assert run["end"].task.data.summary == (11, 22, "set by attempt 1", "builtins.ValueError", None)
    # @catch without var: the flow goes on, what the step set too, and no variable is stored
    quiet = run["quiet"].task
    assert quiet.status == "caught" and quiet.data.z == 5 and run["end"].task.data.quiet_z == 5
    assert "quiet" not in quiet.stderr and "@catch" not in quiet.stderr  # print_exception=False
    # nor did the attempt it caught print its traceback (Metaflow keeps quiet); its record
    # still holds it
    failed = flowkit.Task(quiet.pathspec, store=str(tmp_path), attempt=0)
    assert failed.record.status == "failed" and failed.stderr == ""
    assert failed.exception is not None and "in quiet" in str(failed.exception.stacktrace)
    # print_exception=True: the failed attempts' tracebacks are in their logs
    compute_failed = flowkit.Task(compute.pathspec, store=str(tmp_path), attempt=1)
    assert "ValueError: bad input on attempt 1" in compute_failed.stderr
    assert attempts(tmp_path, "CatchLinearFlow", "compute") == [
        [("failed", "error"), ("failed", "error"), ("caught", "error")]
    ]


def test_print_exception_false_keeps_the_exception_out_of_the_caught_line(
    tmp_path: Path,
) -> None:
    progress = Quiet()
    run = flowkit.run(CatchLinearFlow, store=str(tmp_path), progress=progress)
    caught = {
        e.step: task_text(e, ASCII)
        for e in progress.events
        if isinstance(e, TaskEvent) and e.status == "caught"
    }
    quiet, compute = run["quiet"].task.id, run["compute"].task.id
    # Metaflow prints nothing of it; the terminal says the step was caught, not with what
    assert caught["quiet"] == f"~ quiet/{quiet} failed and was caught by @catch; the flow goes on"
    assert caught["compute"] == (
        f"~ compute/{compute} failed and was caught by @catch; the flow goes on: "
        "ValueError: bad input on attempt 1"
    )


def test_the_caught_task_keeps_its_exception_and_the_tasks_after_it_have_none(
    tmp_path: Path,
) -> None:
    run = flowkit.run(CatchLinearFlow, store=str(tmp_path), progress=Quiet())
    caught = _record(tmp_path, run, "compute")
    assert caught.status == "caught" and caught.exception is not None
    assert (caught.exception.type, caught.exception.qualified_type) == (
        "ValueError",
        "builtins.ValueError",
    )
    for step in ("fine", "end"):
        record = _record(tmp_path, run, step)
        assert (record.status, record.exception, record.failure) == ("succeeded", None, None)
    assert run["end"].task.exception is None and run.successful


def test_catch_keeps_what_a_foreach_branch_and_a_join_set(tmp_path: Path) -> None:
    run = flowkit.run(CatchForeachFlow, store=str(tmp_path), progress=Quiet())
    assert run.successful
    branches = sorted(run["work"], key=lambda t: t.index or 0)
    assert [t.data.square for t in branches] == [1, 4, 9]
    assert [t.status for t in branches] == ["succeeded", "caught", "succeeded"]
    assert "ratio" not in branches[1].data  # never assigned: the division raised
    assert branches[1].data.err.type == "builtins.ZeroDivisionError"
    join = run["join"].task
    assert join.status == "caught" and join.data.squares == [1, 4, 9]
    assert run["end"].task.data.result == (
        [1, 4, 9],
        [None, "builtins.ZeroDivisionError", None],
        "builtins.RuntimeError",
    )
    assert run["end"].task.exception is None


def test_an_unpicklable_artifact_does_not_hide_the_steps_exception(tmp_path: Path) -> None:
    progress = Quiet()
    run = flowkit.run(UnpicklableCatchFlow, store=str(tmp_path), progress=progress)
    work = run["work"].task
    assert work.status == "caught"
    assert (work.data.failure.type, work.data.failure.message) == (
        "builtins.ValueError",
        "the real problem",
    )
    assert "note" not in work.data and work.data.kept == "from start"
    records = open_store(str(tmp_path)).records
    failed = records.get_attempt("UnpicklableCatchFlow", run.id, "work", work.id, 0)
    assert failed is not None and failed.status == "failed" and failed.artifacts == {}
    assert failed.exception is not None and failed.exception.message == "the real problem"
    said = [e.text for e in progress.events if isinstance(e, TaskOutput) and e.step == "work"]
    assert any("set before it failed was not stored" in line and "'lock'" in line for line in said)


def test_a_failed_task_keeps_what_it_set_for_the_client(tmp_path: Path) -> None:
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(FailingFlow, store=str(tmp_path), progress=Quiet())
    work = info.value.run["work"].task
    assert not work.successful and work.data.progress == 3  # as Metaflow shows it


@pytest.mark.slow
def test_timeout_with_catch_keeps_what_was_set_before_it_in_either_order(tmp_path: Path) -> None:
    run = flowkit.run(TimeoutCatchFlow, store=str(tmp_path), progress=Quiet())
    assert run.successful
    outside = run["catch_outside"].task
    assert outside.data.before == "set before the timeout" and "after" not in outside.data
    assert outside.data.inherited == "from start"
    timed_out = outside.data.timed_out
    assert timed_out.type == "flowkit.task.timeout.TaskTimedOut"
    assert timed_out.failure == "timeout" and "@timeout of 1s" in timed_out.message
    assert "time.sleep(30)" in timed_out.stacktrace  # where the step stood
    inside = run["catch_inside"].task
    assert inside.data.before_too == "set before it too"
    assert inside.data.timed_out_too.type == "flowkit.task.timeout.TaskTimedOut"
    # a step that swallows the interruption is killed with its process group: nothing it
    # set was stored, so what it inherited goes on
    stubborn = run["stubborn"].task
    assert stubborn.status == "caught" and "swallowed" not in stubborn.data
    assert stubborn.data.before_too == "set before it too"
    # the same name whoever wrote the record, the task or the scheduler for it
    killed = stubborn.data.killed
    assert (killed.type, killed.failure) == ("flowkit.task.timeout.TaskTimedOut", "timeout")
    assert run["end"].task.exception is None


@pytest.mark.slow
@pytest.mark.parametrize(
    ("how", "said"),
    [
        ("segv", "segmentation fault (killed by signal SIGSEGV)"),
        ("abort", "killed by signal SIGABRT"),
        ("kill", "killed by signal SIGKILL"),
    ],
)
def test_a_step_killed_by_a_signal_says_so_in_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str, said: str
) -> None:
    monkeypatch.setenv("FLOWKIT_TEST_CRASH", how)
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(SignalFlow, store=str(tmp_path), progress=Quiet())
    task = info.value.run["crash"].task
    assert task.stderr.splitlines() == [said]
    assert task.stdout.strip() == "about to crash"
    assert task.exception is not None and said in task.exception.message
    # a crash of the process's own is not retried without @retry; SIGKILL from outside is
    expected = (
        [("failed", "lost"), ("failed", "lost")] if how == "kill" else [("failed", "crashed")]
    )
    assert attempts(tmp_path, "SignalFlow", "crash") == [expected]
    result = CliRunner().invoke(
        cli, ["logs", f"SignalFlow/{info.value.run.id}/crash", "--store", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert said in result.output


@pytest.mark.slow
def test_a_segfault_says_so_in_its_log_on_the_worker_path_too(tmp_path: Path) -> None:
    """``python -m flowkit.worker``, the command Slurm and Batch jobs run."""
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(SignalFlow, store=str(tmp_path), progress=Quiet())
    run, store = info.value.run, open_store(str(tmp_path))
    spec = TaskSpec(
        store=str(tmp_path),
        flow="SignalFlow",
        run_id=run.id,
        step="crash",
        task_id=store.records.new_task_id(),
        attempt=0,
        code=code_ref_for(SignalFlow, store),
        contract=StepContract.of(flowkit.graph_of(SignalFlow)["crash"]),
        inputs=(f"start/{run['start'].task.id}/0",),
    )
    result = subprocess.run(
        [sys.executable, "-m", "flowkit.worker", spec.to_json()],
        env=env(FLOWKIT_TEST_CRASH="segv"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    said = "segmentation fault (killed by signal SIGSEGV)"
    assert result.returncode != 0 and said in result.stderr
    task = flowkit.Task(spec.pathspec, store=str(tmp_path))
    assert task.stderr.splitlines() == [said] and task.stdout.strip() == "about to crash"
    assert task.record.failure == "crashed" and said in str(task.exception)


@pytest.mark.slow
def test_catch_handles_a_segfault(tmp_path: Path) -> None:
    run = flowkit.run(CaughtSegfaultFlow, store=str(tmp_path), progress=Quiet())
    assert run.successful
    crash = run["crash"].task
    assert crash.status == "caught"
    caught = crash.data.crashed
    assert (caught.type, caught.failure) == ("flowkit.task.outcome.TaskCrashed", "crashed")
    assert "segmentation fault" in caught.message and caught.stacktrace is None
    assert str(caught).startswith("[no stacktrace]\nflowkit.task.outcome.TaskCrashed: ")
    assert "ended before it finished: segmentation fault (killed by signal SIGSEGV)" in (
        caught.message
    )
    assert run["end"].task.data.seen == ("from start", "flowkit.task.outcome.TaskCrashed")
    assert "segmentation fault" in crash.stderr


@pytest.mark.slow
def test_a_timed_out_steps_card_gives_way_to_what_it_stores(tmp_path: Path) -> None:
    run = flowkit.run(TimeoutCardFlow, store=str(tmp_path), progress=Quiet())
    slow = run["slow"].task
    assert slow.record.status == "caught" and slow.data.before == "set before the timeout"
    # the task wrote its own record in its grace: the step's exception, where it stood
    timed_out = slow.data.timed_out
    assert timed_out.type == "flowkit.task.timeout.TaskTimedOut"
    assert timed_out.stacktrace is not None and "time.sleep(30)" in timed_out.stacktrace
    [card] = get_cards(slow)
    assert "the timed-out step had left before its process was killed" in card.html


def test_an_exception_class_of_the_flows_file_is_named_as_metaflow_names_it(
    tmp_path: Path,
) -> None:
    result = subprocess.run(
        [sys.executable, str(FLOW_FILE), "run", "--store", str(tmp_path)],
        env=env(FLOWKIT_TEST_FLOW="OwnErrorFlow"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    run = flowkit.Flow("OwnErrorFlow", store=str(tmp_path)).latest_run
    assert run["end"].task.data.seen == "__main__.OwnError"
    # run from Python, the flow's file is still the script Metaflow would have run
    again = flowkit.run(OwnErrorFlow, store=str(tmp_path), progress=Quiet())
    err = again["work"].task.data.err
    assert err.type == "__main__.OwnError"
    assert err.stacktrace.splitlines()[-1] == "OwnError: mine"  # as Python prints a script's
