"""The Batch executor's control plane against moto: what it registers, submits, describes and
terminates, counted at botocore's boundary, while the Runner runs what was submitted."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from batchsim import SPOT_RECLAIMED, BatchServer, Runner, Throttle
from botocore.client import BaseClient
from tests.runtime.test_shapes import Quiet

import flowkit
from flowkit.store import NotFoundError, open_store
from flowkit.task.spec import TaskSpec
from flowkit.testing.services import stop_group

pytestmark = pytest.mark.slow


@dataclass
class Call:
    operation: str
    params: dict[str, Any]
    answer: dict[str, Any]


def _calls(monkeypatch: pytest.MonkeyPatch) -> list[Call]:
    """Every Batch call this process makes from now on, but the Runner's (its own threads),
    with its answer: an observer at botocore's boundary."""
    calls: list[Call] = []
    original = BaseClient._make_api_call

    def observed(self: Any, operation: str, params: dict[str, Any]) -> Any:
        answer = original(self, operation, params)
        ours = not threading.current_thread().name.startswith("batchsim")
        if ours and self.meta.service_model.service_name == "batch":
            calls.append(Call(operation, params, answer))
        return answer

    monkeypatch.setattr(BaseClient, "_make_api_call", observed)
    return calls


@pytest.fixture
def short_failed_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """The executor waits 1 s, not 5, for the final record of a job Batch says ended badly
    before it calls the job lost: for tests whose jobs die before that record (never started,
    killed), where the record never comes and the wait is only time."""
    from flowkit_aws_batch import executor

    monkeypatch.setattr(executor, "FAILED_GRACE", 1.0)


def _named(calls: list[Call], operation: str) -> list[Call]:
    return [call for call in calls if call.operation == operation]


def _flow(tmp_path: Path, source: str) -> str:
    path = tmp_path / "flow.py"
    path.write_text(textwrap.dedent(source))
    return str(path)


def _with(server: BatchServer, image: str, **more: str) -> list[str]:
    options = {"queue": server.queue, "image": image, **more}
    return ["batch:" + ",".join(f"{k}={v}" for k, v in options.items())]


def _image() -> str:
    """An image name of the test's own, so that its definitions are new to the server."""
    return f"flowkit-tests:{uuid.uuid4().hex[:12]}"


DEFINITIONS = """
    import os
    from flowkit import FlowSpec, batch, resources, step, timeout

    class DefinitionsFlow(FlowSpec):
        @resources(cpu=3, memory=5000, gpu=1)
        @batch(
            queue="{queue}", image="{image}", job_role="{role}", shared_memory=256,
            tmpfs=[{{"path": "/scratch", "size": 64}}],
            efs=[{{"file_system_id": "fs-12345678", "path": "/data"}}],
            env={{"FROM_BATCH_ENV": "yes"}}, container={{"privileged": True}},
        )
        @timeout(seconds=30)
        @step
        def start(self):
            self.seen = os.environ.get("FROM_BATCH_ENV")
            self.next(self.end)

        @step
        def end(self):
            pass
"""


