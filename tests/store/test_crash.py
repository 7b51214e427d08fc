"""A writer killed with SIGKILL in the middle of a write leaves nothing half-visible."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from flowkit.client import Flow
from flowkit.store import KeyNotFoundError, LocalBackend, NotFoundError, Store
from flowkit.testing.kill import kill_when_ready

ROOT = Path(__file__).resolve().parents[2]

# Patches the local backend's low-level write so that it writes half of what it was given,
# says so, and hangs: the SIGKILL then lands mid-write, every time.
_HANG_MID_WRITE = """
import os, sys, time
sys.path.insert(0, {root!r})
import flowkit.store.local as local

real_write_all = local._write_all

def half_then_hang(fd, parts):
    data = b"".join(bytes(p) for p in parts)
    real_write_all(fd, [data[: len(data) // 2]])
    open({ready!r}, "w").close()
    time.sleep(60)

from flowkit.store import open_store
store = open_store({root_dir!r})
"""


def _kill_mid_write(tmp_path: Path, action: str) -> Path:
    ready = tmp_path / "ready"
    script = _HANG_MID_WRITE.format(root=str(ROOT), ready=str(ready), root_dir=str(tmp_path / "s"))
    kill_when_ready(script + textwrap.dedent(action), ready, timeout=20)
    return tmp_path / "s"


def test_kill_mid_blob_leaves_no_blob(tmp_path: Path) -> None:
    root = _kill_mid_write(
        tmp_path,
        """
        store.values.put(b"x" * 1_000_000)
        local._write_all = half_then_hang
        print(store.values.put(bytes(range(256)) * 10_000).digest)
        """,
    )
    store = Store(LocalBackend(root))
    from flowkit.store.blobs import digest_of
    from flowkit.store.serialize import to_frames

    lost = digest_of(to_frames(bytes(range(256)) * 10_000).segments)
    kept = digest_of(to_frames(b"x" * 1_000_000).segments)
    assert not store.values.has(lost)
    assert store.values.has(kept) and store.values.load(kept) == b"x" * 1_000_000
    assert store.backend.list(f"blobs/{lost[:2]}") == ([kept] if kept[:2] == lost[:2] else [])
    # the half-written bytes exist only as a hidden temporary file
    temps = [p for p in (root / "blobs").rglob("*") if p.name.startswith(".tmp-")]
    assert len(temps) == 1 and 0 < temps[0].stat().st_size < 2_560_000
    # and writing the value again later works
    assert store.values.put(bytes(range(256)) * 10_000).digest == lost


def test_kill_mid_run_record_leaves_no_run(tmp_path: Path) -> None:
    root = _kill_mid_write(
        tmp_path,
        """
        store.records.create_run("KillFlow", run_id="first")
        local._write_all = half_then_hang
        store.records.create_run("KillFlow", run_id="second", parameters={"p": "x" * 1000})
        """,
    )
    store = Store(LocalBackend(root))
    assert [r.run_id for r in store.records.iter_runs("KillFlow")] == ["first"]
    assert [r.id for r in Flow("KillFlow", store=store).runs()] == ["first"]
    with pytest.raises(NotFoundError, match="run KillFlow/second is not in the store"):
        store.records.get_run("KillFlow", "second")
    with pytest.raises(KeyNotFoundError):
        store.backend.get("runs/KillFlow/second/run.json")


def test_kill_mid_task_record_leaves_the_attempt_unfinished(tmp_path: Path) -> None:
    root = _kill_mid_write(
        tmp_path,
        """
        store.records.create_run("KillFlow", run_id="r1", steps=["start"])
        start = store.records.start_task("KillFlow", "r1", "start", "t1")
        ref = store.values.put(123)
        local._write_all = half_then_hang
        store.records.finish_task(start.finished("succeeded", artifacts={"x": ref}))
        """,
    )
    store = Store(LocalBackend(root))
    [task] = store.records.list_tasks("KillFlow", "r1", "start")
    assert task.status == "running" and not task.successful and not task.final
    run = Flow("KillFlow", store=store).latest_run
    assert run is not None and not run.finished
    assert [t.successful for t in run["start"]] == [False]
    # the attempt can still be finished, as a new record (nothing half-written is in the way)
    store.records.finish_task(task.finished("killed"))
    assert store.records.get_task("KillFlow", "r1", "start", "t1").status == "killed"
