"""``flowkit fsck`` finds stray temporary files, damaged log chunks, broken cache entries and
damaged blobs; ``--repair`` removes them, says so, and leaves every good blob alone (stale
cache entries are not damage: it prunes them)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import flowkit
from flowkit.cli.main import cli
from flowkit.store import LocalBackend, MemoryBackend, Store, layout, open_store
from flowkit.store.blobs import blob_key, digest_of
from flowkit.store.fsck import TEMPORARY_GRACE, fsck, repair
from flowkit.store.records import TaskRecord
from flowkit.store.serialize import to_frames
from tests.flows.fanout import FanoutFlow
from tests.runtime.test_shapes import Quiet


def _fsck(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["fsck", "--store", str(root), *args])


def _blobs(root: Path) -> dict[str, bytes]:
    files = (p for p in (root / "blobs").glob("*/*") if not p.name.startswith("."))
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


#: With n=3, scaled's result is 30 * SCALE: too long a pickle stream to be held inline by its
#: record (INLINE_MAX), so a blob, for the fixture to damage.
SCALE = 7 * 10**300
RESULT = 210 * 10**300


@pytest.fixture
def damaged(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A store after a good run, then: an old and a young temporary file, a damaged log
    chunk, a broken cache index, an older flowkit's cache entry naming a task that is not
    stored (stale, not damage) and a bit-flipped blob. The keys of what is wrong."""
    root = tmp_path / "store"
    run = flowkit.run(FanoutFlow, store=str(root), progress=Quiet(), n=3, scale=SCALE)
    store = open_store(str(root))
    record = store.records.get_task("FanoutFlow", run.id, "join", run["join"].task.id)
    with store.logs.writer(record, "stdout", flush_interval=1000) as writer:
        writer.write("a good line\n")
        writer.flush()
        writer.write("a line that will be damaged\n")
    chunks = sorted((root / "logs").rglob("stdout.*"))
    assert len(chunks) == 2
    chunks[1].write_bytes(b"\x00\x01 not a log line\n")
    old = root / "blobs" / "ab" / ".tmp-4242-0123456789ab"
    old.parent.mkdir(exist_ok=True)
    old.write_bytes(b"x" * 69_000)
    two_hours_ago = time.time() - 2 * TEMPORARY_GRACE
    os.utime(old, (two_hours_ago, two_hours_ago))
    (root / "runs" / ".tmp-4243-0123456789ab").write_bytes(b"a write in progress")
    entries = sorted((root / "cache").rglob("*.json"))  # each step's cache index
    entries[0].write_bytes(b"{not json")
    older = root / layout.cache_key_path("FanoutFlow", "ab" * 32)  # an older flowkit's entry
    older.parent.mkdir(parents=True)
    older.write_text(json.dumps({"pathspec": f"FanoutFlow/{run.id}/join/nope", "attempt": 0}))
    flipped = root / blob_key(digest_of(to_frames(RESULT).segments))  # scaled's result
    data = bytearray(flipped.read_bytes())
    data[-2] ^= 0x10
    flipped.write_bytes(bytes(data))
    rel = lambda p: str(p.relative_to(root))  # noqa: E731
    return root, {
        "temporary": rel(old),
        "chunk": rel(chunks[1]),
        "bad json": rel(entries[0]),
        "missing task": rel(older),
        "blob": rel(flipped),
    }


