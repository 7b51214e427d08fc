"""How a step's object sees artifacts it did not create: lazily, through a source.

A source (the store, in a real run; a dict, in tests) knows each artifact's name and digest
without loading it, so artifacts a step does not touch are passed on by reference.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Iterable, Mapping
from typing import Any, Protocol


class ArtifactSource(Protocol):
    """Artifacts another task produced: names and digests up front, values on demand."""

    def names(self) -> Iterable[str]: ...

    def digest(self, name: str) -> str: ...

    def load(self, name: str) -> Any: ...


def value_digest(value: Any) -> str:
    """A digest of a value held in memory, comparable with other in-memory values."""
    try:
        data = pickle.dumps(value, protocol=5)
    except Exception:
        import cloudpickle

        data = cloudpickle.dumps(value, protocol=5)
    return hashlib.sha256(data).hexdigest()


class DictSource:
    """An :class:`ArtifactSource` over a plain dict; for tests and in-kernel debugging."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def names(self) -> Iterable[str]:
        return list(self._values)

    def digest(self, name: str) -> str:
        return value_digest(self._values[name])

    def load(self, name: str) -> Any:
        return self._values[name]
