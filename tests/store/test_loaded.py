"""A loaded value left unchanged is named by its digest, unhashed; any change is stored."""

from __future__ import annotations

import mmap
import os
import sys
import tracemalloc
import weakref

import numpy as np
import pytest

from flowkit.store import CorruptBlobError, Store
from flowkit.store import pages as pages_module
from flowkit.store.blobs import BlobStore
from flowkit.store.pages import (
    TRACKED_MIN,
    Fill,
    Pages,
    address,
    huge_pages,
    pristine,
    tracking,
)
from flowkit.store.records import ArtifactRef
from flowkit.store.serialize import to_frames
from flowkit.store.values import StoreArtifacts

needs_tracking = pytest.mark.skipif(not tracking(), reason="no memfd or readable pagemap here")


@pytest.fixture(autouse=True)
def _no_huge_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """A large segment is tracked only where anonymous memory gets no huge pages (plain
    memory is then cheaper to fill than a memfd): these tests are about tracked memory."""
    monkeypatch.setattr(pages_module, "huge_pages", lambda: False)


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


@needs_tracking
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


def _plain(segment: object) -> bool:
    """Plain memory: a bytearray, or (a large segment) an anonymous mapping, untracked."""
    return isinstance(segment, bytearray | mmap.mmap) and not isinstance(segment, Pages)


def test_small_or_untracked_segments_are_plain_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    small = Fill(TRACKED_MIN - 1, track=True)
    assert isinstance(small.seal(), bytearray)
    stream = Fill(TRACKED_MIN, track=False)
    assert _plain(stream.seal())
    monkeypatch.setattr(pages_module, "tracking", lambda: False)
    assert _plain(Fill(TRACKED_MIN).seal())


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
    assert _plain(segment) and segment[:3] == b"abc"


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


# -- what a loaded value keeps, and when memory is tracked (review of issue 19) ---------------


@pytest.fixture
def fresh_tracking() -> object:
    """``tracking()`` answered afresh in the test, and again after it (it is cached)."""
    answer = pages_module.tracking  # a test may replace it
    answer.cache_clear()
    yield
    answer.cache_clear()


