"""What ``@catch(var=...)`` stores in ``var``: the last attempt's exception, as plain text."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CaughtException:
    """The exception that made a ``@catch`` step give up: ``type``, ``message`` and the user's
    ``traceback``; ``failure`` says how the attempt ended (error, lost, crashed, timeout).

    Only text is kept, so reading it never needs the user's exception class.
    """

    type: str
    message: str
    traceback: str = ""
    failure: str | None = None

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"
