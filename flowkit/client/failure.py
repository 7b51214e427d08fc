"""``Task.exception``: how a failed task failed, with Metaflow's field names and flowkit's."""

from __future__ import annotations

from flowkit.fastdata import dataclass
from flowkit.store.records import ExceptionInfo


@dataclass(frozen=True)
class TaskException:
    """What a failed task raised, as text (reading it never needs the flow's code).

    Metaflow's fields: ``type`` (the class as ``module.Name``, e.g. ``builtins.ValueError``,
    where the task knew it; flowkit's own name for a failure without an exception, such as
    ``TaskLost``), ``exception`` (the message) and ``stacktrace`` (None without one).
    flowkit's: ``name`` (the bare class name), ``message``, ``traceback`` (``""`` without
    one) and ``failure`` (``error``, ``lost``, ``crashed`` or ``timeout``). ``str()`` is
    ``Name: message``.
    """

    type: str
    name: str
    message: str
    traceback: str
    failure: str | None = None

    @classmethod
    def of(cls, info: ExceptionInfo, failure: str | None) -> TaskException:
        qualified = getattr(info, "qualified_type", "") or info.type
        return cls(qualified, info.type, info.message, info.traceback, failure)

    @property
    def exception(self) -> str:
        """The message, as Metaflow's ``MetaflowExceptionWrapper.exception`` holds it."""
        return self.message

    @property
    def stacktrace(self) -> str | None:
        return self.traceback or None

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"
