"""``--detach``: the run's scheduler runs as a job of the run's executor, not here.

The third-party package's executor (conftest.py) starts ``python -m flowkit.driver STORE KEY``
as a process of its own session and says ``"process PID"``; with ``$TP_EXEC_HOLD`` set, that
job waits (as in a cluster's queue) until the test creates the file, so a test knows the
scheduler has not begun when ``run`` returns.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import flowkit
from flowkit.errors import FlowkitError
from flowkit.runtime.events import RunDetached
from flowkit.store import open_store
from flowkit.store.records import RunEndRecord
from flowkit.surfaces.layout import UNICODE, detached_lines
from tests.conftest import FLOWS, ROOT, require, run_python
from tests.executor.conftest import logged, submitted, summary
from tests.flows.crashes import CrashFlow
from tests.flows.failures import FixableFlow, NoRetryFlakyFlow
from tests.flows.gated import GatedFlow
from tests.flows.linear import LinearFlow
from tests.flows.mixed_executors import MixedFlow
from tests.runtime.test_shapes import Quiet


class Drivers:
    """The detached schedulers a test started: waited for, and killed if still going."""

    def __init__(self) -> None:
        self.pids: list[int] = []

    def add(self, where: str) -> int:
        found = re.fullmatch(r"process (\d+)", where)
        assert found, where
        self.pids.append(int(found[1]))
        return self.pids[-1]

    def wait(self, pid: int, timeout: float = 120) -> int | None:
        """Once the scheduler ended, its exit status where it is this process's child
        (reaped here); None otherwise (the CLI's child, reparented when the CLI exited)."""
        psutil = require("psutil")
        status = psutil.Process(pid).wait(timeout)
        assert status is None or isinstance(status, int)
        return status

    def kill_all(self) -> None:
        psutil = require("psutil")
        for pid in self.pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    os.killpg(pid, signal.SIGKILL)
                psutil.Process(pid).wait(10)
            except psutil.NoSuchProcess:
                pass


@pytest.fixture
def drivers(third_party: Path) -> Iterator[Drivers]:
    started = Drivers()
    try:
        yield started
    finally:
        started.kill_all()


@pytest.fixture
def hold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file whose creation lets a detached scheduler's job out of the queue."""
    path = tmp_path / "queue-open"
    monkeypatch.setenv("TP_EXEC_HOLD", str(path))
    return path


def _wait_end(store: Path, flow: str, run_id: str, timeout: float = 120) -> RunEndRecord:
    records = open_store(str(store)).records
    deadline = time.monotonic() + timeout
    while (end := records.get_run_end(flow, run_id)) is None:
        assert time.monotonic() < deadline, f"{flow}/{run_id} never ended"
        time.sleep(0.1)
    return end


def _detached(sink: Quiet, flow: str, store: Path) -> RunDetached:
    (event,) = sink.events
    assert isinstance(event, RunDetached)
    assert (event.flow, event.store, event.executor) == (flow, str(store), "thirdparty")
    return event


def _scheduler_output(log: Path) -> tuple[str, str]:
    """The one detached scheduler's spec key and what it printed."""
    (out,) = log.parent.glob("scheduler-*.out")
    return out.name.removeprefix("scheduler-").removesuffix(".out"), out.read_text()


@pytest.mark.slow
def test_a_detached_run_returns_at_once_and_its_scheduler_finishes_it(
    third_party: Path, tmp_path: Path, drivers: Drivers, hold: Path
) -> None:
    local = flowkit.run(MixedFlow, store=str(tmp_path / "a"), progress=Quiet(), n=4)
    sink = Quiet()
    store = tmp_path / "b"
    run = flowkit.run(
        MixedFlow,
        store=str(store),
        progress=sink,
        n=4,
        with_decorators=["thirdparty:queue=fast"],
        detach=True,
    )
    event = _detached(sink, "MixedFlow", store)
    assert event.run_id == run.id
    pid = drivers.add(event.where)
    # its job is still queued: the run reads as going, and nothing of it has run
    assert submitted(third_party) == [("(scheduler)", {"queue": "fast"})]
    records = open_store(str(store)).records
    assert records.get_run_end("MixedFlow", run.id) is None
    assert flowkit.Run(f"MixedFlow/{run.id}", store=str(store)).status == "running"
    assert records.list_steps("MixedFlow", run.id) == []

    hold.touch()
    end = _wait_end(store, "MixedFlow", run.id)
    assert drivers.wait(pid) == 0
    assert (end.status, end.message) == ("succeeded", None)
    done = flowkit.Run(f"MixedFlow/{run.id}", store=str(store))
    assert done.successful and done["end"].task.data.summary == "60/4"
    assert summary(store, "MixedFlow", run.id) == summary(tmp_path / "a", "MixedFlow", local.id)
    record = records.get_run("MixedFlow", run.id)
    assert record.parameters == local.record.parameters and record.origin_run_id is None
    # join is pinned to the local executor, which the scheduler ran where it ran
    assert submitted(third_party) == sorted(
        [("(scheduler)", {"queue": "fast"}), ("start", {"queue": "fast"})]
        + [("work", {"queue": "fast"})] * 4
        + [("end", {"queue": "fast"})]
    )
    _, printed = _scheduler_output(third_party)
    assert f"MixedFlow/{run.id} succeeded" in printed


@pytest.mark.slow
def test_detach_on_the_command_line_says_where_the_scheduler_runs(
    installed: Path, third_party: Path, tmp_path: Path, drivers: Drivers, hold: Path
) -> None:
    store = tmp_path / "s"
    result = subprocess.run(
        [
            *(sys.executable, str(FLOWS / "mixed_executors.py"), "run"),
            *("--store", str(store), "--n", "2", "--with", "thirdparty", "--detach"),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(installed)])},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    found = re.search(
        r"MixedFlow/(\w+) detached: its scheduler runs as (process \d+)", result.stderr
    )
    assert found, result.stderr
    run_id, where = found.groups()
    pid = drivers.add(where)
    event = RunDetached("MixedFlow", run_id, str(store), "thirdparty", where, 0.0)
    assert result.stderr.splitlines() == detached_lines(event, UNICODE)
    assert result.stdout == f"MixedFlow/{run_id}\n"  # alone on stdout, for scripts
    records = open_store(str(store)).records
    assert records.get_run_end("MixedFlow", run_id) is None  # it returned while queued

    hold.touch()
    assert _wait_end(store, "MixedFlow", run_id).status == "succeeded"
    assert drivers.wait(pid) is None
    assert [s for s, _ in submitted(third_party)] == ["(scheduler)", "end", "start", "work", "work"]


