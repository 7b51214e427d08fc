"""What ``@catch(var=...)`` stores in ``var``: how the last attempt failed, as plain text.

It reads as Metaflow's ``MetaflowExceptionWrapper``: ``.type`` (the exception's class as
``module.Name``), ``.exception`` (its message), ``.stacktrace`` (the traceback, or None), and
``str()`` is the traceback (``[no stacktrace]`` and the type and message when there is none).
"""

from __future__ import annotations

from typing import Any


class CaughtFailure(Exception):
    """The failure that made a ``@catch`` step give up: ``type``, ``message`` and the user's
    ``traceback``; ``failure`` says how the attempt ended (error, lost, crashed, timeout).

    An exception (as Metaflow's is, so ``raise self.e`` and ``isinstance(..., Exception)``
    work), though flowkit never raises it; and not always of a user's exception: a task that
    was lost or timed out is named by flowkit's word for it (``TaskLost``...). Only text is
    kept, so reading it never needs the user's exception class.
    """

    def __init__(
        self, type: str, message: str, traceback: str = "", failure: str | None = None
    ) -> None:
        super().__init__(type, message)
        self.type = type
        self.message = message
        self.traceback = traceback
        self.failure = failure

    @property
    def exception(self) -> str:
        """The message, under Metaflow's name for it."""
        return self.message

    @property
    def stacktrace(self) -> str | None:
        """The traceback, under Metaflow's name for it; None when there is none."""
        return self.traceback or None

    def __str__(self) -> str:
        return self.traceback or f"[no stacktrace]\n{self.type}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"CaughtFailure(type={self.type!r}, message={self.message!r}, failure={self.failure!r})"
        )

    def _fields(self) -> tuple[str, str, str, str | None]:
        return (self.type, self.message, self.traceback, self.failure)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CaughtFailure) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __reduce__(self) -> tuple[Any, ...]:
        return (CaughtFailure, self._fields())

    def __setstate__(self, state: dict[str, Any] | None) -> None:
        # what pickles of the earlier dataclass hold: its fields, the class built empty
        state = state or {"type": "", "message": ""}
        self.type, self.message = state["type"], state["message"]
        self.traceback, self.failure = state.get("traceback", ""), state.get("failure")
        self.args = (self.type, self.message)


#: The Metaflow-compatible name, kept as an alias: ``from flowkit import CaughtException``
#: works, and artifacts pickled under this name before the rename still load.
CaughtException = CaughtFailure


def qualified_name(cls: type, main: str | None = None) -> str:
    """``builtins.ValueError``: an exception class named as Metaflow names it
    (``module.Name``); a class of module ``main``, the flow's own file, which Metaflow runs as
    a script, is ``__main__.Name``."""
    module = "__main__" if main is not None and cls.__module__ == main else cls.__module__
    return f"{module}.{cls.__name__}"
