"""The write-once cache: a kept object costs no second backend read; what changes (a lease,
a missing end record) is read afresh; memory stays bounded."""

from __future__ import annotations

import threading

import pytest

from flowkit.store import layout
from flowkit.store.blobs import blob_key, digest_of, encode
from flowkit.store.cached import CachedBackend, cached
from flowkit.store.errors import KeyNotFoundError
from flowkit.store.memory import MemoryBackend
from flowkit.store.serialize import Frames
from flowkit.store.store import Store


class CountingBackend(MemoryBackend):
    """A memory backend that counts its reads."""

    def __init__(self) -> None:
        super().__init__("counting")
        self.gets: list[str] = []

    def get(self, key: str) -> bytes:
        self.gets.append(key)
        return super().get(key)


def blob(payload: bytes) -> tuple[str, bytes]:
    """A real blob holding ``payload``: its key and its stored bytes."""
    frames = Frames([payload], cloudpickled=False)
    return blob_key(digest_of(frames.segments)), b"".join(bytes(p) for p in encode(frames))


RUN = layout.run_key("F", "r1")
END = layout.run_end_key("F", "r1")
LEASE = layout.lease_key("F", "r1")


@pytest.mark.parametrize(
    ("key", "once"),
    [
        (RUN, True),
        (END, True),
        (layout.explain_key("F", "r1"), True),
        (layout.step_index_key("F", "r1", "start"), True),
        (layout.attempt_key("F", "r1", "start", "t1", 0, final=True), True),
        (layout.attempt_key("F", "r1", "start", "t1", 0, final=False), True),
        (layout.tag_change_key("F", "r1", "c1"), True),
        (layout.log_prefix("F", "r1", "start", "t1", 0) + "/stdout.0", True),
        ("blobs/ab/abcdef", True),
        (layout.dead_letter_key("d1"), True),
        (layout.dead_letter_retry_key("d1", "r2"), True),
        (LEASE, False),
        (layout.cache_key_path("F", "abcdef"), False),
        (layout.trash_key("b1", "abcdef"), False),
        ("quarantine/abc.123", False),
        ("runs/F", False),
    ],
)
def test_write_once_names_the_keys_that_never_change(key: str, once: bool) -> None:
    assert layout.write_once(key) is once


def test_a_second_read_of_a_record_costs_no_backend_get() -> None:
    inner = CountingBackend()
    inner.put(RUN, [b"run"])
    backend = CachedBackend(inner)
    assert backend.get(RUN) == b"run"
    assert backend.get(RUN) == b"run"
    with backend.open(RUN) as fh:
        assert fh.read() == b"run"
    assert inner.gets == [RUN]
    assert backend.exists(RUN)


def test_a_lease_and_a_missing_end_record_are_read_afresh() -> None:
    inner = CountingBackend()
    backend = CachedBackend(inner)
    inner.put(LEASE, [b"beat 1"])
    assert backend.get(LEASE) == b"beat 1"
    inner.put(LEASE, [b"beat 2"])
    assert backend.get(LEASE) == b"beat 2"
    with pytest.raises(KeyNotFoundError):
        backend.get(END)
    inner.put(END, [b"end"])
    assert backend.get(END) == b"end"
    assert inner.gets == [LEASE, LEASE, END, END]


def test_memory_stays_within_its_bound() -> None:
    inner = CountingBackend()
    backend = CachedBackend(inner, max_bytes=1000, max_object=300)
    keys = [f"logs/aa/{i:04d}" for i in range(10)]
    for key in keys:
        inner.put(key, [b"x" * 250])
        backend.get(key)
    big = "logs/aa/big"
    inner.put(big, [b"x" * 301])
    backend.get(big)
    backend.get(big)
    assert backend.cached_bytes == 1000
    inner.gets.clear()
    backend.get(keys[-1])  # kept: the most recent
    backend.get(keys[0])  # dropped: the least recent
    assert inner.gets == [keys[0]]


def test_reads_from_many_threads_keep_the_count_right() -> None:
    inner = CountingBackend()
    keys = [f"logs/bb/{i:04d}" for i in range(200)]
    for key in keys:
        inner.put(key, [b"y" * 10])
    backend = CachedBackend(inner, max_bytes=1000)

    def read() -> None:
        for key in keys:
            assert backend.get(key) == b"y" * 10

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert backend.cached_bytes == 1000


def test_cached_store_reads_records_through_the_cache() -> None:
    inner = CountingBackend()
    store = cached(Store(inner))
    assert isinstance(store.backend, CachedBackend)
    assert cached(store) is store
    inner.put(RUN, [b"{}"])
    store.backend.get(RUN)
    store.backend.get(RUN)
    assert inner.gets == [RUN]


def test_a_healed_or_removed_blob_is_read_afresh() -> None:
    inner = CountingBackend()
    backend = CachedBackend(inner)
    key, intact = blob(b"value")
    backend.put(key, [b"damaged"])
    assert backend.get(key) == b"damaged"
    backend.put(key, [intact])  # a write over a damaged copy
    assert backend.get(key) == intact
    assert backend.move(key, "trash/b1/d1")
    assert not backend.exists(key)
    with pytest.raises(KeyNotFoundError):
        backend.get(key)


def test_a_damaged_blob_healed_by_another_process_is_read_afresh() -> None:
    inner = CountingBackend()
    backend = CachedBackend(inner)
    key, intact = blob(b"value")
    inner.put(key, [intact[:-1]])  # truncated
    assert backend.get(key) == intact[:-1]
    inner.put(key, [intact])  # healed by a write elsewhere: this cache never saw it
    assert backend.get(key) == intact
    assert backend.get(key) == intact
    assert inner.gets == [key, key]  # the intact copy is kept


def test_a_kept_record_deleted_elsewhere_no_longer_exists() -> None:
    inner = CountingBackend()
    backend = CachedBackend(inner)
    inner.put(RUN, [b"{}"])
    assert backend.get(RUN) == b"{}"
    inner.delete(RUN)  # gc in another process
    assert not backend.exists(RUN)