def test_fsck_finds_each_kind_of_damage(damaged: tuple[Path, dict[str, str]]) -> None:
    root, keys = damaged
    report = fsck(open_store(str(root)))
    found = {p.key: p.message for p in report.problems}
    stale = keys.pop("missing task")  # names a task that is gone: harmless, not damage
    assert sorted(found) == sorted(keys.values())
    assert [(s.key, s.targets) for s in report.stale] == [
        (stale, (f"runs/FanoutFlow/{_join(root).run_id}/steps/join/nope.0.json",))
    ]
    assert found[keys["temporary"]].startswith(
        "a temporary file of 69000 bytes that a killed writer left (last written 2.0 h ago)"
    )
    assert found[keys["chunk"]].startswith("a damaged log chunk: log chunk ")
    assert "is not in flowkit's log format" in found[keys["chunk"]]
    assert found[keys["bad json"]].startswith("a broken cache entry (not a cache entry: ")
    assert "artifact 'result' of task FanoutFlow/" in found[keys["blob"]]
    assert report.young_temporaries == 1
    result = _fsck(root)
    assert result.exit_code == 1, result.output
    assert "4 problems found" in result.output
    assert "(1 stale cache entry naming a task that is gone: harmless" in result.output
    assert "1 temporary file(s) written to in the last 1 h left alone" in result.output
    assert "flowkit fsck --repair removes what can go safely" in result.output
    assert (root / keys["temporary"]).exists()  # fsck alone changes nothing


def test_repair_removes_them_says_so_and_keeps_every_good_blob(
    damaged: tuple[Path, dict[str, str]],
) -> None:
    root, keys = damaged
    good = {k: v for k, v in _blobs(root).items() if k != keys["blob"]}
    result = _fsck(root, "--repair")
    assert result.exit_code == 0, result.output
    stale = keys.pop("missing task")
    for key in keys.values():
        assert f"removed {key}\n" in result.output
        assert not (root / key).exists()
    assert not (root / stale).exists() and stale not in result.output  # pruned, not a problem
    assert "4 of 4 problem(s) repaired." in result.output
    assert "(1 stale cache entry pruned)" in result.output
    assert "resume the runs that named the removed blobs" in result.output
    assert _blobs(root) == good
    assert (root / "runs" / ".tmp-4243-0123456789ab").exists()  # young: maybe a live writer
    lines = [line.text for line in open_store(str(root)).logs.read(_join(root), "stdout")]
    assert lines == ["a good line"]

    # what is left is the task that names the removed blob: a resume writes it anew
    after = _fsck(root)
    assert (
        after.exit_code == 1 and "names blob" in after.output and "which is missing" in after.output
    )
    resumed = flowkit.resume(FanoutFlow, store=str(root), progress=Quiet())
    assert resumed.data.result == RESULT
    assert _fsck(root).exit_code == 0


def test_repair_leaves_a_blob_that_verifies_by_then(damaged: tuple[Path, dict[str, str]]) -> None:
    root, keys = damaged
    store = open_store(str(root))
    report = fsck(store)
    store.values.put(RESULT)  # a run wrote the same value meanwhile: the write healed it
    removed = {p.key for p in repair(store, report)}
    assert keys["blob"] not in removed and (root / keys["blob"]).exists()
    assert store.values.load(digest_of(to_frames(RESULT).segments)) == RESULT


def _join(root: Path) -> TaskRecord:
    run = flowkit.Flow("FanoutFlow", store=str(root)).latest_run
    return open_store(str(root)).records.get_task("FanoutFlow", run.id, "join", run["join"].task.id)


def test_a_temporary_file_is_a_stray_once_untouched_for_the_grace_period(tmp_path: Path) -> None:
    store = Store(LocalBackend(tmp_path / "store"))
    digest = store.values.put("whole").digest
    temp = tmp_path / "store" / "blobs" / digest[:2] / ".tmp-1-000000000000"
    temp.write_bytes(b"half")  # as a writer killed mid-write leaves it
    assert fsck(store).problems == []
    later = fsck(store, now=temp.stat().st_mtime + TEMPORARY_GRACE + 1)
    assert [(p.key, p.removable) for p in later.problems] == [
        (f"blobs/{digest[:2]}/.tmp-1-000000000000", "temporary")
    ]


def test_remove_temporary_removes_nothing_else(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "store")
    backend.put("a/b", [b"x"])
    outside = tmp_path / ".tmp-outside"
    outside.write_bytes(b"not the store's")
    backend.remove_temporary("a/b")
    backend.remove_temporary("../.tmp-outside")
    assert backend.get("a/b") == b"x" and outside.exists()


