"""Blob formats: format 2 names blobs by BLAKE3; format 1 (SHA-256) blobs and inline values
written before it still read back verified, and a new write stores a value in format 2."""

from __future__ import annotations

import binascii
import hashlib
import struct
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from blake3 import blake3

from flowkit.store import CorruptBlobError, Store
from flowkit.store import blobs as blobs_module
from flowkit.store import pages as pages_module
from flowkit.store.blobs import blob_key, digest_of, encode, read_blob
from flowkit.store.errors import NewerBlobFormatError
from flowkit.store.fsck import fsck, repair
from flowkit.store.serialize import to_frames
from flowkit.store.values import inline_damaged

from .conftest import blob_file

ROOT = Path(__file__).resolve().parents[2]
_VERSION_AT = len(b"FKBLOB")  # the header's version byte


def _by_hand(prefix: bytes, make: object, segments: list[bytes]) -> str:
    """A digest computed here, not by flowkit: each segment preceded by its length."""
    hasher = make(prefix)  # type: ignore[operator]
    for segment in segments:
        hasher.update(struct.pack("<Q", len(segment)) + segment)
    return str(hasher.hexdigest())


def _write_format_1(store: Store, value: object) -> str:
    """Store ``value`` as flowkit wrote it before format 2: the same layout, version byte 1,
    named by SHA-256. Returns its digest."""
    frames = to_frames(value)
    digest = _by_hand(b"flowkit-blob-1\n", hashlib.sha256, [bytes(s) for s in frames.segments])
    head, *payload = encode(frames)
    head = bytes(head)
    old = head[:_VERSION_AT] + b"\x01" + head[_VERSION_AT + 1 :]
    store.backend.put(blob_key(digest), [old, *payload])
    return digest


def test_blobs_are_named_by_blake3_of_the_uncompressed_segments(store: Store) -> None:
    for value in ("abc" * 100_000, np.arange(600_000, dtype=np.float64), 7):
        segments = [bytes(s) for s in to_frames(value).segments]
        ref = store.values.put(value)
        assert ref.digest == _by_hand(b"flowkit-blob-2\n", blake3, segments)
        assert blob_file(store, ref.digest).read_bytes()[_VERSION_AT] == 2


def test_a_large_value_hashed_on_several_threads_has_the_one_thread_digest() -> None:
    data = np.random.default_rng(1).bytes(9 << 20)  # over the threaded minimum
    assert digest_of([data]) == _by_hand(b"flowkit-blob-2\n", blake3, [data])


def test_a_format_1_blob_reads_back_verified_and_a_new_write_stores_format_2(
    store: Store,
) -> None:
    value = {"rows": list(range(5_000)), "name": "old"}
    old = _write_format_1(store, value)
    assert store.values.load(old) == value
    assert store.values.damages({old: None}) == {}

    ref = store.values.put(value)
    assert ref.digest != old and ref.digest == digest_of(to_frames(value).segments)
    assert blob_file(store, ref.digest).read_bytes()[_VERSION_AT] == 2
    assert blob_file(store, old).exists()  # the old copy stays for the records naming it
    assert Store(store.backend).values.load(old) == value


def test_a_damaged_format_1_blob_is_refused(store: Store) -> None:
    old = _write_format_1(store, np.random.default_rng(3).bytes(10_000))  # stored raw
    path = blob_file(store, old)
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptBlobError, match="its contents hash to"):
        Store(store.backend).values.load(old)


def test_a_changed_version_byte_fails_verification_and_the_next_write_heals_it(
    store: Store,
) -> None:
    value = "y" * 50_000
    ref = store.values.put(value)
    path = blob_file(store, ref.digest)
    data = bytearray(path.read_bytes())
    data[_VERSION_AT] = 1  # now read as a format 1 blob: SHA-256 cannot give this name
    path.write_bytes(bytes(data))
    fresh = Store(store.backend)
    with pytest.raises(CorruptBlobError, match="its contents hash to"):
        fresh.values.load(ref.digest)

    assert fresh.values.put(value) == ref
    assert path.read_bytes()[_VERSION_AT] == 2
    assert Store(store.backend).values.load(ref.digest) == value


