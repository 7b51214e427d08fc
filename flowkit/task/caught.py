"""What ``@catch(var=...)`` stores in ``var``: how the last attempt failed, as plain text."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CaughtFailure:
    """The failure that made a ``@catch`` step give up: ``type``, ``message`` and the user's
    ``traceback``; ``failure`` says how the attempt ended (error, lost, crashed, timeout).

    A record, not an exception (nothing raises it), and not always of an exception: a task
    that was lost or timed out raised nothing. Only text is kept, so reading it never needs
    the user's exception class.
    """

    type: str
    message: str
    traceback: str = ""
    failure: str | None = None

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"


#: The Metaflow-compatible name, kept as an alias: ``from flowkit import CaughtException``
#: works, and artifacts pickled under this name before the rename still load.
CaughtException = CaughtFailure