def test_fsck_names_a_missing_blob_of_foreach_items(tmp_path: Path) -> None:
    from tests.flows.foreach_kinds import WORDS, ForeachKindsFlow

    run = flowkit.run(ForeachKindsFlow, store=str(tmp_path), progress=Quiet(), kind="range")
    ((digest, count),) = run["start"].task.record.foreach_items  # one chunk of the items
    assert count == len(WORDS)
    (tmp_path / blob_key(digest)).unlink()
    start = f"runs/ForeachKindsFlow/{run.id}/steps/start/"
    problems = fsck(open_store(str(tmp_path))).problems
    found = [p.message for p in problems if p.key.startswith(start)]
    assert found == [f"the foreach items name blob {digest}, which is missing"]


def _damaged_store(kind: str, tmp_path: Path) -> tuple[Store, str]:
    """A store (local or in memory) holding one value, 210, whose blob is bit-flipped."""
    store = Store(LocalBackend(tmp_path / "store") if kind == "local" else MemoryBackend())
    digest = store.values.put(210).digest
    data = bytearray(store.backend.get(blob_key(digest)))
    data[-2] ^= 0x10
    store.backend.put(blob_key(digest), [bytes(data)])
    return store, digest


def _heal_around(store: Store, name: str, *, after: bool) -> list[str]:
    """Make the backend's ``name`` (move or delete) of a blob heal it (a writer stores 210
    again) just before the call, or just after it; the calls it saw."""
    original = getattr(store.backend, name)
    seen: list[str] = []

    def call(key: str, *args: str) -> object:
        seen.append(key)
        if not after and key.startswith("blobs/"):
            Store(store.backend).values.put(210)
        result = original(key, *args)
        if after and key.startswith("blobs/"):
            Store(store.backend).values.put(210)
        return result

    setattr(store.backend, name, call)
    return seen


@pytest.mark.parametrize("kind", ["local", "memory"])
@pytest.mark.parametrize("after", [False, True], ids=["heal-before-removal", "heal-after"])
def test_repair_never_removes_a_blob_a_write_heals_while_it_runs(
    kind: str, after: bool, tmp_path: Path
) -> None:
    """Whether a writer heals the blob between repair's check and its removal, or just after
    it, the store ends up holding a good copy; the damaged one is gone either way."""
    store, digest = _damaged_store(kind, tmp_path)
    report = fsck(store)
    assert [p.key for p in report.problems] == [blob_key(digest)]
    moved = _heal_around(store, "move", after=after)
    deleted = _heal_around(store, "delete", after=after)
    removed = repair(store, report)
    assert store.values.load(digest) == 210
    assert moved == [blob_key(digest)]
    assert blob_key(digest) not in deleted  # only the copy moved aside is ever deleted
    assert store.backend.list("quarantine") == []
    assert [p.key for p in removed] == ([blob_key(digest)] if after else [])
    assert fsck(store).problems == []


@pytest.mark.parametrize("kind", ["local", "memory"])
def test_repair_settles_what_a_stopped_repair_moved_aside(kind: str, tmp_path: Path) -> None:
    store, damaged = _damaged_store(kind, tmp_path)
    good = store.values.put("good").digest
    store.backend.move(blob_key(damaged), f"quarantine/{damaged}.000000000000")
    store.backend.move(blob_key(good), f"quarantine/{good}.000000000001")
    report = fsck(store)
    assert sorted(p.key for p in report.problems) == sorted(
        [f"quarantine/{damaged}.000000000000", f"quarantine/{good}.000000000001"]
    )
    assert all("moved aside by an fsck --repair" in p.message for p in report.problems)
    assert len(repair(store, report)) == 2
    assert store.values.load(good) == "good"  # put back
    assert not store.values.blobs.exists(damaged)  # the damaged copy went
    assert store.backend.list("quarantine") == []
    assert fsck(store).problems == []
