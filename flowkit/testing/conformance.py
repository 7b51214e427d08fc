"""The contract every byte-store backend must meet, as pytest tests to inherit.

Use it from a backend's own tests::

    from flowkit.testing import BackendConformance

    class TestMyBackend(BackendConformance):
        @pytest.fixture
        def backend(self, tmp_path):
            return MyBackend(...)

Each test gets a fresh, empty backend from the ``backend`` fixture.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from flowkit.store.backend import Backend
from flowkit.store.blobs import blob_key
from flowkit.store.errors import (
    CorruptBlobError,
    InvalidKeyError,
    KeyNotFoundError,
    RecordExistsError,
)
from flowkit.store.serialize import to_frames
from flowkit.store.store import Store

BAD_KEYS = [
    "",
    "/etc/passwd",
    "../outside",
    "a/../../outside",
    "a/..",
    "a//b",
    "a/./b",
    "a/",
    ".hidden",
    "a/.tmp-1",
    "a\\b",
    "a\x00b",
    "a b",
    "~/x",
]


#: A value stored raw and one stored compressed, so both ways of storing a segment heal.
HEALING_VALUES: list[Any] = [random.Random(0).randbytes(20_000), "flowkit " * 4096]

#: Ways a stored blob goes bad; None: it is deleted.
DAMAGES: dict[str, Callable[[bytes], bytes | None]] = {
    "truncated": lambda b: b[: len(b) // 2],
    "bit-flipped": lambda b: b[:-100] + bytes([b[-100] ^ 0x04]) + b[-99:],
    "appended": lambda b: b + b"\0",
    "emptied": lambda b: b"",
    "deleted": lambda b: None,
}


class BackendConformance:
    """Inherit this in a ``Test*`` class and provide a ``backend`` fixture."""

    @pytest.fixture
    def backend(self) -> Backend:
        raise NotImplementedError("a conformance test class must provide a backend fixture")

    def test_is_a_backend(self, backend: Backend) -> None:
        assert isinstance(backend, Backend)
        assert isinstance(backend.url, str) and backend.url
        assert isinstance(backend.shared, bool)  # whether a run's tasks can open it too
        assert isinstance(backend.remote, bool)

    def test_put_get_joins_parts(self, backend: Backend) -> None:
        backend.put("a/b/c", [b"head-", bytearray(b"middle-"), memoryview(b"tail")])
        assert backend.get("a/b/c") == b"head-middle-tail"

    def test_empty_object(self, backend: Backend) -> None:
        backend.put("empty", [])
        assert backend.get("empty") == b""
        assert backend.exists("empty")

    def test_large_object_roundtrip(self, backend: Backend) -> None:
        data = bytes(range(256)) * (80 * 1024)  # 20 MiB
        view = memoryview(data)
        backend.put("big", [view[:7], view[7:]])
        with backend.open("big") as fh:
            into = bytearray(len(data))
            got = 0
            while got < len(data):
                count = fh.readinto(memoryview(into)[got:])
                assert count
                got += count
            assert fh.read(1) == b""
        assert into == data

    def test_put_replaces(self, backend: Backend) -> None:
        backend.put("k", [b"one"])
        backend.put("k", [b"two"])
        assert backend.get("k") == b"two"

    def test_put_over_a_key_is_atomic_for_readers(self, backend: Backend) -> None:
        # A run's lease is overwritten every few seconds while readers poll it: a reader
        # must see one whole version or the other, never a mix or an empty object.
        versions = [b"a" * 50_000, b"b" * 10]
        backend.put("leases/F/1.json", [versions[0]])
        stop = threading.Event()
        seen: set[bytes] = set()

        def read() -> None:
            while not stop.is_set():
                seen.add(backend.get("leases/F/1.json"))

        reader = threading.Thread(target=read)
        reader.start()
        for i in range(200):
            backend.put("leases/F/1.json", [versions[i % 2]])
        stop.set()
        reader.join()
        assert seen <= set(versions) and seen

    def test_put_new_is_write_once(self, backend: Backend) -> None:
        assert backend.put_new("rec/1.json", b"first") is True
        assert backend.put_new("rec/1.json", b"second") is False
        assert backend.get("rec/1.json") == b"first"

    def test_put_new_race_has_one_winner(self, backend: Backend) -> None:
        results: list[bool] = []
        barrier = threading.Barrier(8)

        def contend(i: int) -> None:
            barrier.wait()
            results.append(backend.put_new("race/key", f"writer {i}".encode()))

        threads = [threading.Thread(target=contend, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [False] * 7 + [True]
        assert backend.get("race/key").startswith(b"writer ")

    def test_missing_key(self, backend: Backend) -> None:
        assert not backend.exists("nope")
        with pytest.raises(KeyNotFoundError, match="nope"):
            backend.get("nope")
        with pytest.raises(KeyNotFoundError):
            backend.open("nope")
        backend.delete("nope")  # deleting what is not there is fine

    def test_prefix_is_not_an_object(self, backend: Backend) -> None:
        backend.put("dir/child", [b"x"])
        assert not backend.exists("dir")
        with pytest.raises(KeyNotFoundError):
            backend.get("dir")

    def test_list_immediate_children_sorted(self, backend: Backend) -> None:
        for key in ("r/b", "r/a/x", "r/a/y", "r/c.json", "other/z"):
            backend.put(key, [b"."])
        assert backend.list("r") == ["a", "b", "c.json"]
        assert backend.list("r/a") == ["x", "y"]
        assert backend.list("missing") == []
        assert backend.list("") == ["other", "r"]

    def test_size_without_reading(self, backend: Backend) -> None:
        backend.put("s/one", [b"12345", b"678"])
        backend.put("s/empty", [])
        assert backend.size("s/one") == 8
        assert backend.size("s/empty") == 0
        assert backend.size("s/missing") is None
        assert backend.size("s") is None  # a prefix is not an object

    def test_scan_lists_every_object_below_with_size_and_time(self, backend: Backend) -> None:
        before = time.time()
        for key, data in (("t/a", b"1"), ("t/b/c", b"22"), ("t/b/d/e", b"333"), ("u/f", b"")):
            backend.put(key, [data])
        backend.put_new("t/g", b"4444")
        found = {info.key: info for info in backend.scan("t")}
        sizes = {"t/a": 1, "t/b/c": 2, "t/b/d/e": 3, "t/g": 4}
        assert {k: i.size for k, i in found.items()} == sizes
        # an object store keeps whole seconds, and its clock may be a little off ours
        assert all(before - 5 <= i.modified <= time.time() + 5 for i in found.values())
        assert {i.key for i in backend.scan("")} == {*found, "u/f"}
        assert sorted(i.key for i in backend.scan("t/b")) == ["t/b/c", "t/b/d/e"]
        assert list(backend.scan("missing")) == []
        backend.delete("t/a")
        assert "t/a" not in {i.key for i in backend.scan("t")}

    def test_scan_and_list_see_past_a_thousand_objects(self, backend: Backend) -> None:
        with ThreadPoolExecutor(8) as pool:  # a remote store's round trips overlap
            assert all(pool.map(lambda n: backend.put_new(f"many/{n:04d}", b"x"), range(1005)))
        assert len(list(backend.scan("many"))) == 1005
        assert backend.list("many")[-1] == "1004" and len(backend.list("many")) == 1005

    def test_put_replaces_a_damaged_object_atomically(self, backend: Backend) -> None:
        backend.put("heal/k", [b"whole object"])
        backend.put("heal/k", [b"whole"])  # damaged: truncated
        backend.put("heal/k", [b"whole object"])
        assert backend.get("heal/k") == b"whole object"
        assert backend.list("heal") == ["k"]  # nothing staged is left in sight

    def test_delete(self, backend: Backend) -> None:
        backend.put("d/1", [b"x"])
        backend.delete("d/1")
        assert not backend.exists("d/1")
        assert backend.list("d") == []

    def test_a_prefix_emptied_takes_new_objects(self, backend: Backend) -> None:
        backend.put("e/a/b/1", [b"x"])
        backend.delete("e/a/b/1")
        assert backend.move("e/a/b/1", "f/1") is False
        backend.put("e/a/b/1", [b"again"])  # writing under an emptied prefix works
        assert backend.get("e/a/b/1") == b"again"
        assert backend.move("e/a/b/1", "f/1") and backend.get("f/1") == b"again"
        assert backend.put_new("e/a/b/1", b"new") and [i.key for i in backend.scan("e")] == [
            "e/a/b/1"
        ]

    def test_move_takes_an_object_to_a_new_key(self, backend: Backend) -> None:
        backend.put("a/b", [b"damaged"])
        backend.put("aside/old", [b"replaced by the move"])
        assert backend.move("a/b", "aside/old") is True
        assert backend.get("aside/old") == b"damaged"
        assert not backend.exists("a/b") and backend.size("a/b") is None
        backend.put("a/b", [b"healed"])  # a write after the move stays where it was put
        assert backend.get("a/b") == b"healed" and backend.get("aside/old") == b"damaged"

    def test_move_of_nothing_changes_nothing(self, backend: Backend) -> None:
        backend.put("p/x", [b"x"])
        assert backend.move("missing", "aside/m") is False
        assert backend.move("p", "aside/p") is False  # a prefix is not an object
        assert not backend.exists("aside/m") and not backend.exists("aside/p")
        assert backend.get("p/x") == b"x" and backend.list("aside") == []

    @pytest.mark.parametrize("key", BAD_KEYS)
    def test_rejects_escaping_keys(self, backend: Backend, key: str) -> None:
        calls: list[Any] = [
            lambda: backend.put(key, [b"x"]),
            lambda: backend.put_new(key, b"x"),
            lambda: backend.get(key),
            lambda: backend.open(key),
            lambda: backend.exists(key),
            lambda: backend.delete(key),
            lambda: backend.move(key, "aside/k"),
            lambda: backend.move("k", key),
        ]
        if key:
            calls.append(lambda: backend.list(key))
            calls.append(lambda: list(backend.scan(key)))
        for call in calls:
            with pytest.raises(InvalidKeyError):
                call()

    # -- the store built on the backend -----------------------------------------------------

    def test_values_roundtrip_and_dedupe(self, backend: Backend) -> None:
        store = Store(backend)
        value = {"rows": list(range(1000)), "name": "x" * 10_000}
        first = store.values.put(value)
        assert store.values.put(dict(value)) == first
        assert store.values.load(first.digest) == value
        assert backend.list("blobs") == [first.digest[:2]]

    def test_corrupt_blob_is_detected(self, backend: Backend) -> None:
        store = Store(backend)
        ref = store.values.put(list(range(100)))
        data = bytearray(backend.get(blob_key(ref.digest)))
        data[-3] ^= 0xFF
        backend.put(blob_key(ref.digest), [bytes(data)])
        with pytest.raises(CorruptBlobError, match=f"blob {ref.digest} .* is corrupt"):
            store.values.load(ref.digest)

    @pytest.mark.parametrize("value", HEALING_VALUES, ids=["raw", "compressed"])
    @pytest.mark.parametrize("damage", sorted(DAMAGES))
    def test_a_write_heals_a_damaged_blob(self, backend: Backend, damage: str, value: Any) -> None:
        store = Store(backend)
        digest = store.values.put(value).digest
        key = blob_key(digest)
        stored = backend.get(key)
        damaged = DAMAGES[damage](stored)
        if damaged is None:
            backend.delete(key)
        else:
            backend.put(key, [damaged])
        with pytest.raises(CorruptBlobError):
            store.values.load(digest)
        assert store.values.blobs.damage(digest) is not None or damage == "bit-flipped"
        fresh = Store(backend)  # a new run, in another process: it knows nothing
        assert fresh.values.blobs.put(to_frames(value)) == (digest, True)
        assert backend.get(key) == stored
        assert fresh.values.load(digest) == value  # the read verifies the hash
        assert fresh.values.blobs.damage(digest) is None

    @pytest.mark.parametrize("value", HEALING_VALUES, ids=["raw", "compressed"])
    def test_an_intact_blob_is_not_written_again(self, backend: Backend, value: Any) -> None:
        store = Store(backend)
        digest = store.values.put(value).digest
        assert Store(backend).values.blobs.put(to_frames(value)) == (digest, False)
        assert store.values.blobs.damage(digest, to_frames(value).size) is None

    def test_damage_is_found_from_size_and_header(self, backend: Backend) -> None:
        store = Store(backend)
        ref = store.values.put(HEALING_VALUES[0])
        key = blob_key(ref.digest)
        stored = backend.get(key)
        assert store.values.blobs.damage(ref.digest, ref.size) is None
        assert store.values.blobs.damage(ref.digest, ref.size + 1) is not None
        backend.put(key, [stored[:-1]])
        assert (
            store.values.blobs.damage(ref.digest)
            == f"{len(stored) - 1} bytes stored, {len(stored)} expected"
        )
        backend.put(key, [b"NOTABLOB" + stored[8:]])
        assert "bad magic bytes" in str(store.values.blobs.damage(ref.digest))
        backend.delete(key)
        assert store.values.blobs.damage(ref.digest) == "missing"

    def test_many_blobs_are_checked_at_once(self, backend: Backend) -> None:
        store = Store(backend)
        refs = [store.values.put(f"value {i}") for i in range(40)]
        backend.delete(blob_key(refs[3].digest))
        backend.put(blob_key(refs[30].digest), [backend.get(blob_key(refs[30].digest))[:-1]])
        found = store.values.blobs.damages({ref.digest: ref.size for ref in refs})
        assert sorted(found) == sorted([refs[3].digest, refs[30].digest])
        assert found[refs[3].digest] == "missing"
        assert found[refs[30].digest].endswith("expected")

    def test_records_are_write_once(self, backend: Backend) -> None:
        store = Store(backend)
        run = store.records.create_run("ConformanceFlow", parameters={"alpha": 0.5})
        with pytest.raises(RecordExistsError, match="already exists"):
            store.records.create_run("ConformanceFlow", run_id=run.run_id)
        assert store.records.get_run("ConformanceFlow", run.run_id) == run

    def test_run_lease_is_renewed_in_place(self, backend: Backend) -> None:
        store = Store(backend)
        run = store.records.create_run("ConformanceFlow")
        assert store.leases.get("ConformanceFlow", run.run_id) is None
        first = store.leases.renew("ConformanceFlow", run.run_id, interval=60.0)
        second = store.leases.renew("ConformanceFlow", run.run_id, interval=60.0)
        assert store.leases.get("ConformanceFlow", run.run_id) == second != first
        assert store.leases.run_state(run, now=second.written_at) == "running"
        assert store.leases.run_state(run, now=second.expires_at + 3600) == "crashed"
        store.records.end_run("ConformanceFlow", run.run_id, "succeeded")
        assert store.leases.run_state(run, now=second.expires_at + 3600) == "succeeded"
