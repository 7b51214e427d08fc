"""Run and task records: write-once, complete, and the only word on success."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
import zlib
from dataclasses import replace

import pytest

import flowkit
from flowkit.store import ExceptionInfo, RecordExistsError, Store, StoreError, records
from flowkit.store.records import ArtifactRef, RunRecord, TaskRecord, loads
from flowkit.store.step_index import read_index


def test_run_record_fields_and_end(store: Store) -> None:
    run = store.records.create_run(
        "RecFlow",
        parameters={"alpha": 0.5, "name": "x"},
        user="ada",
        tags=["nightly"],
        code_digest="c0de",
        origin_run_id="older",
        steps=["start", "end"],
        source="/work/flows/rec.py",
        parameter_digests={"alpha": "a1" * 32, "name": "e2" * 32},
        system_tags=["project:demo", "user:ada"],
    )
    raw = json.loads(store.backend.get(f"runs/RecFlow/{run.run_id}/run.json"))
    day = dt.datetime.fromtimestamp(run.created_at, dt.UTC).date().isoformat()
    assert raw.pop("system_tags") == [
        "user:ada",
        "runtime:dev",
        f"python_version:{platform.python_version()}",
        f"date:{day}",
        f"flowkit_version:{flowkit.__version__}",
        "project:demo",  # the runtime's own, after flowkit's, each once
    ]
    # fields at their defaults (no step code, no graph) are left out, but not the schema
    assert raw == {
        "flow": "RecFlow",
        "run_id": run.run_id,
        "created_at": run.created_at,
        "parameters": {"alpha": 0.5, "name": "x"},
        "user": "ada",
        "tags": ["nightly"],
        "code_digest": "c0de",
        "origin_run_id": "older",
        "steps": ["start", "end"],
        "source": "/work/flows/rec.py",
        "parameter_digests": {"alpha": "a1" * 32, "name": "e2" * 32},
        "schema": 1,
    }
    assert store.records.get_run("RecFlow", run.run_id) == run
    # an older flowkit wrote every field: its records read back the same
    full = {**raw, "system_tags": list(run.system_tags), "step_code": {}}
    assert loads(RunRecord, json.dumps({**full, "graph": {}}).encode()) == run
    del raw["parameter_digests"]  # a run recorded before the field existed reads back
    old = loads(RunRecord, json.dumps(raw).encode())
    assert old.parameter_digests == {} and old.system_tags == ()
    assert store.records.get_run_end("RecFlow", run.run_id) is None
    end = store.records.end_run("RecFlow", run.run_id, "failed", message="train failed")
    assert store.records.get_run_end("RecFlow", run.run_id) == end
    assert end.status == "failed" and end.finished_at >= run.created_at
    with pytest.raises(RecordExistsError, match="already exists"):
        store.records.end_run("RecFlow", run.run_id, "succeeded")
    assert store.records.get_run_end("RecFlow", run.run_id) == end


def test_unserializable_parameters_are_a_clear_error(store: Store) -> None:
    with pytest.raises(StoreError, match="cannot be written as JSON"):
        store.records.create_run("RecFlow", parameters={"when": object()})


def test_task_attempts_and_final_records(store: Store) -> None:
    run = store.records.create_run("RecFlow")
    first = store.records.start_task(
        "RecFlow", run.run_id, "train", "t1", foreach=(2,), cache_key="k"
    )
    error = ExceptionInfo("ValueError", "bad row", "Traceback (most recent call last): ...")
    store.records.finish_task(first.finished("failed", exception=error, exit_code=1))
    second = store.records.start_task("RecFlow", run.run_id, "train", "t1", attempt=1, foreach=(2,))
    assert store.records.get_task("RecFlow", run.run_id, "train", "t1") == second
    assert not store.records.get_task("RecFlow", run.run_id, "train", "t1").successful
    ref = store.values.put([1, 2, 3])
    final = store.records.finish_task(
        second.finished("succeeded", artifacts={"rows": ref}, exit_code=0)
    )
    attempts = store.records.task_attempts("RecFlow", run.run_id, "train", "t1")
    assert [(a.attempt, a.status) for a in attempts] == [(0, "failed"), (1, "succeeded")]
    assert attempts[0].exception == error and attempts[0].exit_code == 1
    assert attempts[1] == final and final.finished_at is not None
    assert final.artifacts["rows"].type == "list" and final.foreach == (2,)
    with pytest.raises(RecordExistsError):
        store.records.finish_task(second.finished("failed"))
    with pytest.raises(RecordExistsError):
        store.records.start_task("RecFlow", run.run_id, "train", "t1", attempt=1)


def test_attempt_marks_say_which_attempts_started_and_ended(store: Store) -> None:
    run = store.records.create_run("RecFlow")
    assert store.records.attempt_marks("RecFlow", run.run_id, "train") == {}
    done = store.records.start_task("RecFlow", run.run_id, "train", "t1")
    store.records.finish_task(done.finished("failed", exit_code=1))
    store.records.start_task("RecFlow", run.run_id, "train", "t1", attempt=1)  # still going
    later = store.records.start_task("RecFlow", run.run_id, "train", "t2")
    store.records.finish_task(later.finished("succeeded", exit_code=0))
    store.records.start_task("RecFlow", run.run_id, "other", "t3")
    marks = store.records.attempt_marks("RecFlow", run.run_id, "train")
    assert marks == {("t1", 0): True, ("t1", 1): False, ("t2", 0): True}


def test_a_run_has_one_scheduler_claim(store: Store) -> None:
    from flowkit.store.fsck import fsck

    run = store.records.create_run("RecFlow")
    store.records.claim_scheduler("RecFlow", run.run_id)
    with pytest.raises(RecordExistsError) as info:
        store.records.claim_scheduler("RecFlow", run.run_id)
    assert f"run RecFlow/{run.run_id} already has its scheduler (pid {os.getpid()} on " in (
        info.value.message
    )
    assert fsck(store).problems == []  # a claim is an object flowkit knows


def test_records_only_name_blobs_that_exist(store: Store) -> None:
    run = store.records.create_run("RecFlow")
    start = store.records.start_task("RecFlow", run.run_id, "train")
    ghost = store.values.put("real").__class__(digest="ab" * 32, size=1, type="str")
    with pytest.raises(StoreError, match=f"names blob {'ab' * 32}, which is not in"):
        store.records.finish_task(start.finished("succeeded", artifacts={"ghost": ghost}))
    assert not store.records.get_task("RecFlow", run.run_id, "train", start.task_id).final


def test_a_final_record_needs_a_final_status(store: Store) -> None:
    run = store.records.create_run("RecFlow")
    start = store.records.start_task("RecFlow", run.run_id, "train")
    with pytest.raises(ValueError, match="final task status"):
        store.records.finish_task(start)


def test_step_index_is_written_at_run_end_and_used(store: Store) -> None:
    run = store.records.create_run("RecFlow")
    for i in range(3):
        t = store.records.start_task("RecFlow", run.run_id, "train", f"t{i}")
        store.records.finish_task(t.finished("succeeded"))
    scanned = store.records.list_tasks("RecFlow", run.run_id, "train")
    store.records.end_run("RecFlow", run.run_id, "succeeded")
    index = read_index(store.backend.get(f"runs/RecFlow/{run.run_id}/index/train.json"), "i")
    assert [t.task_id for t in index] == ["t0", "t1", "t2"]
    assert store.records.list_tasks("RecFlow", run.run_id, "train") == scanned


def test_every_record_names_its_schema_and_one_without_it_is_schema_1(store: Store) -> None:
    run = store.records.create_run("RecFlow")
    start = store.records.start_task("RecFlow", run.run_id, "train", "t0")
    store.records.finish_task(start.finished("succeeded"))
    store.tags.change(run, added=["x"])
    store.records.end_run("RecFlow", run.run_id, "succeeded")
    prefix = f"runs/RecFlow/{run.run_id}"
    keys = [info.key for info in store.backend.scan(prefix)]
    records = [k for k in keys if "/index/" not in k]
    assert len(records) == 5  # run, end, start and final record, tag change
    assert all(json.loads(store.backend.get(k))["schema"] == 1 for k in records), keys
    index = json.loads(zlib.decompress(store.backend.get(f"{prefix}/index/train.json")))
    assert [entry["schema"] for entry in index["tasks"]] == [1]
    raw = json.loads(store.backend.get(f"{prefix}/steps/train/t0.0.json"))
    assert loads(TaskRecord, json.dumps({**raw, "schema": 2}).encode()).schema == 2
    del raw["schema"]  # as flowkit wrote them for a while: schema 1
    assert loads(TaskRecord, json.dumps(raw).encode()) == store.records.get_task(
        "RecFlow", run.run_id, "train", "t0"
    )


def test_clone_points_back_and_copies_no_data(store: Store) -> None:
    run = store.records.create_run("RecFlow")
    start = store.records.start_task("RecFlow", run.run_id, "start", "t1")
    original = store.records.finish_task(
        start.finished(
            "succeeded", artifacts={"x": store.values.put(1), "alpha": store.values.put(1)}
        )
    )
    resumed = store.records.create_run("RecFlow", origin_run_id=run.run_id)
    alpha = store.values.put(7)  # the resumed run's own parameter value
    clone = store.records.clone_task(original, resumed.run_id, {"alpha": alpha})
    assert clone.origin_pathspec == original.pathspec
    assert clone.artifacts == {"x": original.artifacts["x"], "alpha": alpha}
    # nothing else of the record changes
    assert clone == replace(
        original,
        run_id=resumed.run_id,
        origin_pathspec=original.pathspec,
        artifacts=clone.artifacts,
    )
    assert store.records.get_task("RecFlow", resumed.run_id, "start", "t1") == clone
    again = store.records.clone_task(clone, store.records.create_run("RecFlow").run_id, {})
    assert again.origin_pathspec == original.pathspec  # always the task that really ran


def test_newer_fields_are_ignored_and_damage_is_reported() -> None:
    data = {
        "flow": "F", "run_id": "r", "step": "s", "task_id": "t", "attempt": 0,
        "status": "running", "started_at": 1.0, "from_the_future": True,
    }  # fmt: skip
    assert loads(TaskRecord, json.dumps(data).encode()).task_id == "t"
    with pytest.raises(StoreError, match="is not valid JSON"):
        loads(TaskRecord, b"{trunc", "x.json")
    with pytest.raises(StoreError, match="is not a valid TaskRecord"):
        loads(TaskRecord, b'{"flow": "F"}', "x.json")
    damaged_items = json.dumps({**data, "foreach_items": [["d", "two"]]}).encode()
    with pytest.raises(StoreError, match="is not a valid TaskRecord: invalid literal"):
        loads(TaskRecord, damaged_items, "x.json")


def test_newer_fields_inside_a_record_are_ignored_too() -> None:
    data = {
        "flow": "F", "run_id": "r", "step": "s", "task_id": "t", "attempt": 0,
        "status": "failed", "started_at": 1.0, "finished_at": 2.0,
        "artifacts": {"x": {"digest": "d", "size": 1, "type": "int", "codec": "new"}},
        "exception": {"type": "E", "message": "m", "traceback": "", "notes": ["newer"]},
        "cards": [{"type": "blank", "id": None, "digest": "c", "title": "newer"}],
    }  # fmt: skip
    record = loads(TaskRecord, json.dumps(data).encode())
    assert record.exception == ExceptionInfo("E", "m", "")
    assert (record.artifacts["x"].digest, record.cards[0].digest) == ("d", "c")
    with pytest.raises(
        StoreError, match="not a valid TaskRecord: its ExceptionInfo is not a JSON object"
    ):
        loads(TaskRecord, json.dumps({**data, "exception": "E: m"}).encode(), "x.json")


def _branch(i: int, run_id: str = "r1", items: str = "d" * 64) -> bytes:
    """A fan-out's branch ``i`` as its final record is stored."""
    return json.dumps({
        "flow": "Fan", "run_id": run_id, "step": "work", "task_id": f"t{i}", "attempt": 0,
        "status": "succeeded", "started_at": 1.0, "host": "node1", "next_steps": ["join"],
        "parents": [f"Fan/{run_id}/start/t0"],
        "path": [["start", "t0", i, 2, "foreach", "c" * 64, i]],
        "artifacts": {"items": {"digest": items, "size": 9, "type": "list"},
                      "value": {"digest": f"{i}" * 64, "size": 5, "type": "int"}},
    }).encode()  # fmt: skip