@pytest.mark.parametrize(
    ("with_decorators", "message", "hint"),
    [
        (
            [],
            "--detach runs the scheduler as a job of the run's executor, and every step of "
            "this flow runs locally",
            "name the executor that should run it: --with slurm (or --with NAME:ARG=VALUE)",
        ),
        (
            ["tpbad"],
            "the 'tpbad' executor cannot run a detached scheduler",
            "drop --detach, or use an executor that can (--with slurm)",
        ),
        (
            ["local"],
            "the 'local' executor cannot run a detached scheduler",
            "drop --detach, or use an executor that can (--with slurm)",
        ),
    ],
)
def test_detach_without_an_executor_that_can_take_the_scheduler_fails_clearly(
    third_party: Path, tmp_path: Path, with_decorators: list[str], message: str, hint: str
) -> None:
    psutil = require("psutil")
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with pytest.raises(FlowkitError) as info:
        flowkit.run(
            LinearFlow,
            store=str(tmp_path),
            progress=Quiet(),
            with_decorators=with_decorators,
            detach=True,
        )
    assert info.value.render() == f"{message}\n    hint: {hint}"
    run = flowkit.Flow("LinearFlow", store=str(tmp_path)).latest_run
    assert run.status == "failed"
    end = open_store(str(tmp_path)).records.get_run_end("LinearFlow", run.id)
    assert end is not None and end.message == f"the run could not start: {message}"
    assert submitted(third_party) == [] and not list(tmp_path.glob("scheduler-*.out"))
    left = [
        p
        for p in psutil.Process().children(recursive=True)
        if p.pid not in before and p.status() != psutil.STATUS_ZOMBIE
    ]
    assert left == []


