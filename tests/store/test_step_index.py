"""A step's index: compact, compressed entries, and indexes an older flowkit wrote still read."""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict

import pytest

from flowkit.store import Store, StoreError
from flowkit.store.records import ArtifactRef, ExceptionInfo, TaskRecord, compact, nested
from flowkit.store.step_index import index_body, read_index


def _records() -> list[TaskRecord]:
    ok = TaskRecord(
        "IdxFlow", "r1", "work", "t1", 0, "succeeded", 1.0, 2.0, exit_code=0,
        cache_key="k" * 64, artifacts={"x": ArtifactRef("d" * 64, 5, "int")},
        foreach=(3,), path=(("start", "t0", 3, 5, "foreach", "c" * 64, 3),),
    )  # fmt: skip
    failed = TaskRecord(
        "IdxFlow", "r1", "work", "t2", 1, "failed", 1.0, 2.5, exit_code=1,
        exception=ExceptionInfo("ValueError", "no"), failure="error",
    )  # fmt: skip
    return [ok, failed]


def test_entries_leave_out_what_they_share_and_read_back_whole() -> None:
    raw = index_body("IdxFlow", "r1", "work", _records())
    body = json.loads(zlib.decompress(raw))
    assert (body["flow"], body["run_id"], body["step"]) == ("IdxFlow", "r1", "work")
    assert body["tasks"][1] == {
        "task_id": "t2",
        "attempt": 1,
        "status": "failed",
        "started_at": 1.0,
        "finished_at": 2.5,
        "exit_code": 1,
        "exception": {"type": "ValueError", "message": "no"},
        "failure": "error",
        "schema": 1,  # written at its default too: a later schema tells its own apart
    }
    assert read_index(raw, "i.json") == _records()


@pytest.mark.parametrize("count", [0, 1, 3])
def test_an_index_encoded_entry_by_entry_is_the_json_of_them_all(count: int) -> None:
    tasks = (_records() * 2)[:count]
    body = json.loads(zlib.decompress(index_body("IdxFlow", "r1", "work", iter(tasks))))
    shared = frozenset(("flow", "run_id", "step"))
    entries = [json.loads(json.dumps(compact(t, shared), default=nested)) for t in tasks]
    assert body == {"flow": "IdxFlow", "run_id": "r1", "step": "work", "tasks": entries}
    assert [t.task_id for t in read_index(index_body("IdxFlow", "r1", "work", tasks), "i")] == [
        t.task_id for t in tasks
    ]


def test_an_index_of_whole_records_still_reads() -> None:
    old = {"tasks": [asdict(r) for r in _records()]}  # what an older flowkit wrote
    assert read_index(json.dumps(old).encode(), "i.json") == _records()


@pytest.mark.parametrize(
    "raw",
    [
        b"[]",
        b'{"tasks": {}}',
        zlib.compress(b'{"flow": "F", "tasks": ["x"]}'),
        zlib.compress(b"{not json"),
        b"\x78\x01garbage",
    ],
)
def test_a_broken_index_names_its_file(raw: bytes) -> None:
    with pytest.raises(StoreError, match=r"i\.json"):
        read_index(raw, "i.json")


def test_end_run_writes_the_compact_index(store: Store) -> None:
    run = store.records.create_run("IdxFlow")
    start = store.records.start_task("IdxFlow", run.run_id, "work", cache_key="k" * 64)
    done = store.records.finish_task(start.finished("succeeded", exit_code=0))
    store.records.end_run("IdxFlow", run.run_id, "succeeded")
    raw = json.loads(
        zlib.decompress(store.backend.get(f"runs/IdxFlow/{run.run_id}/index/work.json"))
    )
    assert "flow" not in raw["tasks"][0] and raw["run_id"] == run.run_id
    assert store.records.list_tasks("IdxFlow", run.run_id, "work") == [done]
