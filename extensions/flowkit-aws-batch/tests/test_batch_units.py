"""The Batch executor's pure parts: ``@batch`` options, job definitions and their names,
why a job ended without its record, and the client's operation names."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from flowkit.executor.base import KILLED_STATUS, Failed, Lost, Request
from flowkit_aws_batch.client import _snake
from flowkit_aws_batch.jobdefs import definition, name_of
from flowkit_aws_batch.options import BatchOptions, OptionError
from flowkit_aws_batch.reasons import NORMAL_EXIT, explain

EVERY = {
    "queue": "q",
    "image": "img:1",
    "job_role": "arn:aws:iam::1:role/job",
    "execution_role": "arn:aws:iam::1:role/exec",
    "shared_memory": 512.5,
    "tmpfs": [{"path": "/scratch", "size": 1024}],
    "efs": [{"file_system_id": "fs-1", "path": "/data", "root_directory": "/shared"}],
    "container": {"privileged": True, "user": "nobody"},
    "env": {"B": 2, "A": "1"},
    "install": "flowkit flowkit-s3",
    "python": "python3.11",
}


def test_options_of_every_option() -> None:
    options = BatchOptions.of(EVERY)
    assert options == BatchOptions(
        queue="q",
        image="img:1",
        job_role="arn:aws:iam::1:role/job",
        execution_role="arn:aws:iam::1:role/exec",
        shared_memory=513,  # MiB, rounded up
        tmpfs=(("/scratch", 1024),),
        efs=((("file_system_id", "fs-1"), ("path", "/data"), ("root_directory", "/shared")),),
        container=(("privileged", "true"), ("user", '"nobody"')),  # values as JSON
        env=(("A", "1"), ("B", "2")),  # sorted, values as strings
        install="flowkit flowkit-s3",
        python="python3.11",
    )
    # equal options (dicts in another order) compare and hash equal: one group, one definition
    again = BatchOptions.of({**EVERY, "env": {"A": "1", "B": "2"}})
    assert again == options and hash(again) == hash(options)
    assert BatchOptions.of({}) == BatchOptions()
    assert BatchOptions.of({"queue": None, "image": "i"}) == BatchOptions(image="i")


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("queue", 3, "@batch queue=3: give a non-empty string"),
        ("image", "", "@batch image='': give a non-empty string"),
        ("shared_memory", True, "@batch shared_memory=True: give a positive number of MiB"),
        ("shared_memory", -1, "@batch shared_memory=-1: give a positive number of MiB"),
        ("shared_memory", "64", "@batch shared_memory='64': give a positive number of MiB"),
        ("tmpfs", "/scratch", "give a list such as"),
        ("tmpfs", [{"size": 10}], "give a list such as"),
        ("tmpfs", [{"path": "/s", "size": 0}], "@batch tmpfs size=0: give a positive number"),
        ("efs", {"file_system_id": "fs-1", "path": "/d"}, "give a list such as"),
        ("efs", [{"file_system_id": "fs-1"}], "give a list such as"),
        ("efs", [{"file_system_id": "fs-1", "path": "/d", "mode": "ro"}], "give a list such as"),
        ("efs", [{"file_system_id": 1, "path": "/d"}], "give a list such as"),
        ("container", ["privileged"], "@batch container=['privileged']: give a dict"),
        ("env", {1: "x"}, "@batch env={1: 'x'}: give a dict with string keys"),
    ],
)
def test_options_of_the_wrong_kind_say_which(name: str, value: Any, said: str) -> None:
    with pytest.raises(OptionError) as raised:
        BatchOptions.of({name: value})
    assert said in str(raised.value)


def test_unknown_options_are_named_with_what_it_takes() -> None:
    with pytest.raises(OptionError) as raised:
        BatchOptions.of({"queue": "q", "cpus": 4, "gpu_type": "a100"})
    message = str(raised.value)
    assert message.startswith("@batch has no option 'cpus', 'gpu_type' (it takes: container, ")
    assert "queue" in message and "container={...}" in message


def test_missing_names_queue_and_image() -> None:
    assert BatchOptions(queue="q", image="i").missing() is None
    assert BatchOptions(queue="q").missing() == (
        "@batch needs image: give them to the step (@batch(image=...)) "
        "or to every step (--with batch:image=...)"
    )
    assert BatchOptions().missing() == (
        "@batch needs queue and image: give them to the step (@batch(queue=..., image=...)) "
        "or to every step (--with batch:queue=...,image=...)"
    )


def test_command_runs_the_module_after_install_when_given() -> None:
    module = ["flowkit.worker", "--quiet", "s3://b/p", "specs/k"]
    assert BatchOptions().command(module) == ["python", "-m", *module]
    installing = BatchOptions(install="flowkit flowkit-s3", python="/opt/py 3/bin/python")
    sh, dash_c, script = installing.command(module)
    assert (sh, dash_c) == ("sh", "-c")
    assert script == (
        "'/opt/py 3/bin/python' -m pip install -q flowkit flowkit-s3 && exec "
        "'/opt/py 3/bin/python' -m flowkit.worker --quiet s3://b/p specs/k"
    )
    assert shlex.split(script)[-6:] == ["/opt/py 3/bin/python", "-m", *module]


def test_definition_holds_resources_options_and_timeout() -> None:
    options = BatchOptions.of(EVERY)
    content = definition(options, Request(cpu=2.5, gpu=1, memory=5000.2, timeout=30))
    container = content.pop("containerProperties")
    assert content == {"type": "container", "timeout": {"attemptDurationSeconds": 150}}
    assert container == {
        "image": "img:1",
        "command": ["python3.11", "-m", "flowkit.worker"],
        "resourceRequirements": [
            {"type": "VCPU", "value": "3"},
            {"type": "MEMORY", "value": "5001"},
            {"type": "GPU", "value": "1"},
        ],
        "jobRoleArn": "arn:aws:iam::1:role/job",
        "executionRoleArn": "arn:aws:iam::1:role/exec",
        "linuxParameters": {
            "initProcessEnabled": True,
            "sharedMemorySize": 513,
            "tmpfs": [{"containerPath": "/scratch", "size": 1024}],
        },
        "volumes": [
            {
                "name": "efs0",
                "efsVolumeConfiguration": {"fileSystemId": "fs-1", "rootDirectory": "/shared"},
            }
        ],
        "mountPoints": [{"sourceVolume": "efs0", "containerPath": "/data"}],
        "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
        "privileged": True,
        "user": "nobody",
    }


def test_a_plain_definition_has_a_default_memory_and_no_timeout() -> None:
    content = definition(BatchOptions(queue="q", image="i"), Request())
    assert content == {
        "type": "container",
        "containerProperties": {
            "image": "i",
            "command": ["python", "-m", "flowkit.worker"],
            "resourceRequirements": [
                {"type": "VCPU", "value": "1"},
                {"type": "MEMORY", "value": "4096"},
            ],
            # an init process: TerminateJob's SIGTERM reaches the worker at once
            "linuxParameters": {"initProcessEnabled": True},
        },
    }
    # container={...} is merged last: it may replace what flowkit sets
    merged = definition(BatchOptions.of({"image": "i", "container": {"image": "j"}}), Request())
    assert merged["containerProperties"]["image"] == "j"


def test_container_properties_may_hold_lists_and_dicts() -> None:
    ulimits = [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}]
    given = {"image": "i", "container": {"ulimits": ulimits, "logConfiguration": {"a": 1}}}
    options = BatchOptions.of(given)
    assert hash(options) == hash(BatchOptions.of(given))  # a group key of the executor
    container = definition(options, Request())["containerProperties"]
    assert container["ulimits"] == ulimits and container["logConfiguration"] == {"a": 1}
    with pytest.raises(OptionError) as raised:
        BatchOptions.of({"container": {"user": object}})
    assert "give values JSON can hold" in str(raised.value)


def test_name_of_is_stable_and_changes_with_the_content() -> None:
    options = BatchOptions(queue="q", image="i")
    name = name_of(definition(options, Request()))
    assert name.startswith("flowkit-") and len(name) == len("flowkit-") + 24
    assert name == name_of(definition(BatchOptions(queue="other", image="i"), Request()))
    reordered = dict(reversed(list(definition(options, Request()).items())))
    assert name_of(reordered) == name  # key order does not matter
    others = {
        name_of(definition(options, Request(cpu=2))),
        name_of(definition(options, Request(memory=1000))),
        name_of(definition(options, Request(gpu=1))),
        name_of(definition(options, Request(timeout=10))),
        name_of(definition(BatchOptions(image="j"), Request())),
        name_of(definition(BatchOptions(image="i", env=(("A", "1"),)), Request())),
    }
    assert len(others) == 6 and name not in others


def _job(status: str, status_reason: str | None = None, **container: Any) -> dict[str, Any]:
    job: dict[str, Any] = {"jobId": "j-1", "status": status, "container": container}
    if status_reason is not None:
        job["statusReason"] = status_reason
    return job


SPOT = "Host EC2 (instance i-0f1a2b3c4d5e6f708) terminated."


def test_a_reclaimed_spot_instance_is_lost_with_its_reason_and_log_stream() -> None:
    job = _job("FAILED", SPOT, logStreamName="flowkit/default/abc")
    assert explain("k", "j-1", job, True) == Lost(
        "k",
        f"AWS Batch job j-1 ended FAILED without the task's final record: {SPOT}; "
        "its CloudWatch log stream: flowkit/default/abc",
    )
    # killed for memory: the container's reason too, and its exit code
    oom = _job("FAILED", NORMAL_EXIT, reason="OutOfMemoryError: Container killed", exitCode=137)
    assert explain("k", "j-1", oom, False) == Lost(
        "k",
        "AWS Batch job j-1 ended FAILED before the task started: "
        "OutOfMemoryError: Container killed (exit code 137)",
    )


def test_an_image_at_fault_fails_without_retry() -> None:
    pull = _job("FAILED", "CannotPullContainerError: pull access denied for nope")
    assert explain("k", "j-1", pull, False) == Failed(
        "k",
        1,
        "AWS Batch job j-1 ended FAILED before the task started: CannotPullContainerError: "
        "pull access denied for nope: fix the image",
    )
    missing = _job("FAILED", NORMAL_EXIT, exitCode=127, logStreamName="s/1")
    assert explain("k", "j-1", missing, False) == Failed(
        "k",
        127,
        "AWS Batch job j-1 ended FAILED before the task started (exit code 127); "
        "its CloudWatch log stream: s/1: fix the image",
    )
    assert isinstance(explain("k", "j", _job("FAILED", None, exitCode=126), False), Failed)


def test_a_batch_timeout_fails_as_a_timeout() -> None:
    job = _job("FAILED", "Job attempt duration exceeded timeout")
    assert explain("k", "j-1", job, True) == Failed(
        "k",
        KILLED_STATUS,
        "AWS Batch job j-1 ended FAILED without the task's final record: Job attempt duration "
        "exceeded timeout: it reached its Batch timeout",
    )


def test_succeeded_without_a_record_and_a_forgotten_job_are_lost() -> None:
    job = _job("SUCCEEDED", NORMAL_EXIT, exitCode=0)
    assert explain("k", "j-1", job, True) == Lost(
        "k",
        "AWS Batch job j-1 ended SUCCEEDED without the task's final record (exit code 0); "
        "its record never reached the store",
    )
    assert explain("k", "j-1", None, False) == Lost(
        "k", "AWS Batch job j-1 ended before the task started, and Batch no longer knows it"
    )


def test_snake_names_the_boto3_method() -> None:
    assert _snake("DescribeJobs") == "describe_jobs"
    assert _snake("RegisterJobDefinition") == "register_job_definition"
    assert _snake("SubmitJob") == "submit_job"