def test_task_records_read_back_share_their_repeated_strings() -> None:
    # what the scheduler holds for each of a fan-out's tasks: one copy of what they share
    one, two = loads(TaskRecord, _branch(0)), loads(TaskRecord, _branch(1))
    assert (one.task_id, two.path[0][2], two.artifacts["value"].digest) == ("t0", 1, "1" * 64)
    shared = [
        lambda r: r.flow, lambda r: r.run_id, lambda r: r.step, lambda r: r.status,
        lambda r: r.host, lambda r: r.next_steps[0], lambda r: r.parents[0],
        lambda r: r.path[0][1], lambda r: r.path[0][5], lambda r: r.artifacts["items"].digest,
        lambda r: r.artifacts["items"].type, lambda r: next(iter(r.artifacts)),
    ]  # fmt: skip
    assert all(get(one) is get(two) for get in shared)
    assert one.artifacts["items"] is two.artifacts["items"] == ArtifactRef("d" * 64, 9, "list")
    with pytest.raises(StoreError, match="is not a valid TaskRecord"):  # a ref without digest
        data = json.loads(_branch(0))
        del data["artifacts"]["items"]["digest"]
        loads(TaskRecord, json.dumps(data).encode(), "x.json")


def _interned(text: str) -> bool:
    # an equal string made afresh: sys.intern gives back ``text`` only if it was interned
    return sys.intern("".join(text)) is text


