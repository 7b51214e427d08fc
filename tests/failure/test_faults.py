"""Fault injection: SIGKILL of a task, of the warm worker and of the scheduler at several
moments (mid-blob, mid-record, mid-run), a corrupted blob, a full disk and eight runs at once.
Afterwards fsck finds nothing wrong and a resume completes with the right results."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import flowkit
from flowkit.store import CorruptBlobError, open_store
from flowkit.store.blobs import blob_key, digest_of
from flowkit.store.fsck import fsck
from flowkit.store.serialize import to_frames
from flowkit.testing.faults import ENV, faulty_url
from tests.conftest import ROOT, require
from tests.failure.helpers import FLOW_FILE, assert_sound, attempts, env, flow_cli, flowkit_cli
from tests.flows.failures import PAYLOAD, FragileFlow
from tests.runtime.test_shapes import Quiet

PAYLOAD_BLOB = blob_key(digest_of(to_frames(PAYLOAD, name="payload", step="start").segments))
TOTAL = sum(i * i for i in range(2))


def _resume_is_whole(store_root: Path) -> None:
    assert_sound(store_root)
    resumed = flowkit.resume(FragileFlow, store=str(store_root), progress=Quiet())
    assert resumed.successful and resumed["join"].task.data.total == TOTAL
    assert resumed["join"].task.data.payload == PAYLOAD
    assert_sound(store_root)


@pytest.mark.parametrize(
    ("fault", "failure"),
    [
        (f"kill:{PAYLOAD_BLOB}", ("failed", "lost")),  # a task, mid-blob
        # ".0.json" ends only an attempt-0 final record (a lease is "<run_id>.json")
        ("kill:.0.json", ("failed", "lost")),  # a task, mid final record
        (f"kill-parent:{PAYLOAD_BLOB}", ("failed", "lost")),  # its worker, mid-blob
    ],
    ids=["task-mid-blob", "task-mid-record", "worker-mid-blob"],
)
def test_a_killed_task_or_worker_is_retried(
    fault: str, failure: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, f"{fault}:{tmp_path / 'fired'}")
    store = tmp_path / "s"
    run = flowkit.run(FragileFlow, store=faulty_url(store), progress=Quiet())
    assert (tmp_path / "fired").exists(), "the fault never fired"
    assert run.successful and run["join"].task.data.total == TOTAL
    assert attempts(store, "FragileFlow", "start") == [[failure, ("succeeded", None)]]
    monkeypatch.delenv(ENV)
    _resume_is_whole(store)


def test_the_worker_killed_while_tasks_run(tmp_path: Path) -> None:
    psutil = require("psutil")
    store = tmp_path / "s"
    killed: list[int] = []

    def kill_worker() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            # once 'start' has ended, the warm worker's next tasks are the pausing 'work' ones
            started = store / "runs" / "FragileFlow"
            if started.exists() and [
                p for p in started.rglob("steps/start/*.json") if ".start." not in p.name
            ]:
                # this run's warm worker: the newest (one an earlier test left is older)
                workers = [
                    child
                    for child in psutil.Process().children()
                    if "flowkit.executor.forkserver" in " ".join(child.cmdline())
                ]
                newest = max(workers, key=lambda c: c.create_time(), default=None)
                if newest is not None and newest.children():
                    newest.kill()
                    killed.append(newest.pid)
                    return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_worker)
    killer.start()
    run = flowkit.run(FragileFlow, store=str(store), progress=Quiet(), pause=0.5)
    killer.join()
    assert killed, "the worker was never found"
    assert run.successful and run["join"].task.data.total == TOTAL
    work = attempts(store, "FragileFlow", "work")
    assert any(("failed", "lost") in task for task in work), work
    _resume_is_whole(store)


@pytest.mark.parametrize("key", ["/index/", "end.json"], ids=["mid-index", "mid-end-record"])
def test_the_scheduler_killed_mid_record(key: str, tmp_path: Path) -> None:
    store = tmp_path / "s"
    result = flow_cli(
        "FragileFlow",
        "run",
        "--store",
        faulty_url(store),
        "--quiet",
        **{ENV: f"kill:{key}:{tmp_path / 'fired'}"},
    )
    assert result.returncode == -signal.SIGKILL
    (run_id,) = open_store(str(store)).records.list_runs("FragileFlow")
    assert open_store(str(store)).records.get_run_end("FragileFlow", run_id) is None
    _resume_is_whole(store)


def test_a_corrupt_blob_is_reported_with_its_artifact_and_task(tmp_path: Path) -> None:
    run = flowkit.run(FragileFlow, store=str(tmp_path), progress=Quiet())
    join = run["join"].task
    store = open_store(str(tmp_path))
    record = store.records.get_task("FragileFlow", run.id, "join", join.id)
    path = tmp_path / blob_key(record.artifacts["payload"].digest)  # a blob: PAYLOAD is long
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    (problem,) = fsck(store).problems
    owner = f"artifact 'payload' of task {join.pathspec}"
    assert owner in problem.message and "is corrupt" in problem.message
    result = flowkit_cli("fsck", "--store", tmp_path)
    assert result.returncode == 1 and owner in result.stdout
    assert "1 problem found" in result.stdout
    with pytest.raises(CorruptBlobError, match=f"{owner}: blob .* is corrupt"):
        store.values.artifact_source(record).load("payload")
    reader = flowkit.Task(join.pathspec, store=str(tmp_path))  # the client names it too
    with pytest.raises(CorruptBlobError, match=f"{owner}: blob .* is corrupt"):
        _ = reader.data.payload
    with pytest.raises(CorruptBlobError, match=f"{owner}: blob .* is corrupt"):
        _ = reader["payload"].data


def test_a_full_disk_fails_the_task_clearly_and_corrupts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, f"enospc:{PAYLOAD_BLOB}")
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(FragileFlow, store=faulty_url(tmp_path), progress=Quiet())
    text = info.value.render()
    assert f"raised StoreFullError: the store at {tmp_path} is full: writing {PAYLOAD_BLOB}" in text
    assert "nothing partial was kept" in text
    assert attempts(tmp_path, "FragileFlow", "start") == [[("failed", "error")]]
    assert not (tmp_path / PAYLOAD_BLOB).exists()
    assert not [p for p in tmp_path.rglob(".tmp-*")], "a temporary file was left behind"
    monkeypatch.delenv(ENV)
    assert_sound(tmp_path)


def test_eight_runs_at_once_on_one_store(tmp_path: Path) -> None:
    sizes = range(1, 9)
    procs = [
        subprocess.Popen(
            [sys.executable, FLOW_FILE, "run", "--store", tmp_path, "--quiet", "--n", str(n)],
            cwd=ROOT,
            env=env(FLOWKIT_TEST_FLOW="FragileFlow"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for n in sizes
    ]
    outputs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, outputs
    runs = list(flowkit.Flow("FragileFlow", store=str(tmp_path)).runs())
    assert len(runs) == 8
    for run in runs:
        n = int(run.parameters["n"])
        assert run.successful and run["join"].task.data.total == sum(i * i for i in range(n))
    assert sorted(int(r.parameters["n"]) for r in runs) == list(sizes)
    assert_sound(tmp_path)
