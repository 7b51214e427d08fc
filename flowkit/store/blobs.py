"""Content-addressed blobs: the on-disk format, its digest, compression and verified reads.

A blob holds one serialized value (:mod:`flowkit.store.serialize`)::

    header   b"FKBLOB" | version u8 | flags u8 | segment count u32
    table    per segment: codec u8 | raw length u64 | stored length u64
    payload  the segments, back to back, each raw or zlib-compressed

The digest is the BLAKE3 hash of the *uncompressed* segments (each preceded by its length), so
the same value has the same name whether or not it was compressed. BLAKE3 runs two to four
times as fast as SHA-256 on one core and uses more for a large value (a 500 MB array
is named in about 0.1 s instead of 0.4 s). Format 1, which named blobs by SHA-256, is still
read and verified: its version byte says which hash a stored blob is named by. A value first
stored in format 1 is stored once more, under its BLAKE3 name, the next time it is written. Writing a value that is
already stored costs its hash, a size check, and one read of the stored copy compared with
the writer's bytes: a copy that is damaged is replaced (see :meth:`BlobStore.put`).
"""

from __future__ import annotations

import io
import mmap
import os
import re
import struct
import zlib
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from typing import Protocol

from blake3 import blake3

from flowkit.store.backend import Backend, Bytes, Reader
from flowkit.store.errors import (
    CorruptBlobError,
    InvalidKeyError,
    KeyNotFoundError,
    NewerBlobFormatError,
)
from flowkit.store.overlap import overlapped
from flowkit.store.pages import Fill
from flowkit.store.serialize import Frames
from flowkit.store.trash import restore


class Hasher(Protocol):
    def update(self, data: Bytes, /) -> object: ...
    def hexdigest(self) -> str: ...


#: The format blobs are written in; :data:`_READABLE` are read.
FORMAT_VERSION = 2
_SHA256_FORMAT = 1
_READABLE = (_SHA256_FORMAT, FORMAT_VERSION)
_MAGIC = b"FKBLOB"
_HEAD = struct.Struct("<6sBBI")
_SEGMENT = struct.Struct("<BQQ")
_LENGTH = struct.Struct("<Q")
_RAW, _ZLIB = 0, 1
_FLAG_CLOUDPICKLE = 1
_DIGEST = re.compile(r"[0-9a-f]{64}")

#: Segments smaller than this are never worth a compression attempt.
_MIN_COMPRESS = 4096
_SAMPLE = 64 << 10
#: Compress only when a sample shrinks to this fraction or less, and keep the result only
#: when the whole segment shrinks to ``_KEEP_RATIO`` or less.
_TRY_RATIO, _KEEP_RATIO = 0.8, 0.9
_READ_CHUNK = 8 << 20
#: A segment as a read gives it: writable memory of its own (:mod:`flowkit.store.pages`).
Segment = bytearray | mmap.mmap

#: On a remote store, values up to this size (serialized) are written without a probe first;
#: larger ones are probed, so an upload is never repeated for a value already stored.
_WRITE_FIRST = 1 << 20


def blob_key(digest: str) -> str:
    """The backend key of the blob named ``digest``."""
    if not _DIGEST.fullmatch(digest):
        raise InvalidKeyError(f"invalid blob digest {digest!r}", "a digest is 64 hex digits")
    return f"blobs/{digest[:2]}/{digest}"


#: A value at least this large is hashed on several threads: below it, starting them costs
#: more than they save (about 45 us against 0.4 ms a MB on one core).
_THREADED_MIN = 1 << 20
_BLAKE3_PREFIX = b"flowkit-blob-2\n"


@cache
def _threads() -> int:
    """How many threads hash a large value: the cores this process may run on, up to 8."""
    return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1))


def _hasher(version: int = FORMAT_VERSION, size: int = 0) -> Hasher:
    """A hasher for blobs of format ``version``, fed ``size`` bytes in all (a hint)."""
    if version == _SHA256_FORMAT:
        import hashlib  # only for format 1 blobs: OpenSSL costs a process ~4 ms to load

        return hashlib.sha256(b"flowkit-blob-1\n")
    if size >= _THREADED_MIN and _threads() > 1:
        # A thread pool of the hasher's own, never blake3's shared one (``max_threads=AUTO``):
        # a fork server's children would wait forever on the shared pool's threads, which a
        # fork does not copy.
        try:
            return blake3(_BLAKE3_PREFIX, max_threads=_threads())
        except BaseException as exc:  # pyo3's PanicException is a BaseException
            # no threads to be had (pids.max, ulimit -u in a wide fan-out): one does the work
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
    return blake3(_BLAKE3_PREFIX, max_threads=1)


