"""What the test cluster says of a run's jobs: ``scontrol show job -o`` fields, ``squeue``
lines (every job of a run, by its name ``flowkit:FLOW/RUN/STEP``), and polling for a
condition with a deadline."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from slurmcluster import SlurmCluster

from flowkit_slurm.commands import ENDED_STATES

T = TypeVar("T")

#: One ``Key=value`` of ``scontrol show job -o``: a value runs to the next `` Key=`` (a value
#: holds ``=`` itself, as in ``TRES=cpu=1,mem=100M``; keys hold ``:`` and ``/``).
_FIELD = re.compile(r"(?:^|\s)([A-Za-z][\w:/]*)=(.*?)(?=\s+[A-Za-z][\w:/]*=|\s*$)")


def parse_fields(line: str) -> dict[str, str]:
    """The fields of one line of ``scontrol show job -o``."""
    return dict(_FIELD.findall(line.strip()))


def jobs_fields(cluster: SlurmCluster, job_id: str) -> list[dict[str, str]]:
    """The fields of every record ``scontrol show job -o JOB_ID`` prints (an array's id: one
    per element, pending elements possibly in one record)."""
    text = cluster.command("scontrol", "show", "job", "-o", job_id).stdout
    return [parse_fields(line) for line in text.splitlines() if line.strip()]


def job_fields(cluster: SlurmCluster, job_id: str) -> dict[str, str]:
    """The fields of one job (``12``) or array element (``12_3``), as ``scontrol show job -o``
    says them (``{"JobState": "COMPLETED", "NumCPUs": "3", ...}``)."""
    assert job_id, "no job id given: scontrol would show every job"
    records = jobs_fields(cluster, job_id)
    assert len(records) == 1, f"scontrol shows {len(records)} records for job {job_id}"
    return records[0]


@dataclass(frozen=True)
class Job:
    """One job or array element of a run, as ``squeue --array`` lists it."""

    job_id: str  #: ``12``, or ``12_3`` for an array element
    array_id: str  #: the id it was submitted as (``12`` for every element of array 12)
    index: int | None  #: its array index, None for a single job
    step: str
    state: str  #: ``COMPLETED``, ``RUNNING``, ...
    reason: str


_SQUEUE_FORMAT = "%i|%F|%K|%T|%r|%j"


def run_jobs(cluster: SlurmCluster, flow: str, run_id: str) -> list[Job]:
    """Every job of the run ``flow``/``run_id`` that squeue knows (finished ones too, for
    MinJobAge), one per array element, sorted by submission then index."""
    text = cluster.command(
        "squeue", "--states=all", "--array", "--noheader", "-o", _SQUEUE_FORMAT
    ).stdout
    prefix = f"flowkit:{flow}/{run_id}/"
    jobs = []
    for line in text.splitlines():
        job_id, array_id, index, state, reason, name = line.strip().split("|", 5)
        if name.startswith(prefix):
            number = int(index) if index.isdigit() else None
            step = name[len(prefix) :]
            jobs.append(Job(job_id, array_id, number, step, state, reason))
    return sorted(jobs, key=lambda j: (int(j.array_id), j.index or 0))


def jobs_by_step(jobs: list[Job]) -> dict[str, list[Job]]:
    """``jobs`` grouped by their step."""
    found: dict[str, list[Job]] = {}
    for job in jobs:
        found.setdefault(job.step, []).append(job)
    return found


def wait_until(
    predicate: Callable[[], T], timeout: float = 30, every: float = 0.1, what: str = ""
) -> T:
    """Call ``predicate`` until it returns something true, and return that; fail the test
    (saying ``what`` was awaited) if ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {timeout} s: {what or predicate}"
        time.sleep(every)


# -- running flowkit as a user would (e2e-B) --------------------------------------------------
ROOT = Path(__file__).resolve().parents[3]


def user_env(cluster: SlurmCluster, folder: Path, **extra: str) -> dict[str, str]:
    """The environment of a user's command against ``cluster``: flowkit importable from this
    checkout, none of this process's ``FLOWKIT_*`` settings, Slurm's output files under
    ``folder`` (``$XDG_CACHE_HOME/flowkit/slurm``), and ``extra``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("FLOWKIT_")}
    return {
        **base,
        **cluster.env(),
        "PYTHONPATH": str(ROOT),
        "XDG_CACHE_HOME": str(folder / "cache"),
        **extra,
    }


def python(
    env: dict[str, str], *args: str | Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` (a flow file and its command, ``-m flowkit.cli.main ...``) in ``env``."""
    return subprocess.run(
        [sys.executable, *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ended_jobs(
    cluster: SlurmCluster, flow: str, run_id: str, timeout: float = 30
) -> dict[str, list[Job]]:
    """The run's jobs by step (:func:`run_jobs`, :func:`jobs_by_step`) once every one has
    ended: a cancelled job is ``COMPLETING`` until its processes are gone."""

    def ended() -> tuple[list[Job]] | None:  # a tuple: a run may have no job
        jobs = run_jobs(cluster, flow, run_id)
        return (jobs,) if all(job.state in ENDED_STATES for job in jobs) else None

    (jobs,) = wait_until(ended, timeout, what=f"the end of {flow}/{run_id}'s jobs")
    return jobs_by_step(jobs)


def alive(pid: int) -> bool:
    """Whether the process ``pid`` runs (a zombie, awaiting its parent's wait, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"
