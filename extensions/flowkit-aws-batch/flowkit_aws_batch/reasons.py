"""Why a Batch job ended without its task's final record, from what Batch says of it: the
message the task's error shows, and whether the task is lost (retried even without
``@retry``) or failed.

A reclaimed spot instance, a container killed for memory, an instance that died: the
machine failed, and the task is lost. An image that cannot be pulled or started, or a
command it does not have: the same job would fail again, so the task failed. A job that hit
its Batch timeout failed as a timeout does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowkit.executor.base import Failed, Lost

#: Words of ``statusReason`` or ``container.reason`` that say the image, not the machine,
#: is at fault.
_IMAGE_FAULTS = ("CannotPullContainerError", "CannotStartContainerError", "CannotCreateContainer")
#: Exit statuses of a command that could not run the task: the image lacks the command
#: (126, 127), or flowkit's worker could not start it (2: no such spec, a bad index).
_NOT_RUN = (2, 126, 127)
_TIMED_OUT = "Job attempt duration exceeded timeout"
#: The ``statusReason`` of a job whose container exited by itself.
NORMAL_EXIT = "Essential container in task exited"


def explain(key: str, job_id: str, job: Mapping[str, Any] | None, began: bool) -> Failed | Lost:
    """The end of the task ``key`` whose job ``job_id`` Batch describes as ``job`` (None:
    Batch no longer knows it), with no final record; ``began``: its start record was
    written."""
    when = "without the task's final record" if began else "before the task started"
    if job is None:
        return Lost(key, f"AWS Batch job {job_id} ended {when}, and Batch no longer knows it")
    container = job.get("container") or {}
    status = str(job.get("status"))
    why = "; ".join(
        str(part)
        for part in (job.get("statusReason"), container.get("reason"))
        if part and part != NORMAL_EXIT
    )
    code = container.get("exitCode")
    said = f"AWS Batch job {job_id} ended {status} {when}"
    if why:
        said += f": {why}"
    if code is not None:
        said += f" (exit code {code})"
    stream = container.get("logStreamName")
    if stream:
        said += f"; its CloudWatch log stream: {stream}"
    if status == "SUCCEEDED" and not why:
        return Lost(key, f"{said}; its record never reached the store")
    if _TIMED_OUT in why:
        return Failed(key, -9, f"{said}: it reached its Batch timeout")
    if code in _NOT_RUN or any(fault in why for fault in _IMAGE_FAULTS):
        return Failed(key, int(code) if code is not None else 1, f"{said}: fix the image")
    return Lost(key, said)
