"""The test Batch itself: moto answers as Batch on 127.0.0.1 only, the runner runs what was
submitted (once, with what Batch gives a container), jobs die when told, everything stops."""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import psutil
import pytest
from batchsim import QUEUE, SPOT_RECLAIMED, BatchServer, JobRun, Runner, Throttle, running
from botocore.config import Config
from botocore.exceptions import ClientError

#: A job's command: what its process sees, as JSON on stdout.
SHOW = (
    "import json, os, sys; print(json.dumps({'argv': sys.argv[1:], 'python': sys.executable, "
    "'env': {k: v for k, v in os.environ.items() if k.startswith(('AWS_', 'FROM_'))}}))"
)


def _definition(batch: Any, **container: Any) -> str:
    properties = {
        "image": "flowkit-py311:latest",
        "command": ["python", "-c", SHOW, "from-definition"],
        "environment": [
            {"name": "FROM_DEFINITION", "value": "d"},
            {"name": "FROM_BOTH", "value": "definition"},
        ],
        "resourceRequirements": [
            {"type": "VCPU", "value": "2"},
            {"type": "MEMORY", "value": "2048"},
            {"type": "GPU", "value": "1"},
        ],
        **container,
    }
    name = f"sim-{uuid.uuid4().hex[:8]}"
    answer = batch.register_job_definition(
        jobDefinitionName=name, type="container", containerProperties=properties
    )
    arn: str = answer["jobDefinitionArn"]
    return arn


def _shown(run: JobRun) -> dict[str, Any]:
    assert run.exit_code == 0, run.stderr
    shown: dict[str, Any] = json.loads(run.stdout)
    return shown


def test_moto_is_in_no_docker_mode_with_the_queue(batch_server: BatchServer) -> None:
    assert batch_server.config()["batch"] == {"use_docker": False}
    queues = batch_server.client().describe_job_queues(jobQueues=[QUEUE])["jobQueues"]
    assert [(q["jobQueueName"], q["state"]) for q in queues] == [(QUEUE, "ENABLED")]


def test_batch_env_sends_batch_to_moto_and_s3_to_seaweedfs(
    batch_env: dict[str, str], batch_server: BatchServer, batch_store: str
) -> None:
    batch, s3 = boto3.client("batch"), boto3.client("s3")  # configured by the environment alone
    assert batch.meta.endpoint_url == batch_server.endpoint
    assert s3.meta.endpoint_url == batch_env["AWS_ENDPOINT_URL"] != batch_server.endpoint
    assert [q["jobQueueName"] for q in batch.describe_job_queues()["jobQueues"]] == [QUEUE]
    bucket, _, prefix = batch_store.removeprefix("s3://").partition("/")
    s3.put_object(Bucket=bucket, Key=f"{prefix}/x", Body=b"1")  # SeaweedFS checks signatures
    assert s3.get_object(Bucket=bucket, Key=f"{prefix}/x")["Body"].read() == b"1"


def test_a_job_runs_once_with_its_command_and_environment(
    batch_runner: Runner, batch_env: dict[str, str]
) -> None:
    batch = boto3.client("batch")
    definition = _definition(batch)
    submitted = time.time()
    job = batch.submit_job(
        jobName="single",
        jobQueue=QUEUE,
        jobDefinition=definition,
        containerOverrides={
            "command": ["python", "-c", SHOW, "overridden"],
            "environment": [
                {"name": "FROM_BOTH", "value": "override"},
                {"name": "FROM_OVERRIDE", "value": "o"},
            ],
        },
    )["jobId"]
    [run] = batch_runner.wait(1)
    assert run.job_id == job and run.index is None and run.job.name == "single"
    assert run.job.argv == ("python", "-c", SHOW, "overridden")
    assert run.job.image == "flowkit-py311:latest"
    assert run.job.resource_requirements == (("VCPU", "2"), ("MEMORY", "2048"), ("GPU", "1"))
    batch_given = {
        "FROM_DEFINITION": "d",
        "FROM_BOTH": "override",
        "FROM_OVERRIDE": "o",
        "AWS_BATCH_JOB_ID": job,
        "AWS_BATCH_JQ_NAME": QUEUE,
        "AWS_BATCH_CE_NAME": "flowkit-tests-ce",
        "AWS_BATCH_JOB_ATTEMPT": "1",
    }
    assert run.job.env == batch_given
    shown = _shown(run)
    assert shown["argv"] == ["overridden"] and shown["python"] == sys.executable
    # what Batch gives, over what the job's role gives (here: both test servers)
    assert shown["env"] == {**batch_env, **batch_given}
    assert run.started - submitted < 2  # polled every 0.2 s; 2 cores shared
    time.sleep(1)
    assert len(batch_runner.runs) == 1  # once only