def digest_of(
    segments: Sequence[Bytes], version: int = FORMAT_VERSION, *, threaded: bool = True
) -> str:
    """The content address of a serialized value (see the module docstring); hashed on one
    thread unless ``threaded`` and large."""
    views = [memoryview(segment).cast("B") for segment in segments]
    hasher = _hasher(version, sum(view.nbytes for view in views) if threaded else 0)
    for view in views:
        hasher.update(_LENGTH.pack(view.nbytes))
        hasher.update(view)
    return hasher.hexdigest()


def is_digest_of(segments: Sequence[Bytes], digest: str) -> bool:
    """Whether ``digest`` is the content address of ``segments`` in any format read (a
    value kept by its digest, such as an inline artifact, may predate this format)."""
    return any(digest_of(segments, version) == digest for version in reversed(_READABLE))


def _pays_to_compress(view: memoryview) -> bool:
    size = view.nbytes
    if size < _MIN_COMPRESS:
        return False
    if size <= 3 * _SAMPLE:
        sample = bytes(view)
    else:
        middle = size // 2
        sample = b"".join((view[:_SAMPLE], view[middle : middle + _SAMPLE], view[size - _SAMPLE :]))
    return len(zlib.compress(sample, 1)) <= _TRY_RATIO * len(sample)


def encode(frames: Frames) -> list[Bytes]:
    """The parts of the blob file for ``frames``: header, table, then each segment."""
    table: list[bytes] = []
    payload: list[Bytes] = []
    for segment in frames.segments:
        view = memoryview(segment).cast("B")
        codec, stored = _RAW, view
        if _pays_to_compress(view):
            packed = zlib.compress(view, 1)
            if len(packed) <= _KEEP_RATIO * view.nbytes:
                codec, stored = _ZLIB, memoryview(packed)
        table.append(_SEGMENT.pack(codec, view.nbytes, stored.nbytes))
        payload.append(stored)
    flags = _FLAG_CLOUDPICKLE if frames.cloudpickled else 0
    head = _HEAD.pack(_MAGIC, FORMAT_VERSION, flags, len(frames.segments))
    return [head + b"".join(table), *payload]


def _read_exact(fh: Reader, into: memoryview) -> int:
    done = 0
    while done < into.nbytes:
        # each slice released as soon as it is used, even when the read raises: a traceback
        # holding it would keep the segment's memory from being freed (see Fill.discard)
        with into[done:] as rest:
            count = fh.readinto(rest)
        if not count:
            break
        done += count
    return done


def _read_segment(
    fh: Reader, codec: int, raw_len: int, stored_len: int, hasher: Hasher, *, track: bool
) -> Segment | None:
    """One segment, decompressed into writable memory of its own (with ``track``, a large
    one into memory that can later be proven unmodified: :mod:`flowkit.store.pages`), fed
    to ``hasher`` piece by piece as it arrives (so hashing overlaps a remote store's
    read-ahead); None if truncated."""
    if codec == _RAW and raw_len != stored_len:
        return None
    fill = Fill(raw_len, track=track)
    try:
        filled = _fill(fh, codec, stored_len, fill.view, hasher)
    except BaseException:
        fill.discard()
        raise
    if not filled:
        fill.discard()
        return None
    return fill.seal()


def _fill(fh: Reader, codec: int, stored_len: int, view: memoryview, hasher: Hasher) -> bool:
    """Read one segment into ``view``, hashing it; whether it was all there."""
    if codec == _RAW:
        for start in range(0, view.nbytes, _READ_CHUNK):
            with view[start : start + _READ_CHUNK] as chunk:
                if _read_exact(fh, chunk) != chunk.nbytes:
                    return False
                hasher.update(chunk)
        return True
    filled = 0
    for piece in _inflate(fh, stored_len, view.nbytes):
        if piece is None:
            return False
        view[filled : filled + len(piece)] = piece
        hasher.update(piece)
        filled += len(piece)
    return filled == view.nbytes


def _inflate(fh: Reader, stored_len: int, limit: int) -> Iterator[bytes | None]:
    """The pieces the next ``stored_len`` stored bytes inflate to, then None if the stream is
    short, unfinished, or would inflate past ``limit`` bytes (a bomb stays small)."""
    inflater = zlib.decompressobj()
    left, total = stored_len, 0
    while left:
        data = fh.read(min(left, _READ_CHUNK))
        if not data:
            yield None
            return
        left -= len(data)
        while data:
            piece = inflater.decompress(data, _READ_CHUNK)
            total += len(piece)
            if total > limit:
                yield None
                return
            yield piece
            data = inflater.unconsumed_tail
    piece = inflater.flush()
    if not inflater.eof or total + len(piece) > limit:
        yield None
        return
    yield piece


