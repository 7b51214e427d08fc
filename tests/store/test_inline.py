"""Tiny artifacts travel inline in their task's record: no blob, the same digest, verified."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import flowkit
from flowkit.store import Store, StoreError, layout, open_store
from flowkit.store.blobs import digest_of
from flowkit.store.fsck import fsck
from flowkit.store.gc_names import task_names
from flowkit.store.records import ArtifactRef, TaskRecord, dumps, loads
from flowkit.store.serialize import to_frames
from flowkit.store.step_index import index_body
from flowkit.store.values import INLINE_MAX
from tests.flows.linear import LinearFlow
from tests.runtime.test_shapes import Quiet


def test_tiny_artifacts_are_inline_and_named_by_the_digest_a_blob_would_have(
    store: Store,
) -> None:
    refs = store.values.put_artifacts({"count": 5, "flag": True, "name": "abc"}, step="s")
    assert store.backend.list("blobs") == []  # not one file written
    for name, value in (("count", 5), ("flag", True), ("name", "abc")):
        ref = refs[name]
        assert ref.digest == digest_of(to_frames(value).segments)
        assert ref.digest == store.values.put(value).digest  # as a blob, the same name
        assert base64.b64decode(ref.inline or "") == to_frames(value).segments[0]
        assert store.values.load_artifact(ref) == value
    assert refs["count"].type == "int" and refs["name"].size == to_frames("abc").size


def test_larger_values_and_values_with_buffers_are_blobs(store: Store) -> None:
    big = "x" * INLINE_MAX  # its pickle stream is longer than INLINE_MAX
    refs = store.values.put_artifacts({"big": big, "array": np.arange(3)}, step="s")
    assert refs["big"].inline is None and refs["array"].inline is None
    assert store.values.has(refs["big"].digest) and store.values.has(refs["array"].digest)
    assert store.values.load_artifact(refs["big"]) == big
    # a value that is not a record's artifact (a task spec, a parameter) is always a blob
    assert store.values.put(5).inline is None and store.values.has(store.values.put(5).digest)


@pytest.mark.parametrize(
    "inline",
    [base64.b64encode(to_frames(6).segments[0]).decode(), "not base64!"],
    ids=["another value", "not base64"],
)
def test_an_inline_value_that_does_not_match_its_digest_is_refused(
    store: Store, inline: str
) -> None:
    ref = replace(store.values.put_artifacts({"count": 5}, step="s")["count"], inline=inline)
    with pytest.raises(StoreError, match=r"artifact 'count' of F/1/s/1: the value its record"):
        store.values.load_artifact(ref, owner="artifact 'count' of F/1/s/1")


def _record(refs: dict[str, ArtifactRef]) -> TaskRecord:
    return TaskRecord("F", "1", "s", "1", 0, "succeeded", 1.0, 2.0, artifacts=refs)


def test_records_keep_inline_values_and_older_records_read_without_them(store: Store) -> None:
    refs = store.values.put_artifacts({"count": 5, "big": "y" * 500}, step="s")
    back = loads(TaskRecord, dumps(_record(refs)))
    assert back.artifacts == refs and back.artifacts["count"].inline is not None
    old = b'{"flow":"F","run_id":"1","step":"s","task_id":"1","attempt":0,"status":"succeeded",'
    old += (
        b'"started_at":1.0,"artifacts":{"x":{"digest":"' + b"a" * 64 + b'","size":3,"type":"int"}}}'
    )
    assert loads(TaskRecord, old).artifacts["x"] == ArtifactRef("a" * 64, 3, "int", None)


def test_a_record_may_hold_values_inline_but_not_name_a_missing_blob(store: Store) -> None:
    refs = store.values.put_artifacts({"count": 5}, step="s")
    assert not store.values.has(refs["count"].digest) and store.values.stored(refs["count"])
    store.records.finish_task(_record(refs))
    missing = {"gone": ArtifactRef(digest_of([b"gone"]), 4, "bytes")}
    with pytest.raises(StoreError, match="which is not in"):
        store.records.finish_task(replace(_record(missing), task_id="2"))
    assert task_names(_record({**refs, **missing})).digests == {missing["gone"].digest}


def test_a_run_with_inline_values_reads_back_resumes_and_passes_fsck(tmp_path: Path) -> None:
    run = flowkit.run(LinearFlow, store=str(tmp_path), progress=Quiet(), base=1)
    store = open_store(str(tmp_path))
    (end,) = store.records.list_tasks("LinearFlow", run.id, "end")
    assert end.artifacts["total"].inline is not None  # an int: held by the record
    assert fsck(store).problems == []
    fresh = flowkit.Run(run.pathspec, store=str(tmp_path))
    assert fresh.data.total == 6 and fresh["end"].task["total"].data == 6
    again = flowkit.resume(LinearFlow, "b", store=str(tmp_path), progress=Quiet())
    assert again.data.total == 6 and again.data.untouched == "kept"


def _damage_inline(root: Path, run_id: str, step: str, name: str, value: object) -> str:
    """Make the final record of ``step``'s task (and the step's index) hold ``value`` inline
    for its artifact ``name``, under the old digest; the record's key."""
    store = open_store(str(root))
    (task,) = store.records.list_tasks("LinearFlow", run_id, step)
    text = base64.b64encode(to_frames(value).segments[0]).decode()
    artifacts = {**task.artifacts, name: replace(task.artifacts[name], inline=text)}
    changed = replace(task, artifacts=artifacts)
    key = layout.attempt_key("LinearFlow", run_id, step, task.task_id, task.attempt, final=True)
    (root / key).write_bytes(dumps(changed))
    index = layout.step_index_key("LinearFlow", run_id, step)
    (root / index).write_bytes(index_body("LinearFlow", run_id, step, [changed]))
    return key


def test_a_damaged_inline_value_is_an_error_fsck_reports_and_a_resume_runs_again(
    tmp_path: Path,
) -> None:
    run = flowkit.run(LinearFlow, store=str(tmp_path), progress=Quiet(), base=1)
    key = _damage_inline(tmp_path, run.id, "a", "total", 4)
    store = open_store(str(tmp_path))
    (a,) = store.records.list_tasks("LinearFlow", run.id, "a")
    digest = a.artifacts["total"].digest
    assert digest == digest_of(to_frames(3).segments)  # a stored 1 + 2; the record now says 4
    owner = f"artifact 'total' of task LinearFlow/{run.id}/a/"
    with pytest.raises(StoreError, match=f"{owner}.*: the value its record holds inline does"):
        _ = flowkit.Run(run.pathspec, store=str(tmp_path))["a"].task.data.total
    problems = [(p.key, p.message) for p in fsck(store).problems]
    expected = "artifact 'total': the value its record holds inline does not match its digest"
    assert problems == [(key, f"{expected} {digest}")]

    resumed = flowkit.resume(LinearFlow, store=str(tmp_path), progress=Quiet())
    ran = {d["step"]: d["reason"] for d in resumed.explanation if d["action"] == "run"}
    assert ran["a"] == (
        "its artifact 'total' is damaged in its record (the value its record holds inline "
        "does not match its digest)"
    )
    assert resumed.data.total == 6 and resumed["a"].task.data.total == 3
