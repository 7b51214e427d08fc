"""Values to pickle frames and back: protocol 5, large buffers out of band, cloudpickle if needed.

A value becomes one in-band pickle stream plus the raw memory of its large buffers (numpy
arrays and friends), which are never copied on the way out and are read back into writable
memory of their own without a second copy.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import Any

from flowkit.fastdata import dataclass
from flowkit.store.backend import Bytes
from flowkit.store.errors import ArtifactNotSerializable


@dataclass(frozen=True)
class Frames:
    """A serialized value: the pickle stream, then its out-of-band buffers, in order."""

    segments: list[Bytes]
    cloudpickled: bool

    @property
    def size(self) -> int:
        return sum(memoryview(s).nbytes for s in self.segments)


#: How protocol 5 first names the module ``__main__`` when it pickles a global of it (a class,
#: a function) by reference: the string, then its memo entry. Text that merely holds
#: ``__main__`` (a flow file's source, in its code package) is not pickled so, and does not
#: need cloudpickle (importing it is ~20 ms of a run's start).
_MAIN_GLOBAL = b"\x8c\x08__main__\x94"


def type_name(value: object) -> str:
    """``module.Qualname`` of the value's type (just the name for builtins)."""
    cls = type(value)
    module = getattr(cls, "__module__", "")
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _dumps(value: object, dumps: Any) -> Frames:
    buffers: list[pickle.PickleBuffer] = []
    stream = dumps(value, protocol=5, buffer_callback=buffers.append)
    raw = [b.raw() for b in buffers]
    return Frames([stream, *raw], cloudpickled=dumps is not pickle.dumps)


def to_frames(value: object, *, name: str = "<value>", step: str | None = None) -> Frames:
    """Serialize ``value``; :class:`ArtifactNotSerializable` names it when nothing can."""
    frames: Frames | None
    try:
        frames = _dumps(value, pickle.dumps)
    except Exception:  # lambdas, local classes...: retried below, where a real failure
        frames = None  # is raised again, named
    # Classes from __main__ or a notebook pickle by reference, but a reader won't have them.
    if frames is not None and _MAIN_GLOBAL not in frames.segments[0]:
        return frames
    import cloudpickle

    try:
        result = _dumps(value, cloudpickle.dumps)
    except Exception as exc:  # user __reduce__ may raise anything; re-raised, named
        raise ArtifactNotSerializable(name, type_name(value), step, exc) from exc
    return result


def from_frames(segments: Sequence[Bytes]) -> Any:
    """The value serialized into ``segments`` by :func:`to_frames`."""
    return pickle.loads(segments[0], buffers=segments[1:])
