"""What a step asks of AWS Batch: ``@batch(...)`` options and ``@resources`` as a job
definition and a submission.

``@batch`` (or ``--with batch:ARG=VALUE,...``) takes:

==================  ========================================================================
queue               the job queue (required)
image               the container image (required): Python with flowkit and flowkit-s3
job_role            the IAM role the container runs as (``jobRoleArn``): it must reach the
                    store's bucket
execution_role      the role ECS pulls the image and writes logs with
shared_memory       ``/dev/shm`` in MiB (``linuxParameters.sharedMemorySize``)
tmpfs               ``[{"path": "/scratch", "size": 1024}]``: tmpfs mounts (MiB)
efs                 ``[{"file_system_id": "fs-1", "path": "/data"}]`` (``root_directory``
                    too): EFS volumes mounted in the container
container           free-form ``containerProperties`` merged last (``{"privileged": True}``)
env                 more environment variables for the container (``{"NAME": "value"}``)
install             pip requirements installed at container start, for images without
                    flowkit (``"flowkit flowkit-s3"``): slower to start, for trying out
python              the interpreter in the image (default ``python``)
==================  ========================================================================

``@resources(cpu=, memory=, gpu=)`` become the ``VCPU`` (whole vCPUs, rounded up),
``MEMORY`` (MiB; 4096 when not given, as Batch needs one) and ``GPU`` resource
requirements; ``@timeout`` the job's ``attemptDurationSeconds`` (plus a margin, so that
flowkit's own kill comes first and records why).
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flowkit.executor.base import Request

#: Memory (MiB) of a job whose step gives no ``@resources(memory=)``: Batch needs one.
DEFAULT_MEMORY = 4096
#: A job's timeout this far past the step's ``@timeout``; Batch's minimum is 60 s.
TIMEOUT_MARGIN_SECONDS, MIN_BATCH_TIMEOUT = 120, 60

_STRINGS = ("queue", "image", "job_role", "execution_role", "install", "python")
KNOWN = (*_STRINGS, "shared_memory", "tmpfs", "efs", "container", "env")


class OptionError(ValueError):
    """An ``@batch`` option that is not one, or has a value of the wrong kind."""


@dataclass(frozen=True)
class BatchOptions:
    """The ``@batch`` options of a step, checked (mappings kept as sorted item tuples, so
    that equal options compare and hash equal)."""

    queue: str | None = None
    image: str | None = None
    job_role: str | None = None
    execution_role: str | None = None
    shared_memory: int | None = None
    tmpfs: tuple[tuple[str, int], ...] = ()
    efs: tuple[tuple[tuple[str, str], ...], ...] = ()
    #: ``(name, JSON of its value)``: hashable whatever the values (lists, dicts).
    container: tuple[tuple[str, str], ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    install: str | None = None
    python: str = "python"

    @staticmethod
    def of(options: Mapping[str, Any]) -> BatchOptions:
        """The options given to ``@batch`` (or ``--with batch:...``); an unknown name or a
        value of the wrong kind raises :class:`OptionError` saying which."""
        unknown = sorted(set(options) - set(KNOWN))
        if unknown:
            raise OptionError(
                f"@batch has no option {', '.join(repr(u) for u in unknown)} "
                f"(it takes: {', '.join(sorted(KNOWN))}); give other container properties "
                "as container={...}"
            )
        values: dict[str, Any] = {}
        for name in _STRINGS:
            if options.get(name) is not None:
                values[name] = _string(name, options[name])
        if options.get("shared_memory") is not None:
            values["shared_memory"] = _mib("shared_memory", options["shared_memory"])
        if options.get("tmpfs") is not None:
            values["tmpfs"] = _tmpfs(options["tmpfs"])
        if options.get("efs") is not None:
            values["efs"] = _efs(options["efs"])
        if options.get("container") is not None:
            values["container"] = _container(options["container"])
        if options.get("env") is not None:
            env = _mapping("env", options["env"])
            values["env"] = tuple(sorted((str(k), str(v)) for k, v in env.items()))
        return BatchOptions(**values)

    def missing(self) -> str | None:
        """What a job cannot be submitted without, if anything is missing."""
        lacking = [name for name in ("queue", "image") if getattr(self, name) is None]
        if not lacking:
            return None
        return (
            f"@batch needs {' and '.join(lacking)}: give them to the step "
            f"(@batch({', '.join(f'{n}=...' for n in lacking)})) or to every step "
            f"(--with batch:{','.join(f'{n}=...' for n in lacking)})"
        )

    def command(self, module: list[str]) -> list[str]:
        """The container's command: ``python -m MODULE ARGS...``, after ``pip install``
        of ``install`` when given."""
        run = [self.python, "-m", *module]
        if self.install is None:
            return run
        install = f"{shlex.quote(self.python)} -m pip install -q {self.install}"
        return ["sh", "-c", f"{install} && exec {shlex.join(run)}"]


def resources(request: Request) -> list[dict[str, str]]:
    """``@resources`` as Batch's resource requirements."""
    memory = DEFAULT_MEMORY if request.memory is None else math.ceil(float(request.memory))
    found = [
        {"type": "VCPU", "value": str(max(1, math.ceil(request.cpu)))},
        {"type": "MEMORY", "value": str(memory)},
    ]
    if request.gpu:
        found.append({"type": "GPU", "value": str(request.gpu)})
    return found


