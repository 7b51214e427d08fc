"""Values in the store: artifacts serialized into content-addressed blobs, and read back.

``store.values`` is what a task writes its artifacts through and what every reader loads
them from; the blob format itself lives in :mod:`flowkit.store.blobs`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flowkit.store.backend import Backend
from flowkit.store.blobs import BlobStore
from flowkit.store.errors import CorruptBlobError
from flowkit.store.records import ArtifactRef, TaskRecord
from flowkit.store.serialize import Frames, from_frames, to_frames, type_name


class Values:
    """Artifact values as verified blobs: put once per distinct content, load lazily."""

    def __init__(self, backend: Backend) -> None:
        self.blobs = BlobStore(backend)
        #: Digests this object wrote, read, or saw named by a stored record, so finishing a
        #: task checks only the rest.
        self._known: set[str] = set()

    def put(self, value: Any, *, name: str = "<value>", step: str | None = None) -> ArtifactRef:
        """Store ``value`` (once per distinct content); ``name``/``step`` word any error."""
        frames = to_frames(value, name=name, step=step)
        return ArtifactRef(self.put_frames(frames), frames.size, type_name(value))

    def put_frames(self, frames: Frames) -> str:
        """Store a value already serialized; its digest."""
        digest, _ = self.blobs.put(frames)
        self._known.add(digest)
        return digest

    def put_artifacts(self, values: Mapping[str, Any], *, step: str) -> dict[str, ArtifactRef]:
        """Store each artifact of a step; the error for an unpicklable one names it."""
        return {name: self.put(v, name=name, step=step) for name, v in values.items()}

    def load(self, digest: str, *, owner: str | None = None) -> Any:
        """The value stored as ``digest``, verified against it; ``owner`` (``artifact 'x' of
        task F/r/s/t``) words the error when the blob is corrupt or missing."""
        try:
            segments = self.blobs.read(digest)
        except CorruptBlobError as exc:
            if owner is None:
                raise
            raise exc.naming(owner) from None
        self._known.add(digest)
        return from_frames(segments)

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

    def names(self) -> Iterable[str]:
        return list(self._refs)

    def ref(self, name: str) -> ArtifactRef:
        return self._refs[name]

    def digest(self, name: str) -> str:
        return self._refs[name].digest

    def load(self, name: str) -> Any:
        owner = f"artifact '{name}' of task {self._owner}" if self._owner else f"artifact '{name}'"
        return self._values.load(self._refs[name].digest, owner=owner)