@pytest.mark.slow
def test_sigterm_to_a_detached_scheduler_cancels_the_run(
    third_party: Path, tmp_path: Path, drivers: Drivers
) -> None:
    gate, store, sink = tmp_path / "gate", tmp_path / "s", Quiet()
    try:
        run = flowkit.run(
            GatedFlow,
            store=str(store),
            progress=sink,
            gate=str(gate),
            with_decorators=["thirdparty"],
            detach=True,
        )
        pid = drivers.add(_detached(sink, "GatedFlow", store).where)
        deadline = time.monotonic() + 60
        while not Path(f"{gate}.waiting").exists():
            assert time.monotonic() < deadline, "middle never started"
            time.sleep(0.05)
        os.kill(pid, signal.SIGTERM)
        assert drivers.wait(pid) == 130
    finally:
        gate.touch()  # a task the cancel missed ends too
    records = open_store(str(store)).records
    end = records.get_run_end("GatedFlow", run.id)
    assert end is not None and end.status == "cancelled"
    assert sorted(records.list_steps("GatedFlow", run.id)) == ["middle", "start"]
    (middle,) = records.list_tasks("GatedFlow", run.id, "middle")
    assert middle.status == "killed" and middle.exception is not None
    assert middle.exception.type == "TaskKilled"
    key, printed = _scheduler_output(third_party)
    assert f"GatedFlow/{run.id} cancelled" in printed

    # its scheduler once more, for the run that has ended
    again = run_python("-m", "flowkit.driver", store, key)
    assert again.returncode == 2
    assert again.stderr == (
        f"error: run GatedFlow/{run.id} has ended already: its scheduler ran before\n"
        "    hint: resume it to run it again: python tests/flows/gated.py resume "
        f"--origin-run-id {run.id}\n"
    )
    assert records.get_run_end("GatedFlow", run.id) == end


@pytest.mark.parametrize("key", ["0" * 64, "spec.json"])
def test_the_driver_says_which_key_it_did_not_find_where(tmp_path: Path, key: str) -> None:
    """Not that the store is damaged: the key is wrong."""
    missing = run_python("-m", "flowkit.driver", tmp_path, key)
    assert missing.returncode == 2
    assert missing.stderr == (
        f"error: no detached run's scheduler spec '{key}' in the store at {tmp_path}\n"
        "    hint: give python -m flowkit.driver the key that --detach stored, and the store "
        "as this machine reaches it\n"
    )


def test_the_driver_refuses_a_key_that_is_not_a_detached_scheduler(tmp_path: Path) -> None:
    key = open_store(str(tmp_path)).put_spec(json.dumps({"step": "start"}))
    wrong = run_python("-m", "flowkit.driver", tmp_path, key)
    assert wrong.returncode == 2
    assert wrong.stderr == (
        f"error: {tmp_path} spec {key} is not a detached run's scheduler spec ('driver')\n"
        "    hint: give python -m flowkit.driver the key that --detach stored\n"
    )
    usage = run_python("-m", "flowkit.driver", tmp_path)
    assert usage.returncode == 2 and "python -m flowkit.driver STORE KEY" in usage.stderr


@pytest.mark.slow
def test_a_detached_scheduler_keeps_max_workers_fail_fast_and_tags(
    third_party: Path, tmp_path: Path, drivers: Drivers
) -> None:
    sink = Quiet()
    run = flowkit.run(
        CrashFlow,
        store=str(tmp_path),
        progress=sink,
        modes="raise,ok,ok",
        max_workers=1,
        fail_fast=True,
        tags=["nightly"],
        with_decorators=["thirdparty"],
        detach=True,
    )
    pid = drivers.add(_detached(sink, "CrashFlow", tmp_path).where)
    end = _wait_end(tmp_path, "CrashFlow", run.id)
    assert drivers.wait(pid) == 1
    assert end.status == "failed"
    assert logged(third_party, ".contexts") == [[1, True]]  # one at a time, as chosen
    # the first split failed while the others waited their turn: --fail-fast withdrew them
    tasks = open_store(str(tmp_path)).records.list_tasks("CrashFlow", run.id, "work")
    assert [(t.foreach, t.status) for t in tasks] == [((0,), "failed")]
    assert flowkit.Run(f"CrashFlow/{run.id}", store=str(tmp_path)).user_tags == {"nightly"}


@pytest.mark.slow
def test_a_detached_scheduler_keeps_with_retry(
    third_party: Path, tmp_path: Path, drivers: Drivers
) -> None:
    sink = Quiet()
    run = flowkit.run(
        NoRetryFlakyFlow,
        store=str(tmp_path),
        progress=sink,
        with_decorators=["thirdparty", "retry:times=1,backoff=0"],
        detach=True,
    )
    pid = drivers.add(_detached(sink, "NoRetryFlakyFlow", tmp_path).where)
    assert _wait_end(tmp_path, "NoRetryFlakyFlow", run.id).status == "succeeded"
    assert drivers.wait(pid) == 0
    done = flowkit.Run(f"NoRetryFlakyFlow/{run.id}", store=str(tmp_path))
    assert done["start"].task.data.result == 1  # its second attempt
    assert logged(third_party, ".contexts")[0][1] is False  # --max-workers was not chosen