def test_a_loaded_value_keeps_no_copy_of_its_pickle_stream(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = 8 << 20
    source = _source(store, blob=os.urandom(size))  # bytes pickle in band: an 8 MiB stream
    tracemalloc.start()
    try:
        back = source.load("blob")
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(back) == size
    assert held < 1.25 * size  # the value alone: the stream it was read from is freed
    _no_writes(monkeypatch)  # and it is still recognised unchanged, by the stream's digest
    assert _again(store, source, "blob", back) == source.ref("blob")


def test_a_stream_changed_to_the_same_length_is_stored_anew(store: Store) -> None:
    source = _source(store, items=list(range(1000)))
    items = source.load("items")
    items[500] = 501  # same pickle length, different bytes
    ref = _again(store, source, "items", items)
    assert ref.digest != source.ref("items").digest
    assert Store(store.backend).values.load(ref.digest)[499:502] == [499, 501, 501]


def test_no_proof_is_kept_for_a_value_with_a_buffer_in_plain_memory(
    store: Store, monkeypatch: pytest.MonkeyPatch, fresh_tracking: object
) -> None:
    source = _source(store, small=np.arange(10), large=np.arange(COUNT, dtype=np.float64))
    small = source.load("small")  # its buffer is out of band, but too small to track
    monkeypatch.setattr(pages_module, "tracking", lambda: False)
    large = source.load("large")
    for name, value in (("small", small), ("large", large)):
        loaded = source.loaded(name, value)
        assert loaded is not None and loaded.pages is None
        assert not loaded.holds(to_frames(value))  # its digest is what tells, hashed again
    kept = weakref.ref(large)
    del large, value
    assert kept() is None  # nor is the value kept: a join may load many in turn


@pytest.mark.parametrize("huge", [True, False])
def test_a_large_value_in_plain_memory_is_hashed_again_but_not_written_or_read(
    store: Store, monkeypatch: pytest.MonkeyPatch, huge: bool
) -> None:
    # huge pages: plain memory is chosen over a memfd; without them, untracked only where
    # there is no memfd or no pagemap to read
    monkeypatch.setattr(pages_module, "huge_pages", lambda: huge)
    monkeypatch.setattr(pages_module, "tracking", lambda: huge and tracking())
    array = np.random.default_rng(3).random(COUNT)
    source = _source(store, array=array)
    back = source.load("array")
    loaded = source.loaded("array", back)
    assert loaded is not None and loaded.pages is None  # plain memory, either way
    with monkeypatch.context() as patched:  # verified when read: no write, no second read
        patched.setattr(BlobStore, "put", lambda self, frames, digest=None: 1 / 0)
        patched.setattr(BlobStore, "exists", lambda self, digest: 1 / 0)
        assert _again(store, source, "array", back) == source.ref("array")
    back[7] = -1.0  # changed in place: no page tracking, the hash sees it
    ref = _again(store, source, "array", back)
    assert ref.digest != source.ref("array").digest
    assert Store(store.backend).values.load(ref.digest)[7] == -1.0


@pytest.mark.parametrize(
    ("setting", "huge"),
    [
        ("[always] madvise never", True),
        ("always [madvise] never", True),
        ("always madvise [never]", False),
        (None, False),  # no THP in this kernel
    ],
)
def test_huge_pages_are_what_the_kernel_gives_anonymous_memory_that_asks(
    monkeypatch: pytest.MonkeyPatch, setting: str | None, huge: bool
) -> None:
    files = {"/sys/kernel/mm/transparent_hugepage/enabled": setting}
    monkeypatch.setattr(pages_module, "_read", files.get)
    huge_pages.cache_clear()  # the module's own, which the fixture above replaced
    try:
        assert huge_pages() is huge
    finally:
        huge_pages.cache_clear()


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The files :func:`room` reads, as this test sets them (a missing one is not there)."""
    files: dict[str, str] = {"/proc/meminfo": "MemTotal: 33554432 kB\nMemAvailable: 16777216 kB\n"}

    def read(path: str) -> str | None:
        return files.get(path)

    monkeypatch.setattr(pages_module, "_read", read)
    return files


def test_room_is_memavailable_without_a_cgroup_v2_limit(machine: dict[str, str]) -> None:
    assert pages_module.room() == 16 << 30
    machine["/proc/self/cgroup"] = "4:memory:/job\n0::/\n"  # the root: no memory.max
    assert pages_module.room() == 16 << 30
    machine["/sys/fs/cgroup/memory.max"] = "max\n"
    machine["/sys/fs/cgroup/memory.current"] = "1073741824\n"
    assert pages_module.room() == 16 << 30


def test_room_is_what_a_cgroup_v2_limit_leaves(machine: dict[str, str]) -> None:
    machine["/proc/self/cgroup"] = "0::/jobs/one\n"
    machine["/sys/fs/cgroup/jobs/one/memory.max"] = "8589934592\n"  # 8 GiB
    machine["/sys/fs/cgroup/jobs/one/memory.current"] = "6442450944\n"  # 6 GiB used
    assert pages_module.room() == 2 << 30
    machine["/sys/fs/cgroup/jobs/one/memory.current"] = "9663676416\n"  # over it: none
    assert pages_module.room() == 0
    machine["/sys/fs/cgroup/jobs/one/memory.max"] = "68719476736\n"  # 64 GiB: RAM is less
    assert pages_module.room() == 16 << 30


def test_room_is_none_when_nothing_says(machine: dict[str, str]) -> None:
    del machine["/proc/meminfo"]
    assert pages_module.room() == 0
    machine["/proc/meminfo"] = "MemTotal: 33554432 kB\n"  # a kernel before 3.14
    assert pages_module.room() == 0


@needs_tracking
def test_a_segment_is_tracked_only_within_a_quarter_of_the_memory_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    size = 2 * TRACKED_MIN
    monkeypatch.setattr(pages_module, "room", lambda: 4 * size)
    assert isinstance(Fill(size).seal(), Pages)
    monkeypatch.setattr(pages_module, "room", lambda: 4 * size - 1)
    fill = Fill(size)
    fill.view[:2] = b"ok"
    segment = fill.seal()
    assert _plain(segment) and segment[:2] == b"ok"


@pytest.mark.parametrize("order", ["little", "big"])
def test_the_page_flags_are_read_in_the_machines_byte_order(
    monkeypatch: pytest.MonkeyPatch, order: str
) -> None:
    monkeypatch.setattr(sys, "byteorder", order)
    pfn = 0xFF_FFFF_FFFF  # a frame number whose low bytes would pass for flags

    def entries(*flags: int) -> bytes:
        return b"".join(((f << 56) | pfn).to_bytes(8, order) for f in flags)  # type: ignore[arg-type]

    assert pages_module._pristine_entries(entries(0xA0, 0x00, 0xA0))
    assert not pages_module._pristine_entries(entries(0xA0, 0x80, 0xA0))  # one page copied
    assert not pages_module._pristine_entries(entries(0xC0))  # swapped out


@needs_tracking
def test_tracking_needs_a_pagemap_that_shows_a_write(
    monkeypatch: pytest.MonkeyPatch, fresh_tracking: object
) -> None:
    assert tracking()
    pages_module.tracking.cache_clear()
    # a kernel that gives zeroed entries: every page would look pristine, written or not
    monkeypatch.setattr(pages_module, "pristine", lambda pages: True)
    assert not tracking()
    pages_module.tracking.cache_clear()
    monkeypatch.setattr(pages_module, "pristine", lambda pages: False)
    assert not tracking()


@needs_tracking
def test_a_private_mapping_refused_leaves_the_data_in_plain_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Refused(Pages):
        def __new__(cls, *args: object, **kwargs: object) -> Refused:
            raise OSError(12, "Cannot allocate memory")  # overcommit_memory=2

    before = len(os.listdir("/proc/self/fd"))
    fill = Fill(TRACKED_MIN)
    fill.view[:3] = b"abc"
    fill.view[-3:] = b"xyz"
    monkeypatch.setattr(pages_module, "Pages", Refused)
    segment = fill.seal()
    assert isinstance(segment, bytearray) and len(segment) == TRACKED_MIN
    assert segment[:3] == b"abc" and segment[-3:] == b"xyz"
    assert len(os.listdir("/proc/self/fd")) == before  # the memfd is closed
