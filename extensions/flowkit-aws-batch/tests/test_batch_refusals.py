"""What AWS Batch is never asked to run: a queue that does not exist (asked once, before
any job), a detached scheduler that could not reach a local store, and a job Batch says can
never leave its queue."""

from __future__ import annotations

from pathlib import Path

import pytest
from batchsim import BatchServer
from tests.flows.linear import LinearFlow
from tests.runtime.test_shapes import Quiet

import flowkit
from flowkit.errors import FlowkitError
from flowkit_aws_batch.executor import _misconfigured


def test_a_queue_that_does_not_exist_stops_the_run_before_any_job(
    batch_server: BatchServer, batch_store: str
) -> None:
    with pytest.raises(flowkit.RunFailed) as failed:
        flowkit.run(
            LinearFlow,
            store=batch_store,
            with_decorators=["batch:queue=no-such-queue,image=python:3.11"],
            progress=Quiet(),
        )
    message = str(failed.value)
    assert "step 'start' cannot run on batch" in message, message
    assert "AWS Batch has no job queue 'no-such-queue' in this region" in message, message
    assert list(failed.value.run) == []


def test_detach_with_a_local_store_is_refused_before_anything_is_submitted(
    batch_server: BatchServer, batch_env: dict[str, str], tmp_path: Path
) -> None:
    jobs = batch_server.client().list_jobs(jobQueue=batch_server.queue)["jobSummaryList"]
    with pytest.raises(FlowkitError) as refused:
        flowkit.run(
            LinearFlow,
            store=str(tmp_path / "local"),
            with_decorators=[f"batch:queue={batch_server.queue},image=python:3.11"],
            progress=Quiet(),
            detach=True,
        )
    assert "its job could not reach this run's store" in refused.value.message
    assert "--store s3://BUCKET/PREFIX" in refused.value.render()
    after = batch_server.client().list_jobs(jobQueue=batch_server.queue)["jobSummaryList"]
    assert len(after) == len(jobs)  # nothing was submitted


@pytest.mark.parametrize(
    ("job", "stuck"),
    [
        (
            {"status": "RUNNABLE", "statusReason": "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"},
            "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
        ),
        ({"status": "RUNNABLE"}, None),  # waiting for capacity: it may yet run
        ({"status": "RUNNING", "statusReason": "MISCONFIGURATION:x"}, None),
        (None, None),
    ],
)
def test_a_job_batch_can_never_place_is_told_apart_from_one_that_waits(
    job: dict[str, str] | None, stuck: str | None
) -> None:
    assert _misconfigured(job) == stuck


UNPLACEABLE = """\
from flowkit import FlowSpec, batch, resources, step


class UnplaceableFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.work, foreach="items")

    @resources(gpu=8)
    @batch(queue="{queue}", image="python:3.11")
    @step
    def work(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


@pytest.mark.slow
def test_an_array_batch_can_never_place_fails_its_tasks_with_batchs_reason(
    batch_server: BatchServer, batch_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto places every job; real Batch keeps one its compute environments cannot take
    # RUNNABLE, saying why in statusReason: these are Batch's answers, as it gives them
    from flowkit_aws_batch.client import Batch

    reason = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement is unmet"
    described = Batch.describe

    def describe(self: Batch, job_ids: object) -> dict[str, dict[str, object]]:
        found = described(self, job_ids)  # type: ignore[arg-type]
        return {
            k: {**job, "status": "RUNNABLE", "statusReason": reason} for k, job in found.items()
        }

    terminated: list[str] = []
    monkeypatch.setattr(Batch, "describe", describe)
    monkeypatch.setattr(Batch, "terminate", lambda self, ids, why: terminated.extend(ids))
    flow = tmp_path / "unplaceable.py"
    flow.write_text(UNPLACEABLE.format(queue=batch_server.queue))
    with pytest.raises(flowkit.RunFailed) as failed:
        flowkit.run(flow, store=batch_store, progress=Quiet())
    work = list(failed.value.run["work"])
    assert len(work) == 3
    parents = set()
    for task in work:
        error = str(task.exception)
        assert "AWS Batch cannot run job " in error and reason in error, error
        parents.add(error.split("cannot run job ")[1].split(":")[0])
    assert len(parents) == 1 and terminated == sorted(parents)  # the array, terminated once