#: One row of a blob's segment table: codec, raw length, stored length.
Entry = tuple[int, int, int]


def _read_table(fh: Reader, digest: str, where: str) -> tuple[int, list[Entry]]:
    """The format version and segment table of a blob; :class:`CorruptBlobError` if they are
    damaged."""
    head = fh.read(_HEAD.size)
    if len(head) != _HEAD.size:
        raise CorruptBlobError(digest, where, "the header is truncated")
    magic, version, _flags, count = _HEAD.unpack(head)
    if magic != _MAGIC:
        raise CorruptBlobError(digest, where, "it is not a flowkit blob (bad magic bytes)")
    if version > FORMAT_VERSION:
        raise NewerBlobFormatError(digest, where, version, _READABLE)
    if version not in _READABLE:
        raise CorruptBlobError(digest, where, f"unknown format version {version}")
    table_bytes = fh.read(_SEGMENT.size * count)
    if len(table_bytes) != _SEGMENT.size * count:
        raise CorruptBlobError(digest, where, "the segment table is truncated")
    table: list[Entry] = list(_SEGMENT.iter_unpack(table_bytes))
    for codec, raw_len, stored_len in table:
        if codec not in (_RAW, _ZLIB) or (codec == _RAW and raw_len != stored_len):
            raise CorruptBlobError(digest, where, f"the segment table is damaged (codec {codec})")
    return version, table


def _stored_size(table: Sequence[Entry]) -> int:
    """How long a blob with this table is, byte for byte."""
    return _HEAD.size + _SEGMENT.size * len(table) + sum(stored for _, _, stored in table)


def read_segments(fh: Reader, digest: str, where: str) -> list[Segment]:
    """Read and verify a blob; :class:`CorruptBlobError` if anything does not match."""
    return read_blob(fh, digest, where)[0]


def read_blob(fh: Reader, digest: str, where: str) -> tuple[list[Segment], str]:
    """:func:`read_segments`, and the digest its pickle stream alone would have as a blob
    (``digest_of(segments[:1])``); ``""`` for a blob of an older format."""
    segments: list[Segment] = []
    version, table = _read_table(fh, digest, where)
    hasher = _hasher(version, sum(raw for _, raw, _ in table))
    stream = ""
    for index, (codec, raw_len, stored_len) in enumerate(table):
        hasher.update(_LENGTH.pack(raw_len))
        try:
            # the pickle stream is only ever read: its memory need not be tracked
            segment = _read_segment(fh, codec, raw_len, stored_len, hasher, track=index > 0)
        except zlib.error as exc:
            raise CorruptBlobError(digest, where, f"compressed data is damaged ({exc})") from None
        if segment is None:
            raise CorruptBlobError(digest, where, "the data is truncated or has the wrong size")
        segments.append(segment)
        if index == 0 and version == FORMAT_VERSION:
            # (none for an older format's blob: a value read from one is stored again, under
            # its name in this format, rather than recognised unchanged by another hash).
            # Hashed on its own, on one thread: a copy of a threaded hasher makes a second
            # thread pool.
            stream = digest_of([segment], threaded=False)
    if fh.read(1):
        raise CorruptBlobError(digest, where, "there are extra bytes after the data")
    actual = hasher.hexdigest()
    if actual != digest:
        raise CorruptBlobError(digest, where, f"its contents hash to {actual}")
    return segments, stream


def _raw_matches(fh: Reader, view: memoryview) -> bool:
    """Whether the next ``view.nbytes`` stored bytes are ``view``'s (compared, not hashed)."""
    chunk = bytearray(min(_READ_CHUNK, view.nbytes))
    done = 0
    while done < view.nbytes:
        size = min(len(chunk), view.nbytes - done)
        into = chunk if size == len(chunk) else bytearray(size)
        # bytearray == buffer is one memcmp; memoryview == memoryview goes item by item.
        if _read_exact(fh, memoryview(into)) != size or into != view[done : done + size]:
            return False
        done += size
    return True


def _zlib_matches(fh: Reader, view: memoryview, stored_len: int) -> bool:
    """Whether the next ``stored_len`` bytes inflate to exactly ``view``."""
    filled = 0
    for piece in _inflate(fh, stored_len, view.nbytes):
        if piece is None or view[filled : filled + len(piece)].tobytes() != piece:
            return False
        filled += len(piece)
    return filled == view.nbytes


