"""Job definitions: one per distinct content, named by its hash, registered once and reused.

A definition holds what does not change from task to task (image, roles, resources,
volumes, timeout); each submission only overrides the command (``python -m flowkit.worker
STORE KEY``) and a few variables, so a submission stays far below Batch's 8,192-character
limit on container overrides whatever the flow.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flowkit.executor.base import Request
from flowkit_aws_batch.options import BatchOptions, attempt_seconds, resources

#: Every definition flowkit registers is called ``flowkit-<hash of its content>``.
PREFIX = "flowkit-"


def definition(options: BatchOptions, request: Request) -> dict[str, Any]:
    """The ``RegisterJobDefinition`` arguments (without its name) for a task asking
    ``request`` with ``options``."""
    assert options.image is not None, "checked before: BatchOptions.missing"
    container: dict[str, Any] = {
        "image": options.image,
        "command": [options.python, "-m", "flowkit.worker"],  # each submission overrides it
        "resourceRequirements": resources(request),
    }
    if options.job_role:
        container["jobRoleArn"] = options.job_role
    if options.execution_role:
        container["executionRoleArn"] = options.execution_role
    # an init process forwards TerminateJob's SIGTERM to the worker (as PID 1 it would
    # ignore it for ECS's whole stop timeout), and reaps what the task leaves
    linux: dict[str, Any] = {"initProcessEnabled": True}
    if options.shared_memory:
        linux["sharedMemorySize"] = options.shared_memory
    if options.tmpfs:
        linux["tmpfs"] = [{"containerPath": p, "size": s} for p, s in options.tmpfs]
    container["linuxParameters"] = linux
    if options.efs:
        volumes, mounts = [], []
        for index, items in enumerate(options.efs):
            efs = dict(items)
            name = f"efs{index}"
            config = {"fileSystemId": efs["file_system_id"]}
            if "root_directory" in efs:
                config["rootDirectory"] = efs["root_directory"]
            volumes.append({"name": name, "efsVolumeConfiguration": config})
            mounts.append({"sourceVolume": name, "containerPath": efs["path"]})
        container["volumes"], container["mountPoints"] = volumes, mounts
    if options.env:
        container["environment"] = [{"name": k, "value": v} for k, v in options.env]
    container.update({name: json.loads(value) for name, value in options.container})
    found: dict[str, Any] = {"type": "container", "containerProperties": container}
    seconds = attempt_seconds(request.timeout)
    if seconds is not None:
        found["timeout"] = {"attemptDurationSeconds": seconds}
    return found


def name_of(content: dict[str, Any]) -> str:
    """``flowkit-<hash>``: the same content always has the same name, so a definition is
    registered once, however many runs and machines use it."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return PREFIX + hashlib.sha256(text.encode()).hexdigest()[:24]
