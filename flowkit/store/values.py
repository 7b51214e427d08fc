"""Values in the store: artifacts serialized into content-addressed blobs, and read back.

``store.values`` is what a task writes its artifacts through and what every reader loads
them from; the blob format itself lives in :mod:`flowkit.store.blobs`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flowkit.store.backend import Backend
from flowkit.store.blobs import BlobStore, Segment
from flowkit.store.errors import CorruptBlobError
from flowkit.store.pages import Pages, address, pristine
from flowkit.store.records import ArtifactRef, TaskRecord
from flowkit.store.serialize import Frames, from_frames, to_frames, type_name

#: A loaded value's pickle stream is kept (to recognise the value unchanged when its task
#: ends) up to this size; a larger one is let go, and such a value is stored as any other.
_KEEP_STREAM = 64 << 20


@dataclass(frozen=True)
class Loaded:
    """What a read of blob ``digest`` gave the value it built: its pickle stream and the
    memory of its out-of-band buffers, for :meth:`Values.put` to recognise it unchanged."""

    digest: str
    segments: Sequence[Segment]

    def holds(self, frames: Frames) -> bool:
        """Whether ``frames`` (the value serialized again) are exactly the stored blob's
        segments, proven without hashing: the same pickle stream, and each out-of-band
        buffer the very memory this read filled, with no page of it written since. A buffer
        in plain memory proves nothing (the value may share it and have changed it), so a
        value with one is stored as any other."""
        stream = self.segments[0]  # a bytearray: comparing it is one memcmp
        if len(frames.segments) != len(self.segments) or stream != frames.segments[0]:
            return False
        return all(
            _unchanged(memoryview(mine), stored)
            for mine, stored in zip(frames.segments[1:], self.segments[1:], strict=True)
        )


def _unchanged(view: memoryview, stored: Segment) -> bool:
    return (
        isinstance(stored, Pages)
        and view.nbytes == len(stored)
        and address(view) == stored.address
        and pristine(stored)
    )


class Values:
    """Artifact values as verified blobs: put once per distinct content, load lazily."""

    def __init__(self, backend: Backend) -> None:
        self.blobs = BlobStore(backend)
        #: Digests this object wrote, read, or saw named by a stored record, so finishing a
        #: task checks only the rest.
        self._known: set[str] = set()

    def put(
        self,
        value: Any,
        *,
        name: str = "<value>",
        step: str | None = None,
        loaded: Loaded | None = None,
    ) -> ArtifactRef:
        """Store ``value`` (once per distinct content); ``name``/``step`` word any error.
        A value still as ``loaded`` read it is named by its digest, neither hashed nor
        written again: it was verified when it was read."""
        frames = to_frames(value, name=name, step=step)
        if loaded is not None and loaded.holds(frames):
            digest = loaded.digest
        else:
            digest = self.put_frames(frames)
        return ArtifactRef(digest, frames.size, type_name(value))

    def put_frames(self, frames: Frames) -> str:
        """Store a value already serialized; its digest."""
        digest, _ = self.blobs.put(frames)
        self._known.add(digest)
        return digest

    def put_artifacts(
        self,
        values: Mapping[str, Any],
        *,
        step: str,
        loaded: Mapping[str, Loaded] | None = None,
    ) -> dict[str, ArtifactRef]:
        """Store each artifact of a step (those still as ``loaded`` read them, by
        reference); the error for an unpicklable one names it."""
        loaded = loaded or {}
        return {
            name: self.put(v, name=name, step=step, loaded=loaded.get(name))
            for name, v in values.items()
        }

    def load(self, digest: str, *, owner: str | None = None) -> Any:
        """The value stored as ``digest``, verified against it; ``owner`` (``artifact 'x' of
        task F/r/s/t``) words the error when the blob is corrupt or missing."""
        return self.read(digest, owner=owner)[0]

    def read(self, digest: str, *, owner: str | None = None) -> tuple[Any, Loaded | None]:
        """:meth:`load`, with what :meth:`put` needs to recognise the value unchanged (None
        when its pickle stream is too large to keep)."""
        try:
            segments = self.blobs.read(digest)
        except CorruptBlobError as exc:
            if owner is None:
                raise
            raise exc.naming(owner) from None
        self._known.add(digest)
        value = from_frames(segments)
        keep = len(segments[0]) <= _KEEP_STREAM
        return value, Loaded(digest, segments) if keep else None

    def has(self, digest: str) -> bool:
        return digest in self._known or self.blobs.exists(digest)

    def damages(self, sizes: Mapping[str, int | None]) -> dict[str, str]:
        """The blobs among ``sizes`` (digest -> serialized size) that would not read back,
        with why; see :meth:`~flowkit.store.blobs.BlobStore.damages`."""
        return self.blobs.damages(sizes)

    def artifact_source(self, record: TaskRecord) -> StoreArtifacts:
        """The attempt's artifacts as an :class:`~flowkit.authoring.artifacts.ArtifactSource`.
        A stored record names only stored blobs, so a task that passes them on by reference
        need not ask the store for them again (a round trip each on a remote store)."""
        self._known.update(ref.digest for ref in record.artifacts.values())
        return StoreArtifacts(self, record.artifacts, owner=record.pathspec)


class StoreArtifacts:
    """A task's artifacts read lazily from the store: names and digests now, values on load."""

    def __init__(
        self, values: Values, refs: Mapping[str, ArtifactRef], *, owner: str | None = None
    ) -> None:
        self._values = values
        self._refs = dict(refs)
        self._owner = owner
        #: name -> (the value a load gave, what the read knew of it)
        self._loaded: dict[str, tuple[Any, Loaded]] = {}

    def names(self) -> Iterable[str]:
        return list(self._refs)

    def ref(self, name: str) -> ArtifactRef:
        return self._refs[name]

    def digest(self, name: str) -> str:
        return self._refs[name].digest

    def load(self, name: str) -> Any:
        owner = f"artifact '{name}' of task {self._owner}" if self._owner else f"artifact '{name}'"
        value, loaded = self._values.read(self._refs[name].digest, owner=owner)
        if loaded is not None:
            self._loaded[name] = (value, loaded)
        return value

    def loaded(self, name: str, value: Any) -> Loaded | None:
        """What the read of artifact ``name`` knew, if ``value`` is the very object it gave
        (whether it is still unchanged, :meth:`Loaded.holds` says)."""
        found = self._loaded.get(name)
        return found[1] if found is not None and found[0] is value else None
