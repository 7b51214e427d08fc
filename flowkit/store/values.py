"""Values in the store: artifacts serialized into content-addressed blobs, and read back.

``store.values`` is what a task writes its artifacts through and what every reader loads
them from; the blob format itself lives in :mod:`flowkit.store.blobs`.

A tiny artifact (a count, a flag, a short string) is not worth a file and an fsync of its
own: its pickle stream travels inline in the task's final record (``ArtifactRef.inline``,
base64), still named by the digest its blob would have, so comparing, dedup and reuse
keys see no difference, and a read verifies it against that digest as it would a blob.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from flowkit.fastdata import dataclass
from flowkit.store.backend import Backend
from flowkit.store.blobs import BlobStore, Segment, digest_of, is_digest_of
from flowkit.store.errors import CorruptBlobError, StoreError
from flowkit.store.pages import Pages, address, pristine
from flowkit.store.records import ArtifactRef, TaskRecord
from flowkit.store.serialize import Frames, from_frames, to_frames, type_name

#: Artifacts whose whole serialized form is a pickle stream this short or shorter are stored
#: inline in their task's record (as base64, a third longer) rather than as blobs.
INLINE_MAX = 96


@dataclass(frozen=True)
class Loaded:
    """What a read of ``digest`` gave the value it built, for :meth:`Values.put` to
    recognise it unchanged: its pickle stream's digest and length (not the stream, which is
    freed once unpickled: a join may load many), and the tracked memory that holds its
    out-of-band buffers (the value's own memory, so keeping it costs nothing), or None
    where a buffer is plain memory, which proves nothing (the value may share it and have
    changed it)."""

    digest: str
    #: ``digest_of([stream])``: the digest the stream alone would have as a blob.
    stream: str
    stream_size: int
    pages: tuple[Pages, ...] | None
    #: Whether ``digest`` is a blob this read verified (not a record's inline value): a
    #: value serialized to the same digest again is stored, intact, with nothing to write.
    blob: bool = True

    @classmethod
    def of(cls, digest: str, stream: str, segments: Sequence[Segment]) -> Loaded:
        """What to keep of a read of ``segments``, whose stream hashes to ``stream``."""
        pages = tuple(s for s in segments[1:] if isinstance(s, Pages))
        tracked = len(pages) == len(segments) - 1
        return cls(digest, stream, len(segments[0]), pages if tracked else None)

    def holds(self, frames: Frames) -> bool:
        """Whether ``frames`` (the value serialized again) are exactly the stored blob's
        segments, proven without hashing its buffers: the same pickle stream (by its
        digest), and each out-of-band buffer the very memory this read filled, with no page
        of it written since."""
        stream = frames.segments[0]
        if self.pages is None or not self.stream or not self.blob:
            return False  # (a record's inline value has no blob to be named by)
        if len(frames.segments) != 1 + len(self.pages) or len(stream) != self.stream_size:
            return False
        return (
            all(
                _unchanged(memoryview(mine), stored)
                for mine, stored in zip(frames.segments[1:], self.pages, strict=True)
            )
            and digest_of([stream]) == self.stream
        )


def _unchanged(view: memoryview, stored: Pages) -> bool:
    return view.nbytes == len(stored) and address(view) == stored.address and pristine(stored)


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
        inline: bool = False,
    ) -> ArtifactRef:
        """Store ``value`` (once per distinct content); ``name``/``step`` word any error.
        A value still as ``loaded`` read it is named by its digest, neither hashed nor
        written again: it was verified when it was read. With ``inline``, a tiny value is
        not written at all: the ref carries it, for a task's record to hold (only a
        record's artifacts may: everything else is read back by digest alone)."""
        frames = to_frames(value, name=name, step=step)
        stream = frames.segments[0]
        if inline and len(frames.segments) == 1 and len(stream) <= INLINE_MAX:
            text = binascii.b2a_base64(stream, newline=False).decode("ascii")
            return ArtifactRef(digest_of(frames.segments), frames.size, type_name(value), text)
        if loaded is not None and loaded.holds(frames):
            digest = loaded.digest
        else:
            digest = digest_of(frames.segments)
            if loaded is None or not loaded.blob or digest != loaded.digest:
                self.put_frames(frames, digest)
            # else: the bytes this task read and verified; their stored copy needs no read
        return ArtifactRef(digest, frames.size, type_name(value))

    def put_frames(self, frames: Frames, digest: str | None = None) -> str:
        """Store a value already serialized (whose digest is ``digest``, if known); its
        digest."""
        digest, _ = self.blobs.put(frames, digest)
        self._known.add(digest)
        return digest

    def put_artifacts(
        self,
        values: Mapping[str, Any],
        *,
        step: str,
        loaded: Mapping[str, Loaded] | None = None,
    ) -> dict[str, ArtifactRef]:
        """Store each artifact of a step for its record (tiny ones inline, those still as
        ``loaded`` read them by reference); the error for an unpicklable one names it."""
        loaded = loaded or {}
        return {
            name: self.put(v, name=name, step=step, loaded=loaded.get(name), inline=True)
            for name, v in values.items()
        }

    def load_artifact(self, ref: ArtifactRef, *, owner: str | None = None) -> Any:
        """The value ``ref`` names (a record's artifact: inline, or a blob), verified."""
        return self.read_artifact(ref, owner=owner)[0]

    def read_artifact(self, ref: ArtifactRef, *, owner: str | None = None) -> tuple[Any, Loaded]:
        """:meth:`load_artifact`, with what :meth:`put` needs (see :meth:`read`)."""
        if ref.inline is None:
            return self.read(ref.digest, owner=owner)
        stream = _inline_stream(ref.inline, ref.digest)
        if stream is None:
            raise StoreError(
                f"{owner or 'a value'}: {INLINE_DAMAGED} {ref.digest}",
                "the task's record was changed after it was written; resume the run: "
                "the task runs again",
            )
        return from_frames([stream]), Loaded(ref.digest, ref.digest, len(stream), (), blob=False)

    def stored(self, ref: ArtifactRef) -> bool:
        """Whether the value ``ref`` names can be read: it is inline, or its blob stored."""
        return ref.inline is not None or self.has(ref.digest)

    def load(self, digest: str, *, owner: str | None = None) -> Any:
        """The value stored as ``digest``, verified against it; ``owner`` (``artifact 'x' of
        task F/r/s/t``) words the error when the blob is corrupt or missing."""
        return self.read(digest, owner=owner)[0]

    def read(self, digest: str, *, owner: str | None = None) -> tuple[Any, Loaded]:
        """:meth:`load`, with what :meth:`put` needs to recognise the value unchanged."""
        try:
            segments, stream = self.blobs.read(digest)
        except CorruptBlobError as exc:
            if owner is None:
                raise
            raise exc.naming(owner) from None
        self._known.add(digest)
        return from_frames(segments), Loaded.of(digest, stream, segments)

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
        self._known.update(r.digest for r in record.artifacts.values() if r.inline is None)
        return StoreArtifacts(self, record.artifacts, owner=record.pathspec)


#: How an inline value that does not verify is reported (by reads, fsck and resume).
INLINE_DAMAGED = "the value its record holds inline does not match its digest"


def inline_damaged(ref: ArtifactRef) -> bool:
    """Whether ``ref`` holds a value inline that does not verify against its digest (a
    record changed after it was written): checked without unpickling anything."""
    return ref.inline is not None and _inline_stream(ref.inline, ref.digest) is None


def _inline_stream(text: str, digest: str) -> bytearray | None:
    """The pickle stream ``text`` (base64) holds, if it hashes to ``digest``."""
    try:
        stream = bytearray(binascii.a2b_base64(text, strict_mode=True))
    except (binascii.Error, ValueError):
        return None
    return stream if is_digest_of([stream], digest) else None


class StoreArtifacts:
    """A task's artifacts read lazily from the store: names and digests now, values on load."""

    def __init__(
        self, values: Values, refs: Mapping[str, ArtifactRef], *, owner: str | None = None
    ) -> None:
        self._values = values
        self._refs = dict(refs)
        self._owner = owner
        #: name -> (the value a load gave, what the read knew of it). The value is kept
        #: only while tracked memory holds it (that memory is its own, and it is what is
        #: proven unchanged); for any other value, its digest, hashed again, tells.
        self._loaded: dict[str, tuple[Any, Loaded]] = {}

    def names(self) -> Iterable[str]:
        return list(self._refs)

    def ref(self, name: str) -> ArtifactRef:
        return self._refs[name]

    def digest(self, name: str) -> str:
        return self._refs[name].digest

    def load(self, name: str) -> Any:
        owner = f"artifact '{name}' of task {self._owner}" if self._owner else f"artifact '{name}'"
        value, loaded = self._values.read_artifact(self._refs[name], owner=owner)
        self._loaded[name] = (value if loaded.pages is not None else None, loaded)
        return value

    def loaded(self, name: str, value: Any) -> Loaded | None:
        """What the read of artifact ``name`` knew, if ``value`` is the very object it gave
        or nothing could prove it unchanged anyway (whether it is, :meth:`Loaded.holds`
        says, or failing that its digest, hashed again)."""
        found = self._loaded.get(name)
        if found is None:
            return None
        kept, loaded = found
        return loaded if loaded.pages is None or kept is value else None
