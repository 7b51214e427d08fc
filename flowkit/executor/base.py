"""The executor interface the scheduler drives: submit, poll, cancel, close."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from flowkit.task.spec import TaskSpec


@dataclass(frozen=True)
class Started:
    key: str
    pid: int


@dataclass(frozen=True)
class Output:
    """Lines a task printed (already stored in its log by the executor)."""

    key: str
    stream: Literal["stdout", "stderr"]
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Exited:
    """A task's process ended: ``status`` is its exit code, or minus the killing signal;
    ``lost``: the executor lost it (its worker or node died) rather than seeing it end."""

    key: str
    status: int
    lost: bool = False


Message = Started | Output | Exited


class Executor(Protocol):
    """Runs task specs somewhere and reports what happened to them."""

    def submit(self, key: str, spec: TaskSpec, env: Mapping[str, str]) -> None:
        """Start ``spec``; ``key`` names it in later messages; ``env`` adds variables."""
        ...

    def poll(self, timeout: float) -> list[Message]:
        """What happened since the last poll, waiting up to ``timeout`` seconds for news."""
        ...

    def cancel(self, key: str) -> None:
        """Kill the task's whole process group; an :class:`Exited` follows."""
        ...

    def close(self) -> None:
        """Kill whatever still runs and release the executor's resources."""
        ...