def test_only_a_flow_s_own_names_are_interned_and_the_rest_is_shared_in_a_bounded_table() -> None:
    # CPython 3.12.0-3.12.4 never frees an interned string: a long-lived reader would keep
    # every run id and digest it ever read
    salt = os.urandom(8).hex()  # strings no earlier test made
    run_id, items = f"run{salt}", f"{salt}" * 4
    record = loads(TaskRecord, _branch(7, run_id, items))
    names = [record.flow, record.step, record.status, record.host, record.next_steps[0]]
    names += [next(iter(record.artifacts)), record.artifacts["items"].type]
    assert all(map(_interned, names))
    ids = [record.run_id, record.parents[0], record.path[0][1], record.path[0][5]]
    ids += [record.artifacts["items"].digest, record.artifacts["value"].digest]
    assert ids[:2] == [run_id, f"Fan/{run_id}/start/t0"] and ids[4] == items
    assert not any(map(_interned, ids))
    for i in range(3 * records.SHARED_MAX // 2):  # a reader that goes on reading runs
        loads(TaskRecord, _branch(i, f"run{salt}{i}", f"{i:064x}"))
    assert 0 < len(records._SHARED) <= records.SHARED_MAX


def test_specs_are_stored_by_content_many_at_once(store: Store) -> None:
    specs = [f'{{"task": {i}}}' for i in range(20)]
    keys = store.put_specs(specs)
    assert keys == [store.put_spec(s) for s in specs]  # the same keys, in order
    assert [store.get_spec(k) for k in keys] == specs