def test_an_array_loaded_from_a_format_1_blob_is_stored_again_under_its_new_name(
    store: Store,
) -> None:
    array = np.random.default_rng(2).random(400_000)  # 3.2 MB: read into tracked pages
    old = _write_format_1(store, array)
    loaded, how = Store(store.backend).values.read(old)
    assert np.array_equal(loaded, array)
    ref = store.values.put(loaded, loaded=how)  # unchanged, but named by the other hash
    assert ref.digest == digest_of(to_frames(array).segments) != old
    assert np.array_equal(Store(store.backend).values.load(ref.digest), array)


def test_an_inline_value_from_a_format_1_record_verifies(store: Store) -> None:
    ref = store.values.put_artifacts({"count": 5}, step="s")["count"]
    assert ref.inline is not None
    stream = binascii.a2b_base64(ref.inline)
    sha = _by_hand(b"flowkit-blob-1\n", hashlib.sha256, [stream])
    old = replace(ref, digest=sha)
    assert not inline_damaged(old)
    assert store.values.load_artifact(old) == 5
    assert inline_damaged(replace(ref, digest=hashlib.sha256(b"other").hexdigest()))


def test_a_forked_child_hashes_a_large_value_after_its_parent_did(tmp_path: Path) -> None:
    # blake3's shared thread pool does not survive a fork: a fork server's children would
    # wait forever on it. Each large hash has a pool of its own.
    script = textwrap.dedent(
        """
        import os
        from flowkit.store.blobs import digest_of
        data = os.urandom(64 << 20)
        first = digest_of([data])
        pid = os.fork()
        if pid == 0:
            os._exit(0 if digest_of([data]) == first else 1)
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "child 0"


class _Dropping:
    """A reader of ``data`` whose connection drops after ``good`` bytes (a remote store's
    ranged read, say): the read's own error is what the caller must see."""

    def __init__(self, data: bytes, good: int) -> None:
        self._data, self._good, self._at = data, good, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._at + size
        chunk = self._data[self._at : min(end, self._good)]
        self._at += len(chunk)
        if not chunk and self._at < len(self._data):
            raise ConnectionResetError("the connection dropped")
        return chunk

    def readinto(self, into: memoryview) -> int:
        if self._at >= self._good:
            raise ConnectionResetError("the connection dropped")
        count = min(len(into), self._good - self._at)
        into[:count] = self._data[self._at : self._at + count]
        self._at += count
        return count


@pytest.mark.parametrize("huge", [True, False])
def test_a_read_that_fails_midway_raises_its_own_error_and_frees_its_memory(
    monkeypatch: pytest.MonkeyPatch, huge: bool
) -> None:
    monkeypatch.setattr(pages_module, "huge_pages", lambda: huge)
    frames = to_frames(np.random.default_rng(4).random(3_000_000))  # 24 MB: large segments
    data = b"".join(bytes(part) for part in encode(frames))
    digest = digest_of(frames.segments)
    with pytest.raises(ConnectionResetError, match="the connection dropped"):
        read_blob(_Dropping(data, 10 << 20), digest, "somewhere")


def test_a_thread_pool_refused_hashes_on_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    class Panic(BaseException):  # what pyo3 raises when blake3 cannot start its threads
        pass

    def refusing(data: bytes = b"", *, max_threads: int = 1) -> object:
        if max_threads != 1:
            raise Panic("Resource temporarily unavailable")
        return blake3(data, max_threads=1)

    monkeypatch.setattr(blobs_module, "_threads", lambda: 4)
    monkeypatch.setattr(blobs_module, "blake3", refusing)
    data = np.random.default_rng(5).bytes(3 << 20)
    assert digest_of([data]) == _by_hand(b"flowkit-blob-2\n", blake3, [data])


def test_a_blob_of_a_newer_format_is_not_damage_and_repair_keeps_it(store: Store) -> None:
    ref = store.values.put(np.random.default_rng(6).bytes(20_000))
    path = blob_file(store, ref.digest)
    data = bytearray(path.read_bytes())
    data[_VERSION_AT] = 3  # what a newer flowkit might write
    path.write_bytes(bytes(data))
    with pytest.raises(NewerBlobFormatError, match="format 3, written by a newer flowkit") as info:
        Store(store.backend).values.load(ref.digest)
    assert "upgrade flowkit" in info.value.hint
    report = fsck(store)
    [problem] = report.problems
    assert "newer flowkit" in problem.message and problem.removable is None
    assert repair(store, report) == []
    assert path.read_bytes() == bytes(data)  # kept, byte for byte