def test_an_array_job_runs_each_child_with_its_index(batch_runner: Runner) -> None:
    batch = boto3.client("batch")
    parent = batch.submit_job(
        jobName="array", jobQueue=QUEUE, jobDefinition=_definition(batch),
        arrayProperties={"size": 3},
    )["jobId"]  # fmt: skip
    runs = sorted(batch_runner.wait(3), key=lambda run: run.job_id)
    assert [(run.job_id, run.index) for run in runs] == [(f"{parent}:{i}", i) for i in range(3)]
    for index, run in enumerate(runs):
        env = _shown(run)["env"]
        assert env["AWS_BATCH_JOB_ARRAY_INDEX"] == str(index)
        assert env["AWS_BATCH_JOB_ID"] == f"{parent}:{index}"
        assert _shown(run)["argv"] == ["from-definition"]


def test_jobs_submitted_before_the_runner_started_are_left_alone(
    batch_server: BatchServer, batch_env: dict[str, str], tmp_path: Path
) -> None:
    batch = boto3.client("batch")
    definition = _definition(batch)
    batch.submit_job(jobName="before", jobQueue=QUEUE, jobDefinition=definition)
    with Runner(batch_server, tmp_path / "jobs", batch_env) as runner:
        batch.submit_job(jobName="during", jobQueue=QUEUE, jobDefinition=definition)
        assert [run.job.name for run in runner.wait(1)] == ["during"]
        time.sleep(0.6)
        assert len(runner.runs) == 1


def test_a_job_told_to_die_dies_as_a_reclaimed_spot_instance(batch_runner: Runner) -> None:
    batch = boto3.client("batch")
    batch_runner.die(lambda job: job.name == "never")
    batch_runner.die(lambda job: job.name == "killed", after=0.3)
    sleeping = _definition(batch, command=["python", "-c", "import time; time.sleep(60)"])
    never = batch.submit_job(jobName="never", jobQueue=QUEUE, jobDefinition=sleeping)["jobId"]
    killed = batch.submit_job(jobName="killed", jobQueue=QUEUE, jobDefinition=sleeping)["jobId"]
    runs = {run.job_id: run for run in batch_runner.wait(2)}
    assert (runs[never].exit_code, runs[never].reason) == (None, SPOT_RECLAIMED)
    assert (runs[killed].exit_code, runs[killed].reason) == (-9, SPOT_RECLAIMED)
    assert runs[killed].ended - runs[killed].started < 5
    for job in batch.describe_jobs(jobs=[never, killed])["jobs"]:
        assert job["statusReason"] == SPOT_RECLAIMED
        assert job["status"] == "SUCCEEDED"  # moto keeps it; Batch would say FAILED


def test_throttle_answers_429_which_botocore_retries(batch_server: BatchServer) -> None:
    def client(retries: dict[str, Any]) -> Any:
        return boto3.client(
            "batch", endpoint_url=batch_server.endpoint, region_name="us-east-1",
            aws_access_key_id="a", aws_secret_access_key="b", config=Config(retries=retries),
        )  # fmt: skip

    once = client({"mode": "standard", "total_max_attempts": 1})
    throttle = Throttle(once, "DescribeJobs", times=1)
    with pytest.raises(ClientError) as raised:
        once.describe_jobs(jobs=["j"])
    assert raised.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert once.describe_jobs(jobs=["j"])["jobs"] == [] and throttle.sent == 2
    retried = client({"mode": "standard", "total_max_attempts": 3})
    throttle = Throttle(retried, "DescribeJobs", times=2)
    answer = retried.describe_jobs(jobs=["j"])
    assert (throttle.sent, answer["ResponseMetadata"]["RetryAttempts"]) == (3, 2)
    assert retried.list_jobs(jobQueue=QUEUE)["ResponseMetadata"]["RetryAttempts"] == 0


def test_the_server_listens_on_127_0_0_1_only(batch_server: BatchServer) -> None:
    listening = {
        (c.laddr.ip, c.laddr.port)
        for c in psutil.Process(batch_server.process.pid).net_connections("tcp")
        if c.status == psutil.CONN_LISTEN
    }
    port = int(batch_server.endpoint.rpartition(":")[2])
    assert listening == {("127.0.0.1", port)}


def test_everything_stops_on_exit(tmp_path: Path, s3_server: Any) -> None:
    with running(tmp_path / "moto") as server:
        batch = server.client()
        definition = _definition(batch, command=["python", "-c", "import time; time.sleep(60)"])
        with Runner(server, tmp_path / "jobs", s3_server.env()) as runner:
            batch.submit_job(jobName="sleeper", jobQueue=QUEUE, jobDefinition=definition)
            deadline = time.monotonic() + 10
            while not runner.running:
                assert time.monotonic() < deadline, "the job did not start"
                time.sleep(0.05)
            [pid] = runner.running.values()
        with pytest.raises(psutil.NoSuchProcess):
            psutil.Process(pid)
        assert [run.exit_code for run in runner.runs] == [-15]  # stopped with the runner
    assert server.process.poll() is not None
    with pytest.raises(psutil.NoSuchProcess):
        psutil.Process(server.process.pid)
