"""Why a job ended without its task's final record, from what Slurm and the job's output
file say: the message the task's error shows."""

from __future__ import annotations

from pathlib import Path

from flowkit.executor.base import Failed, Lost
from flowkit_slurm.commands import JobState
from flowkit_slurm.script import exit_status, without_trailer

#: Job states that mean the machine, not the task, failed: the task is retried as lost.
_MACHINE_FAILED = {
    "NODE_FAIL": "its node failed",
    "BOOT_FAIL": "its node failed to boot",
    "PREEMPTED": "it was preempted",
}
#: How much of a job's output file an error quotes, at most.
_QUOTED_BYTES = 2000


def explain(
    key: str, job_id: str, state: JobState | None, output: Path, began: bool
) -> Failed | Lost:
    """The end of the task ``key`` whose job ``job_id`` ended (Slurm last said ``state``;
    None: it no longer knows the job) with no final record; ``began``: the task's start
    record was written."""
    text = _tail(output)
    quoted = without_trailer(text)
    said = f"; its output ({output}):\n{quoted}" if quoted else ""
    when = "without the task's final record" if began else "before the task started"
    if state is None:
        return Lost(key, f"Slurm job {job_id} ended {when} and Slurm no longer knows it{said}")
    if state.state in _MACHINE_FAILED:
        why = f"({state.state}): {_MACHINE_FAILED[state.state]}"
        return Lost(key, f"Slurm job {job_id} ended {when} {why}{said}")
    head = f"Slurm job {job_id} ended {when} ({state.state}"
    head += f", {state.reason})" if state.reason not in ("", "None") else ")"
    if state.state == "CANCELLED":
        return Failed(key, -15, f"{head}: it was cancelled outside flowkit (scancel){said}")
    if state.state in ("TIMEOUT", "DEADLINE"):
        return Failed(key, -9, f"{head}: it reached its Slurm time limit{said}")
    if state.state == "OUT_OF_MEMORY":
        return Failed(key, -9, f"{head}: it ran out of memory (ask for more: @resources){said}")
    status = exit_status(text)
    return Failed(key, status or 1, f"{head}{said}")


def _tail(path: Path) -> str:
    """The end of the job's output file ('' if there is none to read)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - _QUOTED_BYTES))
            return fh.read().decode(errors="replace")
    except OSError:
        return ""
