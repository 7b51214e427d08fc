"""What the scheduler tells the surfaces while a run goes: plain, immutable event records.

The scheduler emits events to a :class:`ProgressSink`; the terminal view, the Jupyter widget
and tests subscribe. Sinks must be quick and must never raise into the scheduler.
"""

from __future__ import annotations

from typing import Literal, Protocol

from flowkit.fastdata import dataclass, field
from flowkit.store.records import RunStatus, TaskStatus

#: What a task is doing as the surfaces show it: a stored task status, or one that only a
#: live run has (``cloned`` from the origin run, ``retrying`` after a failed attempt).
TaskPhase = TaskStatus | Literal["cloned", "retrying"]


@dataclass(frozen=True)
class StepInfo:
    """A step as the surfaces draw it: its name, where it goes, and what kind it is."""

    name: str
    targets: tuple[str, ...]
    transition: str
    is_join: bool


@dataclass(frozen=True)
class RunStarted:
    """The run started; ``resuming`` names the run a resume starts from when the user did not
    name it (``F/ID (the most recent run, by USER, TIME)``), for the view to say."""

    flow: str
    run_id: str
    store: str
    steps: tuple[StepInfo, ...]
    time: float
    resuming: str | None = None
    #: Why fewer tasks than max_workers run at once here (see :mod:`flowkit.runtime.limits`).
    limit: str | None = None


@dataclass(frozen=True)
class TaskEvent:
    """A task changed state. ``attempt`` counts from 0; ``error`` is a one-line summary."""

    step: str
    task_id: str
    status: TaskPhase
    attempt: int
    time: float
    error: str | None = None
    exit_code: int | None = None


@dataclass(frozen=True)
class TaskOutput:
    """One line a task printed, as it printed it (without the newline); what the store keeps
    of it is a :class:`flowkit.store.logs.LogLine`."""

    step: str
    task_id: str
    stream: Literal["stdout", "stderr"]
    text: str
    time: float


@dataclass(frozen=True)
class FanOut:
    """Split task ``split_task_id`` of ``step`` ended and fans out into ``count`` tasks of
    ``body``: the total a view counts the body's tasks against (each split task of a nested
    foreach adds its own). Sent before any of those tasks starts."""

    step: str
    split_task_id: str
    body: str
    count: int
    time: float


@dataclass(frozen=True)
class RunFinished:
    """The run ended. ``failure`` holds the failing task's user traceback, if one failed;
    ``resume_command`` is what the user types to resume (None if it succeeded)."""

    flow: str
    run_id: str
    status: RunStatus
    time: float
    counts: dict[str, int] = field(default_factory=dict)
    failure: str | None = None
    failed_pathspec: str | None = None
    resume_command: str | None = None


@dataclass(frozen=True)
class SlaMissed:
    """A task (``step``/``task_id``) or, with both None, the run has taken ``elapsed``
    seconds, past its SLA of ``limit`` (``learned`` from past runs, or set with ``@sla``);
    sent once, as it is seen, while it goes on (see :mod:`flowkit.runtime.sla`)."""

    flow: str
    run_id: str
    step: str | None
    task_id: str | None
    limit: float
    elapsed: float
    learned: bool
    time: float


@dataclass(frozen=True)
class RunDetached:
    """The run's scheduler was submitted to run elsewhere (``--detach``): as ``where`` on
    the ``executor`` (``"Slurm job 42"``); the run goes on without this process."""

    flow: str
    run_id: str
    store: str
    executor: str
    where: str
    time: float


Event = RunStarted | TaskEvent | TaskOutput | FanOut | SlaMissed | RunFinished | RunDetached


class ProgressSink(Protocol):
    """Receives every event of a run, in order, on the scheduler's thread."""

    def handle(self, event: Event) -> None: ...

    def close(self) -> None: ...