def test_one_job_definition_per_distinct_content_holding_the_steps_request(
    batch_server: BatchServer,
    batch_store: str,
    batch_runner: Runner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image = _image()
    source = DEFINITIONS.format(
        queue=batch_server.queue, image=image, role=batch_server.job_role_arn
    )
    flow = _flow(tmp_path, source)
    calls = _calls(monkeypatch)
    for _ in range(2):
        run = flowkit.run(
            flow, store=batch_store, with_decorators=_with(batch_server, image), progress=Quiet()
        )
        assert run.successful and run["start"].task.data.seen == "yes"
    # the first run registered start's definition and end's (plain); the second, nothing
    registered = _named(calls, "RegisterJobDefinition")
    assert len(registered) == 2
    names = {call.params["jobDefinitionName"] for call in registered}
    assert all(re.fullmatch(r"flowkit-[0-9a-f]{24}", name) for name in names) and len(names) == 2
    submitted = {
        call.params["jobName"]: call.params["jobDefinition"] for call in _named(calls, "SubmitJob")
    }
    jobs = [(c.params["jobName"], c.params["jobDefinition"]) for c in _named(calls, "SubmitJob")]
    assert len(jobs) == 4 and len(set(jobs)) == 2  # the second run used the same definitions
    described = batch_server.client().describe_job_definitions(
        jobDefinitions=sorted(set(submitted.values()))
    )["jobDefinitions"]
    by_arn = {d["jobDefinitionArn"]: d for d in described}
    assert {d["jobDefinitionName"] for d in described} == names
    assert all(d["revision"] == 1 for d in described)  # never registered again
    plain = by_arn[submitted["flowkit-DefinitionsFlow-end"]]
    assert plain["containerProperties"]["resourceRequirements"] == [
        {"type": "VCPU", "value": "1"},
        {"type": "MEMORY", "value": "4096"},
    ]
    assert "timeout" not in plain or not plain["timeout"]
    big = by_arn[submitted["flowkit-DefinitionsFlow-start"]]
    container = big["containerProperties"]
    assert container["image"] == image
    assert sorted((r["type"], r["value"]) for r in container["resourceRequirements"]) == [
        ("GPU", "1"),
        ("MEMORY", "5000"),
        ("VCPU", "3"),
    ]
    assert container["jobRoleArn"] == batch_server.job_role_arn
    assert container["linuxParameters"]["sharedMemorySize"] == 256
    assert container["linuxParameters"]["tmpfs"] == [{"containerPath": "/scratch", "size": 64}]
    assert container["volumes"] == [
        {"name": "efs0", "efsVolumeConfiguration": {"fileSystemId": "fs-12345678"}}
    ]
    assert container["mountPoints"] == [{"sourceVolume": "efs0", "containerPath": "/data"}]
    assert {"name": "FROM_BATCH_ENV", "value": "yes"} in container["environment"]
    assert container["privileged"] is True
    assert big["timeout"] == {"attemptDurationSeconds": 30 + 120}


FOREACH = """
    import os
    from flowkit import FlowSpec, step

    class ArrayFlow(FlowSpec):
        @step
        def start(self):
            self.items = ["a", "b", "c"]
            self.next(self.each, foreach="items")

        @step
        def each(self):
            self.job = os.environ["AWS_BATCH_JOB_ID"]
            self.got = self.input
            self.next(self.join)

        @step
        def join(self, inputs):
            self.got = sorted(i.got for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            pass
"""


def _throttled(monkeypatch: pytest.MonkeyPatch, times: dict[str, int]) -> list[Throttle]:
    """A :class:`Throttle` of each operation on every Batch client made from now on; botocore's
    backoff between retries is cut to a twentieth (from 1 s, doubling, for throttling): every
    call is retried all the same, in a fraction of the wait."""
    import boto3.session
    from botocore.retries.standard import ExponentialBackoff

    backoff = ExponentialBackoff.delay_amount
    monkeypatch.setattr(
        ExponentialBackoff, "delay_amount", lambda self, context: backoff(self, context) / 20
    )
    throttles: list[Throttle] = []
    original = boto3.session.Session.client

    def client(self: Any, service: str, *args: Any, **kwargs: Any) -> Any:
        made = original(self, service, *args, **kwargs)
        if service == "batch":
            throttles.extend(Throttle(made, op, n) for op, n in times.items())
        return made

    monkeypatch.setattr(boto3.session.Session, "client", client)
    return throttles


def test_a_foreach_is_one_array_job_each_child_running_its_split_though_throttled(
    batch_server: BatchServer,
    batch_store: str,
    batch_runner: Runner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _calls(monkeypatch)
    throttles = _throttled(monkeypatch, {"SubmitJob": 2, "DescribeJobs": 3})
    run = flowkit.run(
        _flow(tmp_path, FOREACH),
        store=batch_store,
        with_decorators=_with(batch_server, _image()),
        progress=Quiet(),
    )
    assert run.successful and run["join"].task.data.got == ["a", "b", "c"]
    # every 429 was answered and retried: each throttled call was sent once more
    assert len(throttles) == 2 and all(t.left == 0 for t in throttles)
    submit, describe = throttles
    assert submit.sent == 2 + len(_named(calls, "SubmitJob"))
    assert describe.sent == 3 + len(_named(calls, "DescribeJobs"))
    [array] = [c for c in _named(calls, "SubmitJob") if "arrayProperties" in c.params]
    assert array.params["arrayProperties"] == {"size": 3}
    command = array.params["containerOverrides"]["command"]
    assert command[:6] == [
        "python",
        "-m",
        "flowkit.worker",
        "--quiet",
        "--index-from",
        "AWS_BATCH_JOB_ARRAY_INDEX",
    ]
    assert command[6] == batch_store and len(command) == 8
    parent = array.answer["jobId"]
    children = sorted(
        (r for r in batch_runner.runs if r.index is not None), key=lambda r: r.index or 0
    )
    assert [(r.job_id, r.index, r.exit_code) for r in children] == [
        (f"{parent}:{i}", i, 0) for i in range(3)
    ]
    for child in children:
        assert child.job.argv == tuple(command)
        assert child.job.env["AWS_BATCH_JOB_ARRAY_INDEX"] == str(child.index)
    # child i ran the spec at position i of the stored task list, and nothing else
    store = open_store(batch_store)
    listed = [TaskSpec.from_json(store.get_spec(key)) for key in store.task_list(command[7])]
    ran = {task.id: task.data.job for task in run["each"]}
    assert [ran[spec.task_id] for spec in listed] == [f"{parent}:{i}" for i in range(3)]


WIDE = """
    from flowkit import FlowSpec, step

    class WideFlow(FlowSpec):
        @step
        def start(self):
            self.items = list(range({width}))
            self.next(self.each, foreach="items")

        @step
        def each(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass
"""


#: One child past what one DescribeJobs takes (100 ids): the children take two calls.
WIDTH = 101


@pytest.mark.usefixtures("short_failed_grace")
def test_describe_jobs_asks_about_100_ids_at_most_and_never_none(
    batch_server: BatchServer,
    batch_store: str,
    batch_runner: Runner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # every child dies before it starts (a reclaimed spot instance), its retry too: no
    # process runs, and the executor must describe all WIDTH children of each array
    batch_runner.die(lambda job: job.index is not None, times=2 * WIDTH)
    calls = _calls(monkeypatch)
    with pytest.raises(flowkit.RunFailed):
        flowkit.run(
            _flow(tmp_path, WIDE.format(width=WIDTH)),
            store=batch_store,
            with_decorators=_with(batch_server, _image()),
            progress=Quiet(),
        )
    sizes = [len(call.params["jobs"]) for call in _named(calls, "DescribeJobs")]
    assert sizes and max(sizes) == 100 and min(sizes) >= 1, sizes
    arrays = [
        c.answer["jobId"] for c in _named(calls, "SubmitJob") if "arrayProperties" in c.params
    ]
    assert len(arrays) == 2  # the first attempt's array, and the retry's
    asked = {job for call in _named(calls, "DescribeJobs") for job in call.params["jobs"]}
    assert {f"{parent}:{i}" for parent in arrays for i in range(WIDTH)} <= asked


HANGS = """
    import os, time
    from flowkit import FlowSpec, step, timeout

    class HangsFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.hang)

        @timeout(seconds=3)
        @step
        def hang(self):
            deadline = time.monotonic() + 60
            while not os.path.exists({never!r}) and time.monotonic() < deadline:
                time.sleep(0.1)
            self.next(self.end)

        @step
        def end(self):
            pass
"""


def test_a_task_past_its_timeout_has_its_job_terminated(
    batch_server: BatchServer,
    batch_store: str,
    batch_runner: Runner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _calls(monkeypatch)
    source = HANGS.format(never=str(tmp_path / "never"))
    with pytest.raises(flowkit.RunFailed) as raised:
        flowkit.run(
            _flow(tmp_path, source),
            store=batch_store,
            with_decorators=_with(batch_server, _image()),
            progress=Quiet(),
        )
    [hang] = [c for c in _named(calls, "SubmitJob") if c.params["jobName"].endswith("-hang")]
    job = hang.answer["jobId"]
    assert job in batch_runner.running  # it ran, and Batch was asked to stop it
    terminated = [c.params for c in _named(calls, "TerminateJob")]
    assert terminated == [{"jobId": job, "reason": "cancelled by flowkit"}]
    [described] = batch_server.client().describe_jobs(jobs=[job])["jobs"]
    assert described["statusReason"] == "cancelled by flowkit"
    task = raised.value.run["hang"].task
    assert (task.status, task.failure, task.current_attempt) == ("failed", "timeout", 0)
    assert task.exception is not None
    assert (task.exception.type, task.exception.name) == (
        "flowkit.task.timeout.TaskTimedOut",
        "TaskTimedOut",
    )


LOSES = """
    import time
    from flowkit import FlowSpec, current, step

    class LosesFlow(FlowSpec):
        @step
        def start(self):
            self.items = [0, 1]
            self.next(self.each, foreach="items")

        @step
        def each(self):
            if current.retry_count == 0 and self.input == 1:
                time.sleep(30)  # killed meanwhile
            self.value = self.input * 10
            self.next(self.join)

        @step
        def join(self, inputs):
            self.values = sorted(i.value for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            pass
"""


def _when(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline
        time.sleep(0.1)


@pytest.mark.usefixtures("short_failed_grace")
def test_a_job_that_ended_without_its_record_is_lost_and_retried_once(
    batch_server: BatchServer, batch_store: str, batch_runner: Runner, tmp_path: Path
) -> None:
    # child 0 never starts; child 1 is killed 5 s in, once its task has started
    batch_runner.die(lambda job: job.index == 0)
    batch_runner.die(lambda job: job.index == 1, after=5.0)
    run = flowkit.run(
        _flow(tmp_path, LOSES),
        store=batch_store,
        with_decorators=_with(batch_server, _image()),  # and no @retry
        progress=Quiet(),
    )
    assert run.successful and run["join"].task.data.values == [0, 10]
    died = sorted(
        (r for r in batch_runner.runs if r.reason == SPOT_RECLAIMED), key=lambda r: r.index or 0
    )
    assert [(r.index, r.exit_code) for r in died] == [(0, None), (1, -9)]
    for task in run["each"]:
        assert task.successful and task.current_attempt == 1
        first = flowkit.Task(task.pathspec, store=batch_store, attempt=0)
        assert (first.status, first.failure) == ("failed", "lost")
        assert first.exception is not None and SPOT_RECLAIMED in first.exception.message
        began = "without the task's final record" if task.index == 1 else "before the task started"
        assert f"ended SUCCEEDED {began}: {SPOT_RECLAIMED}" in first.exception.message


@pytest.mark.usefixtures("short_failed_grace")
def test_an_image_that_cannot_run_the_command_fails_without_retry(
    batch_server: BatchServer,
    batch_store: str,
    batch_runner: Runner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _calls(monkeypatch)
    with pytest.raises(flowkit.RunFailed) as raised:
        flowkit.run(
            _flow(tmp_path, FOREACH),
            store=batch_store,
            with_decorators=_with(batch_server, _image(), python="/no/such/python"),
            progress=Quiet(),
        )
    assert len(_named(calls, "SubmitJob")) == 1  # start only, once
    [run] = batch_runner.runs
    assert run.exit_code is None and run.reason is not None
    task = raised.value.run["start"].task
    assert (task.status, task.current_attempt) == ("failed", 0)
    assert task.exception is not None
    assert "CannotStartContainerError" in task.exception.message
    assert task.exception.message.endswith(": fix the image")


WAITS = """
    import os, time
    from flowkit import FlowSpec, step

    class WaitsFlow(FlowSpec):
        @step
        def start(self):
            self.items = [0, 1]
            self.next(self.wait, foreach="items")

        @step
        def wait(self):
            deadline = time.monotonic() + 60
            while not os.path.exists({never!r}) and time.monotonic() < deadline:
                time.sleep(0.1)
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        WaitsFlow()
"""


def test_sigterm_to_the_cli_terminates_the_runs_array_by_its_parent(
    batch_server: BatchServer, batch_store: str, batch_runner: Runner, tmp_path: Path
) -> None:
    flow = _flow(tmp_path, WAITS.format(never=str(tmp_path / "never")))
    argv = [sys.executable, flow, "run", "--store", batch_store, "--quiet"]
    argv += ["--with", _with(batch_server, _image())[0]]
    cli = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:

        def both_wait() -> bool:  # both children's tasks started: their records say so
            assert cli.poll() is None, cli.communicate()[0].decode()
            if sum(":" in job for job in batch_runner.running) < 2:
                return False
            try:
                run = flowkit.Flow("WaitsFlow", store=batch_store).latest_run
                return run is not None and len(run["wait"]) == 2
            except NotFoundError:
                return False

        _when(both_wait, timeout=60)
        [parent] = {job.partition(":")[0] for job in batch_runner.running if ":" in job}
        cli.send_signal(signal.SIGTERM)
        output = cli.communicate(timeout=60)[0].decode()
    finally:
        stop_group(cli)
    assert cli.returncode != 0, output
    [described] = batch_server.client().describe_jobs(jobs=[parent])["jobs"]
    assert described["statusReason"] == "cancelled by flowkit", output
    run = flowkit.Flow("WaitsFlow", store=batch_store).latest_run
    assert run is not None and run.status == "cancelled"
    assert sorted(task.status for task in run["wait"]) == ["killed", "killed"]