def attempt_seconds(timeout: float | None) -> int | None:
    """The job's ``attemptDurationSeconds`` for a step's ``@timeout`` (None: no limit)."""
    if timeout is None:
        return None
    return max(MIN_BATCH_TIMEOUT, math.ceil(timeout + TIMEOUT_MARGIN_SECONDS))


def _string(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise OptionError(f"@batch {name}={value!r}: give a non-empty string")
    return value


def _mib(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise OptionError(f"@batch {name}={value!r}: give a positive number of MiB")
    return math.ceil(value)


def _mapping(name: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise OptionError(f"@batch {name}={value!r}: give a dict with string keys")
    return value


def _container(value: Any) -> tuple[tuple[str, str], ...]:
    properties = _mapping("container", value)
    try:
        return tuple(sorted((k, json.dumps(v, sort_keys=True)) for k, v in properties.items()))
    except (TypeError, ValueError):
        raise OptionError(
            f"@batch container={value!r}: give values JSON can hold (strings, numbers, "
            "booleans, lists, dicts), as Batch's containerProperties take"
        ) from None


def _tmpfs(value: Any) -> tuple[tuple[str, int], ...]:
    hint = '[{"path": "/scratch", "size": 1024}]'
    if not isinstance(value, list | tuple):
        raise OptionError(f"@batch tmpfs={value!r}: give a list such as {hint}")
    mounts = []
    for item in value:
        if not isinstance(item, Mapping) or not isinstance(item.get("path"), str):
            raise OptionError(f"@batch tmpfs={value!r}: give a list such as {hint}")
        mounts.append((item["path"], _mib("tmpfs size", item.get("size"))))
    return tuple(mounts)


def _efs(value: Any) -> tuple[tuple[tuple[str, str], ...], ...]:
    hint = '[{"file_system_id": "fs-12345678", "path": "/data"}]'
    if not isinstance(value, list | tuple):
        raise OptionError(f"@batch efs={value!r}: give a list such as {hint}")
    volumes = []
    for item in value:
        keys = {"file_system_id", "path", "root_directory"}
        if (
            not isinstance(item, Mapping)
            or not {"file_system_id", "path"} <= set(item) <= keys
            or not all(isinstance(v, str) for v in item.values())
        ):
            raise OptionError(f"@batch efs={value!r}: give a list such as {hint}")
        volumes.append(tuple(sorted(item.items())))
    return tuple(volumes)
