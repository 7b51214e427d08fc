"""``current``: where the running step is (flow, run, step, task, attempt).

The task layer binds a :class:`TaskContext` around user code; outside a running step every
attribute raises :class:`~flowkit.errors.NotInTaskError` instead of returning a guess.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from flowkit.errors import NotInTaskError


@dataclass(frozen=True)
class TaskContext:
    """What ``current`` reports while a task runs."""

    flow_name: str
    run_id: str
    step_name: str
    task_id: str
    retry_count: int = 0
    origin_run_id: str | None = None
    username: str | None = None

    @property
    def pathspec(self) -> str:
        return f"{self.flow_name}/{self.run_id}/{self.step_name}/{self.task_id}"


_CONTEXT: ContextVar[TaskContext | None] = ContextVar("flowkit_current", default=None)


class Current:
    """The running task's coordinates; see :class:`TaskContext` for the fields."""

    def _get(self, field: str) -> object:
        ctx = _CONTEXT.get()
        if ctx is None:
            raise NotInTaskError(
                f"current.{field} has no value outside a running step",
                "read current inside a @step method while the flow runs",
            )
        return getattr(ctx, field)

    @property
    def is_running_flow(self) -> bool:
        """True inside a running step; the one attribute that is safe to read anywhere."""
        return _CONTEXT.get() is not None

    @property
    def flow_name(self) -> str:
        return str(self._get("flow_name"))

    @property
    def run_id(self) -> str:
        return str(self._get("run_id"))

    @property
    def step_name(self) -> str:
        return str(self._get("step_name"))

    @property
    def task_id(self) -> str:
        return str(self._get("task_id"))

    @property
    def pathspec(self) -> str:
        return str(self._get("pathspec"))

    @property
    def retry_count(self) -> int:
        value = self._get("retry_count")
        assert isinstance(value, int)
        return value

    @property
    def origin_run_id(self) -> str | None:
        value = self._get("origin_run_id")
        return None if value is None else str(value)

    @property
    def username(self) -> str | None:
        value = self._get("username")
        return None if value is None else str(value)

    def __repr__(self) -> str:
        ctx = _CONTEXT.get()
        return f"<current {ctx.pathspec}>" if ctx else "<current: not in a running step>"


current = Current()


@contextmanager
def bound(ctx: TaskContext) -> Iterator[TaskContext]:
    """Make ``current`` report ``ctx`` for the duration of the block."""
    token = _CONTEXT.set(ctx)
    try:
        yield ctx
    finally:
        _CONTEXT.reset(token)
