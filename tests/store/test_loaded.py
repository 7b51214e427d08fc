"""A loaded value left unchanged is named by its digest, unhashed; any change is stored."""

from __future__ import annotations

import mmap
import os

import numpy as np
import pytest

from flowkit.store import CorruptBlobError, Store
from flowkit.store import pages as pages_module
from flowkit.store.blobs import BlobStore
from flowkit.store.pages import TRACKED_MIN, Fill, Pages, address, pristine, tracking
from flowkit.store.records import ArtifactRef
from flowkit.store.values import StoreArtifacts

needs_tracking = pytest.mark.skipif(not tracking(), reason="no memfd or readable pagemap here")

#: 4 MiB of float64: above the size whose memory is tracked.
COUNT = 4 * TRACKED_MIN // 8


def _source(store: Store, **values: object) -> StoreArtifacts:
    refs = {name: store.values.put(value) for name, value in values.items()}
    return StoreArtifacts(Store(store.backend).values, refs, owner="F/1/start/1")


def _no_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: BlobStore, frames: object) -> None:
        raise AssertionError("an unchanged loaded value was hashed and written again")

    monkeypatch.setattr(BlobStore, "put", refuse)


def _again(store: Store, source: StoreArtifacts, name: str, value: object) -> ArtifactRef:
    return store.values.put(value, name=name, loaded=source.loaded(name, value))


@needs_tracking
def test_a_loaded_array_left_unchanged_is_named_without_hashing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    array = np.random.default_rng(1).random(COUNT)
    source = _source(store, array=array)
    back = source.load("array")
    assert float(back.sum()) == pytest.approx(float(array.sum()))  # read, never written
    _no_writes(monkeypatch)
    assert _again(store, source, "array", back) == source.ref("array")


@needs_tracking
@pytest.mark.parametrize("where", [0, COUNT // 2, COUNT - 1])
def test_an_array_changed_in_place_is_stored_anew(store: Store, where: int) -> None:
    array = np.random.default_rng(2).random(COUNT)
    source = _source(store, array=array)
    back = source.load("array")
    back[where] = -1.0
    ref = _again(store, source, "array", back)
    assert ref.digest != source.ref("array").digest
    stored = Store(store.backend).values.load(ref.digest)
    assert stored[where] == -1.0
    assert np.array_equal(np.delete(stored, where), np.delete(array, where))


@needs_tracking
def test_an_array_reshaped_in_place_is_stored_anew(store: Store) -> None:
    source = _source(store, array=np.arange(COUNT, dtype=np.float64))
    back = source.load("array")
    back.shape = (2, COUNT // 2)  # the same memory, untouched: only the pickle stream differs
    ref = _again(store, source, "array", back)
    assert ref.digest != source.ref("array").digest
    assert Store(store.backend).values.load(ref.digest).shape == (2, COUNT // 2)


@needs_tracking
def test_arrays_swapped_inside_a_loaded_value_are_stored_anew(store: Store) -> None:
    pair = [np.zeros(COUNT), np.ones(COUNT)]
    source = _source(store, pair=pair)
    back = source.load("pair")
    back.reverse()  # same stream shape, each buffer now at the other's place
    ref = _again(store, source, "pair", back)
    assert ref.digest != source.ref("pair").digest
    first, second = Store(store.backend).values.load(ref.digest)
    assert first[0] == 1.0 and second[0] == 0.0


def test_another_object_is_not_taken_for_the_loaded_one(store: Store) -> None:
    source = _source(store, array=np.arange(COUNT, dtype=np.float64))
    back = source.load("array")
    assert source.loaded("array", back) is not None
    assert source.loaded("array", back.copy()) is None
    assert source.loaded("other", back) is None


def test_changed_small_values_are_stored_anew(store: Store) -> None:
    source = _source(store, items=[1, 2, 3], small=np.arange(10))
    items, small = source.load("items"), source.load("small")
    items.append(4)
    ref = _again(store, source, "items", items)
    assert ref.digest != source.ref("items").digest
    assert Store(store.backend).values.load(ref.digest) == [1, 2, 3, 4]
    # a small array's buffer is plain memory it shares: nothing proves it unchanged, so it
    # is hashed like any value, and its change is stored
    small[0] = 7
    ref = _again(store, source, "small", small)
    assert ref.digest != source.ref("small").digest
    assert list(Store(store.backend).values.load(ref.digest)) == [7, *range(1, 10)]


def test_an_unchanged_small_value_is_not_written_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _source(store, config={"alpha": 0.5, "layers": [3, 4]})
    config = source.load("config")
    _no_writes(monkeypatch)
    assert _again(store, source, "config", config) == source.ref("config")


@needs_tracking
def test_pages_show_a_write_by_any_means(tmp_path: object) -> None:
    fill = Fill(TRACKED_MIN, track=True)
    fill.view[:5] = b"hello"
    pages = fill.seal()
    assert isinstance(pages, Pages) and pages[:5] == b"hello" and len(pages) == TRACKED_MIN
    assert pages.address == address(memoryview(pages)) and pages.address % mmap.PAGESIZE == 0
    assert bytes(pages[-3:]) == b"\0\0\0" and pristine(pages)  # reading writes nothing
    # a write through a system call, not a Python store: readinto from a pipe
    read, write = os.pipe()
    os.write(write, b"x")
    os.close(write)
    with os.fdopen(read, "rb", buffering=0) as fh:
        fh.readinto(memoryview(pages)[TRACKED_MIN - 1 :])
    assert pages[-1:] == b"x" and not pristine(pages)


def test_small_or_untracked_segments_are_plain_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    small = Fill(TRACKED_MIN - 1, track=True)
    assert isinstance(small.seal(), bytearray)
    stream = Fill(TRACKED_MIN, track=False)
    assert isinstance(stream.seal(), bytearray)
    monkeypatch.setattr(pages_module, "tracking", lambda: False)
    assert isinstance(Fill(TRACKED_MIN).seal(), bytearray)


@needs_tracking
def test_without_descriptors_to_spare_a_segment_is_plain_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def exhausted(name: str, flags: int = 0) -> int:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(os, "memfd_create", exhausted)
    fill = Fill(TRACKED_MIN)
    fill.view[:3] = b"abc"
    segment = fill.seal()
    assert isinstance(segment, bytearray) and segment[:3] == b"abc"


def test_a_read_only_buffer_has_no_known_address() -> None:
    assert address(memoryview(b"abc")) == -1
    assert address(memoryview(bytearray(3))) > 0


@needs_tracking
def test_a_failed_read_frees_its_memory(store: Store) -> None:
    ref = store.values.put(np.random.default_rng(3).random(COUNT))  # stored raw
    path = store.backend.path_of(f"blobs/{ref.digest[:2]}/{ref.digest}")  # type: ignore[attr-defined]
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(CorruptBlobError, match="its contents hash to"):
        Store(store.backend).values.load(ref.digest)
    assert len(os.listdir("/proc/self/fd")) == before