@pytest.mark.slow
def test_resume_detach_clones_from_its_origin(
    third_party: Path, tmp_path: Path, drivers: Drivers, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(FixableFlow, store=str(tmp_path), progress=Quiet(), factor=5)
    origin = info.value.run
    monkeypatch.setenv("FLOWKIT_TEST_FIXED", "1")
    sink = Quiet()
    run = flowkit.resume(
        FixableFlow,
        store=str(tmp_path),
        origin_run_id=origin.id,
        progress=sink,
        tags=["fixed"],
        with_decorators=["thirdparty"],
        detach=True,
    )
    pid = drivers.add(_detached(sink, "FixableFlow", tmp_path).where)
    assert _wait_end(tmp_path, "FixableFlow", run.id).status == "succeeded"
    assert drivers.wait(pid) == 0
    done = flowkit.Run(f"FixableFlow/{run.id}", store=str(tmp_path))
    assert done.data.result == 70 and done.user_tags == {"fixed"}
    records = open_store(str(tmp_path)).records
    assert records.get_run("FixableFlow", run.id).origin_run_id == origin.id
    (start,) = records.list_tasks("FixableFlow", run.id, "start")
    assert start.origin_pathspec is not None and start.origin_pathspec.startswith(
        f"FixableFlow/{origin.id}/start/"
    )
    # start was cloned, not run again
    assert [s for s, _ in submitted(third_party)] == ["(scheduler)", "end", "work"]


SCHEDULED_FLOW = """\
from flowkit import FlowSpec, step
from flowkit.authoring.decorators import executor_decorator

thirdparty = executor_decorator("thirdparty")


class ScheduledFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a)

    @thirdparty(account="ml", queue="small", python="/shared/py")
    @step
    def a(self):
        self.next(self.b)

    @thirdparty(account="ml", queue="big", python="/shared/py")
    @step
    def b(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


@pytest.mark.slow
def test_without_with_the_scheduler_gets_the_options_its_steps_share(
    third_party: Path, tmp_path: Path, drivers: Drivers
) -> None:
    flow = tmp_path / "scheduled.py"
    flow.write_text(SCHEDULED_FLOW)
    store = tmp_path / "store"
    sink = Quiet()
    run = flowkit.run(flow, store=str(store), progress=sink, detach=True)
    drivers.wait(drivers.add(_detached(sink, "ScheduledFlow", store).where))
    assert _wait_end(store, "ScheduledFlow", run.id).status == "succeeded"
    scheduler = [o for step, o in submitted(third_party) if step == "(scheduler)"]
    # the account and interpreter every step asks for; not the queue they differ on
    assert scheduler == [{"account": "ml", "python": "/shared/py"}]


@pytest.mark.slow
def test_a_scheduler_that_starts_after_its_run_was_given_up_refuses(
    third_party: Path, tmp_path: Path, drivers: Drivers, hold: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWKIT_CLOCK_SKEW_SECONDS", "0")
    store, sink = tmp_path / "s", Quiet()
    run = flowkit.run(
        LinearFlow, store=str(store), progress=sink, with_decorators=["thirdparty"], detach=True
    )
    pid = drivers.add(_detached(sink, "LinearFlow", store).where)
    # its job waits in the queue past the run's lease: readers take the run for crashed
    open_store(str(store)).leases.renew("LinearFlow", run.id, interval=0.001)
    time.sleep(0.05)
    assert flowkit.Run(run.pathspec, store=str(store)).status == "crashed"
    hold.touch()
    assert drivers.wait(pid) == 2
    records = open_store(str(store)).records
    end = records.get_run_end("LinearFlow", run.id)
    assert end is not None and end.status == "failed"
    assert end.message is not None and "was given up: its scheduler's job started" in end.message
    assert records.list_steps("LinearFlow", run.id) == []  # no task ran
    _, printed = _scheduler_output(third_party)
    assert f"error: run LinearFlow/{run.id} was given up" in printed
