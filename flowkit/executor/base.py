"""The executor interface the scheduler drives, and the plain data it passes through it.

An executor runs task specs somewhere (forked from a warm worker here, as a cluster job
there) and reports what happened to them as typed messages; it never exposes a process id or
a signal. It owns resource accounting: :meth:`Executor.check` says why a request can never
be met, and a request that cannot be met *yet* waits in the executor (or the cluster's
queue). Whether a task succeeded is the store's word, not the executor's: the scheduler
reads the attempt's final record whatever message ended it.

An executor is found by name through the ``flowkit.executors`` entry-point group (see
:mod:`flowkit.executor.registry`); the entry point names an :data:`ExecutorFactory`.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

from flowkit.fastdata import dataclass, field
from flowkit.task.spec import CodeRef, TaskSpec

if TYPE_CHECKING:
    from flowkit.store import Store

#: The exit status recorded for a task that was killed or lost without one of its own.
KILLED_STATUS = -int(signal.SIGKILL)


@dataclass(frozen=True)
class Request:
    """What one task asks of the executor that runs it: ``@resources`` (``memory`` and
    ``disk`` in MB, None where not given) and the arguments of the step's executor
    decorator (``@slurm(partition="gpu")`` -> ``{"partition": "gpu"}``)."""

    cpu: float = 1.0
    gpu: int = 0
    memory: float | None = None
    disk: float | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    #: The step's ``@timeout`` in seconds: the scheduler cancels the task then; a cluster
    #: executor may also give the job a time limit a little past it.
    timeout: float | None = None

    @staticmethod
    def of(
        resources: Mapping[str, Any] | None,
        options: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Request:
        """The request of a step with ``@resources(**resources)`` (a step without it needs
        one CPU) running on an executor given ``options``, with ``timeout``."""
        res = resources or {}
        return Request(
            cpu=float(res.get("cpu") or 1),
            gpu=int(res.get("gpu") or 0),
            memory=res.get("memory"),
            disk=res.get("disk"),
            options=dict(options or {}),
            timeout=timeout,
        )


@dataclass(frozen=True)
class Submission:
    """One task attempt to run: ``key`` names it in every later message."""

    key: str
    spec: TaskSpec
    request: Request = field(default_factory=Request)


@dataclass(frozen=True)
class Started:
    """The task's process started running (it left any queue)."""

    key: str


@dataclass(frozen=True)
class Output:
    """Lines a task printed (already stored in its log by whatever ran it)."""

    key: str
    stream: Literal["stdout", "stderr"]
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Succeeded:
    """The task's process exited with status 0."""

    key: str

    @property
    def status(self) -> int:
        return 0


@dataclass(frozen=True)
class Failed:
    """The task's process ended otherwise: ``status`` is its exit code, or minus the
    signal that ended it where the backend knows. ``reason`` is what the backend knows of
    why, for a task that ended without writing its final record (a job that died before
    the worker started: its interpreter missing, its node down); it becomes the task's
    error."""

    key: str
    status: int
    reason: str | None = None


@dataclass(frozen=True)
class Killed:
    """The task ended because it was cancelled (or it was cancelled before it started)."""

    key: str
    status: int = KILLED_STATUS


@dataclass(frozen=True)
class Lost:
    """The executor lost the task (its worker or node died) rather than seeing it end;
    ``reason`` says how, where the backend knows (``"its node failed"``)."""

    key: str
    reason: str | None = None

    @property
    def status(self) -> int:
        return KILLED_STATUS


Ended = Succeeded | Failed | Killed | Lost
Message = Started | Output | Ended


def ended(key: str, status: int) -> Succeeded | Failed:
    """The message for a task process that exited with ``status``."""
    return Succeeded(key) if status == 0 else Failed(key, status)


@dataclass(frozen=True)
class ExecutorContext:
    """What an executor is made with: the run's store (where a remote executor puts the
    specs it submits, see ``Store.put_spec``), the flow's code, whether the tasks' output
    is echoed to the console, and the run's ``--max-workers``."""

    store: Store
    code: CodeRef
    echo: bool = True
    #: ``--max-workers``: how many of the run's tasks may run at once. The local executor
    #: starts no more than that; a cluster one may submit more and let the cluster queue.
    max_workers: int | None = None
    #: Whether the user chose ``max_workers`` (``--max-workers`` or the setting) rather than
    #: taking the default, this machine's cores: a cluster executor throttles only then.
    max_workers_chosen: bool = False


class Executor(Protocol):
    """Runs task specs somewhere and reports what happened to them."""

    def check(self, request: Request) -> str | None:
        """Why ``request`` can never be met by this executor (``"it asks for 2 GPUs, and
        this machine has 0"``), or None."""
        ...

    def submit(self, tasks: Sequence[Submission]) -> None:
        """Run ``tasks`` (many at once: a backend may make a foreach one array job). A task
        that does not fit yet waits; it is reported :class:`Started` when it runs."""
        ...

    def poll(self, timeout: float) -> list[Message]:
        """What happened since the last poll, waiting up to ``timeout`` seconds for news.
        Every submitted task is eventually reported ended exactly once."""
        ...

    def cancel(self, key: str) -> None:
        """Stop the task, all it started with it; a :class:`Killed` (or its real end, if it
        ended first) follows."""
        ...

    def close(self) -> None:
        """Stop whatever still runs and release the executor's resources."""
        ...


#: What a remote executor runs for a task: ``python -m flowkit.worker STORE SPEC-KEY``.
WORKER_MODULE = "flowkit.worker"
#: What it runs for a detached scheduler: ``python -m flowkit.driver STORE SPEC-KEY``.
DRIVER_MODULE = "flowkit.driver"


class Detaches(Protocol):
    """An executor factory that can also run a run's scheduler as a job (``--detach``)."""

    def detach(self, context: ExecutorContext, key: str, options: Mapping[str, Any]) -> str:
        """Start ``python -m flowkit.driver STORE KEY`` (:data:`DRIVER_MODULE`; STORE is the
        store of ``context``, as the job's machine reaches it) as a job of its own, with
        the executor's ``options`` (``--with NAME:ARG=VALUE``), and return at once, saying
        where it runs (``"Slurm job 42"``). The job must not be run twice (no requeue after
        a node failure): a scheduler's work is not idempotent."""
        ...


#: What an entry point of the ``flowkit.executors`` group names: a class or function that
#: makes the run's executor of that name.
ExecutorFactory = Callable[[ExecutorContext], Executor]
