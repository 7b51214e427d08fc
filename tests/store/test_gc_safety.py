"""gc never takes what a run needs: young blobs stay, trashed blobs come back when a read, a
write or a later gc needs them, and runs going or created during gc lose nothing."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

import pytest

from flowkit.client import Run
from flowkit.store import KeyNotFoundError, LocalBackend, MemoryBackend, Store, StoreError, layout
from flowkit.store.backend import Reader
from flowkit.store.blobs import blob_key
from flowkit.store.deadletters import list_letters, write_letter
from flowkit.store.fsck import fsck
from flowkit.store.gc import collect
from flowkit.store.gc_plan import Policy
from flowkit.store.ids import IdGenerator
from flowkit.testing.fake_run import FakeTask, write_fake_run
from tests.store.gc_helpers import age_trash, build, gated_run, run_ids

HOUR = 3600.0


@pytest.fixture(autouse=True)
def _no_skew(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWKIT_CLOCK_SKEW_SECONDS", "0")


def _blob(store: Store, digest: str) -> Path:
    backend = store.backend
    assert isinstance(backend, LocalBackend)
    return backend.path_of(blob_key(digest))


def _trashed(store: Store, value: object) -> str:
    """Store ``value``, named by nothing, and have a gc two hours later move it to the
    trash (where it waits: the grace period is an hour)."""
    digest = store.values.put(value).digest
    report = collect(store, Policy(keep_last=1, grace=HOUR), now=time.time() + 2 * HOUR)
    assert report.trashed == 1 and report.waiting == 1 and not _blob(store, digest).exists()
    return digest


def test_an_unnamed_blob_younger_than_grace_survives(store: Store) -> None:
    digest = store.values.put("written a moment ago").digest
    report = collect(store, Policy(keep_last=1, grace=HOUR))
    assert report.trashed == 0 and report.young == 1
    assert "1 unnamed blob(s) written in the last 1h" in report.summary()
    assert store.values.load(digest) == "written a moment ago"
    # the same blob, an hour and more later, goes
    report = collect(store, Policy(keep_last=1, grace=HOUR), now=time.time() + 2 * HOUR)
    assert report.trashed == 1 and not _blob(store, digest).exists()


@pytest.mark.parametrize("how", ["load", "exists", "damage"])
def test_a_read_puts_a_trashed_blob_back(store: Store, how: str) -> None:
    digest = _trashed(store, {"big": list(range(1000))})
    fresh = Store(store.backend)  # another reader: it never saw the blob
    if how == "load":
        assert fresh.values.load(digest) == {"big": list(range(1000))}
    elif how == "exists":
        assert fresh.values.has(digest)
    else:
        assert fresh.values.blobs.damage(digest) is None
    assert _blob(store, digest).exists()
    assert [p for p in Path(store.url, "trash").rglob("*") if p.is_file()] == []


def _record_naming(store: Store, digest: str, writer: Store) -> None:
    """A task of a new run whose final record names ``digest``, written by ``writer``."""
    run = writer.records.create_run("SafeFlow")
    start = writer.records.start_task("SafeFlow", run.run_id, "start")
    ref = writer.values.put("the value")
    assert ref.digest == digest
    writer.records.finish_task(start.finished("succeeded", artifacts={"x": ref}))


def test_a_dedup_write_after_gc_names_the_blob_safely(store: Store) -> None:
    digest = _trashed(store, "the value")
    _record_naming(store, digest, Store(store.backend))  # finds nothing, writes it anew
    assert _blob(store, digest).exists()
    report = collect(store, Policy(keep_last=1, grace=0))
    assert report.restored == 1 and report.trashed == 0  # the trashed copy is not needed
    assert Store(store.backend).values.load(digest) == "the value"
    assert fsck(store).problems == []


def test_a_record_written_after_the_mark_gets_its_blob_back_from_the_next_gc(
    store: Store,
) -> None:
    # the race the trash is for: a task stored its value (or found it stored), gc moved it
    # to the trash as nothing named it yet, then the task's final record named it
    writer = Store(store.backend)
    run = writer.records.create_run("SafeFlow")
    start = writer.records.start_task("SafeFlow", run.run_id, "start")
    ref = writer.values.put("raced")
    collect(store, Policy(keep_last=1, grace=HOUR), now=time.time() + 2 * HOUR)
    assert not _blob(store, ref.digest).exists()
    writer.records.finish_task(start.finished("succeeded", artifacts={"x": ref}))
    report = fsck(store)
    assert report.problems == [] and report.in_trash == 1
    assert "1 named blob(s) wait in gc's trash" in report.summary()
    gc = collect(store, Policy(keep_last=1, grace=0))
    assert gc.restored == 1 and gc.freed == 0
    assert _blob(store, ref.digest).exists()  # back without any read
    assert Store(store.backend).values.load(ref.digest) == "raced"


def test_runs_created_during_gc_are_kept(store: Store) -> None:
    old = write_fake_run(store, "SafeFlow", {"start": [FakeTask({"x": 1})]})
    write_fake_run(store, "SafeFlow", {"start": [FakeTask({"x": 2})]}, tags=["keep"])
    [failed] = store.records.list_tasks("SafeFlow", old.run_id, "start")
    letter = write_letter(store, failed, "{}", ())
    made: list[str] = []

    def meanwhile(phase: str, done: int, total: int) -> None:
        if phase.startswith("taking in runs started since") and not made:
            # a resume of the run gc is about to delete, and a new run: both started now
            resumed = store.records.create_run("SafeFlow", origin_run_id=old.run_id)
            [task] = store.records.list_tasks("SafeFlow", old.run_id, "start")
            store.records.clone_task(task, resumed.run_id, {})
            fresh = write_fake_run(store, "SafeFlow", {"start": [FakeTask({"x": 3})]})
            made.extend([resumed.run_id, fresh.run_id])

    report = collect(store, Policy(keep_tags=("keep",), grace=0), progress=meanwhile)
    assert report.spared == [f"SafeFlow/{old.run_id}"] and report.dropped == {}
    assert "resume from them" in report.summary()
    assert set(made) < set(run_ids_of(store))
    resumed = Run(f"SafeFlow/{made[0]}", store=store)
    assert resumed["start"].task.data.x == 1  # a clone: read through its origin, kept
    assert Run(f"SafeFlow/{made[1]}", store=store)["start"].task.data.x == 3
    assert [x.id for x in list_letters(store)] == [letter]  # the spared run's, kept with it
    assert fsck(store).problems == []


def run_ids_of(store: Store) -> list[str]:
    return [r.run_id for r in store.records.iter_runs("SafeFlow")]


def test_a_run_going_during_gc_succeeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "store"
    runs = build(root)
    gate = tmp_path / "gate"
    with gated_run(root, gate, "tests.flows.gated:GatedFlow", 7) as going:
        store = Store(LocalBackend(root, durable=False))
        # keep nothing by rule, free everything at once: only the running run protects itself
        report = collect(store, Policy(keep_tags=("nothing",), grace=0))
        assert report.dropped == {"GatedFlow": sorted(runs.all)}
    assert going.process.returncode == 0
    run = Run(f"GatedFlow/{going.run_id}", store=Store(LocalBackend(root)))
    assert run.successful
    assert run["start"].task.data.data == list(range(700))
    assert run["middle"].task.data.fresh == "fresh 7"
    assert run_ids(store) == [run.id]
    assert fsck(store).problems == []


def test_nothing_written_since_a_running_run_started_is_taken(store: Store) -> None:
    big = "x" * 200  # too long to be held inline by its record: a blob, for gc to spare
    running = write_fake_run(store, "SafeFlow", {"start": [FakeTask({"x": big})]}, finish=None)
    store.leases.renew("SafeFlow", running.run_id, interval=60)
    spec = store.put_spec('{"a queued task": "named by nothing yet"}')
    report = collect(store, Policy(keep_tags=("none",), grace=0))
    assert report.dropped == {} and report.trashed == 0 and report.young == 1
    assert store.get_spec(spec) == '{"a queued task": "named by nothing yet"}'
    # once its scheduler is gone for good, the run is crashed, not running: it goes
    report = collect(store, Policy(keep_tags=("none",), grace=0), now=time.time() + 2 * HOUR)
    assert report.dropped == {"SafeFlow": [running.run_id]} and report.trashed == 2


def test_temporaries_older_than_grace_are_removed_and_younger_ones_kept(store: Store) -> None:
    folder = Path(store.url, "blobs", "ab")
    folder.mkdir(parents=True)
    old, young = folder / ".tmp-1-0123456789ab", folder / ".tmp-2-0123456789ab"
    old.write_bytes(b"x" * 100)
    young.write_bytes(b"y" * 10)
    two_hours_ago = time.time() - 2 * HOUR
    os.utime(old, (two_hours_ago, two_hours_ago))
    report = collect(store, Policy(keep_last=1, grace=HOUR))
    assert (report.temporaries, report.temporaries_bytes) == (1, 100)
    assert "temporaries of killed writers: 1 (100 B) removed" in report.summary()
    assert not old.exists() and young.exists()


def test_a_temporary_of_a_live_writer_stays_even_with_grace_0(store: Store) -> None:
    folder = Path(store.url, "blobs", "ab")
    folder.mkdir(parents=True)
    paused = folder / ".tmp-1-0123456789ab"  # an upload that paused ten minutes ago
    paused.write_bytes(b"x" * 100)
    ten_minutes_ago = time.time() - 600
    os.utime(paused, (ten_minutes_ago, ten_minutes_ago))
    report = collect(store, Policy(keep_last=1, grace=0))
    assert report.temporaries == 0 and paused.exists()


def test_the_trash_waits_for_the_clock_skew_too(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = _trashed(store, "trashed by a gc whose clock was ahead")
    # its batch is grace and a minute old by this clock; clocks may differ by ten minutes
    age_trash(Path(store.url), HOUR + 60)
    monkeypatch.setenv("FLOWKIT_CLOCK_SKEW_SECONDS", "600")
    report = collect(store, Policy(keep_last=1, grace=HOUR))
    assert report.freed == 0 and report.waiting == 1
    monkeypatch.setenv("FLOWKIT_CLOCK_SKEW_SECONDS", "0")
    report = collect(store, Policy(keep_last=1, grace=HOUR))
    assert report.freed == 1 and report.waiting == 0
    assert [p for p in Path(store.url, "trash").rglob(digest)] == []


def test_a_run_record_that_cannot_be_read_stops_gc_before_it_takes_anything(
    store: Store,
) -> None:
    write_fake_run(store, "SafeFlow", {"start": [FakeTask({"x": 1})]})
    damaged = write_fake_run(store, "SafeFlow", {"start": [FakeTask({"x": 2})]})
    backend = store.backend
    assert isinstance(backend, LocalBackend)
    backend.path_of(f"runs/SafeFlow/{damaged.run_id}/run.json").write_text('{"flow": ')
    before = sorted(p for p in Path(store.url).rglob("*") if p.is_file())
    with pytest.raises(StoreError, match="gc cannot read a run's start record") as info:
        collect(store, Policy(keep_tags=("none",), grace=0), now=time.time() + 2 * HOUR)
    assert "flowkit fsck" in info.value.hint
    assert sorted(p for p in Path(store.url).rglob("*") if p.is_file()) == before


class _MovedWhileRead(MemoryBackend):
    """The first read of a blob stops half-way: gc moved it to its trash meanwhile (a large
    object read in parts from a remote store)."""

    def __init__(self) -> None:
        super().__init__("moved-while-read")
        self.moved = False

    def open(self, key: str) -> Reader:
        if self.moved or not key.startswith("blobs/"):
            return super().open(key)
        self.moved = True
        return _HalfThenGone(self, key)


class _HalfThenGone(io.BytesIO):
    def __init__(self, backend: MemoryBackend, key: str) -> None:
        super().__init__(backend.get(key))
        self.backend, self.key = backend, key
        self.half = len(backend.get(key)) // 2

    def _left(self) -> int:
        if self.tell() >= self.half:  # gc moves it now; the rest is not there any more
            digest = self.key.rsplit("/", 1)[-1]
            self.backend.move(self.key, layout.trash_key(IdGenerator().new(), digest))
            raise KeyNotFoundError(self.key)
        return self.half - self.tell()

    def read(self, size: int | None = -1, /) -> bytes:
        left = self._left()
        return super().read(left if size is None or size < 0 else min(size, left))

    def readinto(self, buffer: Any, /) -> int:
        view = memoryview(buffer).cast("B")
        return super().readinto(view[: self._left()])


def test_a_blob_moved_to_the_trash_while_read_is_put_back_and_read_again() -> None:
    backend = _MovedWhileRead()
    value = bytes(range(256)) * 64
    ref = Store(backend).values.put(value)
    assert Store(backend).values.load(ref.digest) == value
    assert backend.moved and backend.exists(blob_key(ref.digest))