def _holds(fh: Reader, digest: str, segments: Sequence[Bytes], size: int) -> bool:
    """Whether the stored blob (``size`` bytes, open as ``fh``) reads back as ``segments``.

    The table and the size are checked first (they catch truncation and appended bytes
    without reading the data); then the data is compared with the writer's own bytes, which
    is what verification against the digest would prove, at the cost of a read and a
    ``memcmp`` instead of a read and a second hash.
    """
    views = [memoryview(s).cast("B") for s in segments]
    version, table = _read_table(fh, digest, "")
    if version != FORMAT_VERSION or _stored_size(table) != size:
        return False
    if [raw for _, raw, _ in table] != [v.nbytes for v in views]:
        return False
    for (codec, _raw, stored_len), view in zip(table, views, strict=True):
        same = _raw_matches(fh, view) if codec == _RAW else _zlib_matches(fh, view, stored_len)
        if not same:
            return False
    return not fh.read(1)


class BlobStore:
    """Blobs over a backend: idempotent writes that heal a damaged copy, verified reads."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def put(self, frames: Frames, digest: str | None = None) -> tuple[str, bool]:
        """Store ``frames`` (whose digest is ``digest``, if the caller has it); (digest,
        True) if this call wrote it, (digest, False) if an intact copy was already stored.
        A stored copy that is damaged (truncated, extended, bit rot) is replaced,
        atomically, so damaged data heals on the next write."""
        digest = digest or digest_of(frames.segments)
        key = blob_key(digest)
        if self.backend.remote and frames.size <= _WRITE_FIRST:
            return digest, self._put_small(key, digest, frames)
        size = self.backend.size(key)
        if size is not None and self._intact(key, digest, frames.segments, size):
            return digest, False
        self.backend.put(key, encode(frames))
        return digest, True

    def _put_small(self, key: str, digest: str, frames: Frames) -> bool:
        """On a remote store, a small blob is written first and checked only if it was there
        already: one request for a new value instead of a probe and a write."""
        data = b"".join(encode(frames))
        if self.backend.put_new(key, data):
            return True
        try:
            stored = self.backend.get(key)
            if _holds(io.BytesIO(stored), digest, frames.segments, len(stored)):
                return False
        except (KeyNotFoundError, CorruptBlobError, zlib.error):
            pass  # gone since, or damaged: write it (again)
        self.backend.put(key, [data])
        return True

    def _intact(self, key: str, digest: str, segments: Sequence[Bytes], size: int) -> bool:
        try:
            with self.backend.open(key) as fh:
                return _holds(fh, digest, segments, size)
        except (KeyNotFoundError, CorruptBlobError, zlib.error):
            return False  # gone since, or damaged: write it (again)

    def exists(self, digest: str) -> bool:
        """Whether blob ``digest`` is stored (one that gc moved to the trash is put back)."""
        key = blob_key(digest)
        return self.backend.exists(key) or restore(self.backend, digest, key)

    def damage(self, digest: str, raw_size: int | None = None) -> str | None:
        """Why blob ``digest`` would not read back, found cheaply: from its size and its
        header (a ``stat`` and a small read, never the data, so bit rot inside the data
        goes unseen until a read verifies it): ``"missing"``, what is wrong with it, or None
        if it looks whole. ``raw_size`` is the value's serialized size, as an
        :class:`~flowkit.store.records.ArtifactRef` has it."""
        key = blob_key(digest)
        size = self.backend.size(key)
        if size is None and restore(self.backend, digest, key):  # gc took it: back it comes
            size = self.backend.size(key)
        if size is None:
            return "missing"
        try:
            with self.backend.open(key) as fh:
                _version, table = _read_table(fh, digest, "")
        except KeyNotFoundError:
            return "missing"
        except CorruptBlobError as exc:
            return exc.why
        expected = _stored_size(table)
        if size != expected:
            return f"{size} bytes stored, {expected} expected"
        if raw_size is not None and sum(raw for _, raw, _ in table) != raw_size:
            return "its segment table does not match the artifact's size"
        return None

    def damages(self, sizes: Mapping[str, int | None]) -> dict[str, str]:
        """:meth:`damage` of many blobs (digest -> raw size), those that are not whole. The
        checks overlap, so a remote store's round trips do not add up one after another."""
        whys = overlapped(self.backend, lambda item: self.damage(*item), sizes.items())
        return {digest: why for digest, why in zip(sizes, whys, strict=True) if why is not None}

    def read(self, digest: str) -> tuple[list[Segment], str]:
        """The verified segments of blob ``digest``, and its pickle stream's own digest
        (see :func:`read_blob`)."""
        key = blob_key(digest)
        where = f"{self.backend.url}/{key}"
        for last in (False, True):
            try:
                with self.backend.open(key) as fh:
                    return read_blob(fh, digest, where)
            except KeyNotFoundError:
                # gc moved it to its trash, before the read or (a large object on a remote
                # store, read in parts) during it: put it back and read it again
                if last or not restore(self.backend, digest, key):
                    raise CorruptBlobError(digest, where, "the blob is missing") from None
        raise AssertionError("unreachable")
