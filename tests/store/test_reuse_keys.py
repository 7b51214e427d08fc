"""Each step's cache index (``run --reuse``): merged in as a run ends, read once a step,
kept whole by gc and checked by fsck; an older flowkit's entries (one per key) still read."""

from __future__ import annotations

import json
import time
import zlib

from flowkit.store import Store, layout
from flowkit.store.fsck import fsck
from flowkit.store.gc import collect
from flowkit.store.gc_plan import Policy
from flowkit.store.records import ExceptionInfo, TaskRecord

KEY = "k" * 64


def _run(store: Store, *done: tuple[str, str]) -> tuple[str, list[TaskRecord]]:
    """A run of RkFlow whose 'train' step has a task per (status, cache key) in ``done``."""
    run = store.records.create_run("RkFlow")
    records = []
    for status, key in done:
        start = store.records.start_task("RkFlow", run.run_id, "train", cache_key=key)
        failed = ExceptionInfo("E", "m") if status != "succeeded" else None
        end = start.finished(status, artifacts={"v": store.values.put(key)}, exception=failed)  # type: ignore[arg-type]
        records.append(store.records.finish_task(end))
    store.records.end_run("RkFlow", run.run_id, "succeeded")
    return run.run_id, records


def _index(store: Store) -> dict[str, list[object]]:
    data = json.loads(zlib.decompress(store.backend.get(layout.step_cache_key("RkFlow", "train"))))
    return dict(data["tasks"])


def test_a_run_enters_its_step_s_tasks_in_one_object_as_it_ends(store: Store) -> None:
    run_id, (ok, _caught, _failed) = _run(
        store, ("succeeded", KEY), ("caught", "c" * 64), ("failed", "f" * 64)
    )
    assert _index(store) == {KEY: [run_id, ok.task_id, 0]}  # not what failed, nor @catch's
    assert not any(key.startswith("cache/RkFlow/k") for key in _keys(store))
    assert store.index.reuse_keys("RkFlow").lookup("train", KEY) == ok
    assert store.index.reuse_keys("RkFlow").lookup("train", "f" * 64) is None
    assert store.index.reuse_keys("RkFlow").lookup("other", KEY) is None


def test_the_latest_run_takes_a_key_over_and_others_stay(store: Store) -> None:
    first_id, (first, _) = _run(store, ("succeeded", KEY), ("succeeded", "a" * 64))
    _, (second,) = _run(store, ("succeeded", KEY))
    keys = store.index.reuse_keys("RkFlow")
    assert keys.lookup("train", KEY) == second
    assert keys.lookup("train", "a" * 64).run_id == first_id  # type: ignore[union-attr]
    assert first.run_id == first_id


def test_a_broken_index_is_no_index_and_the_next_run_replaces_it(store: Store) -> None:
    _run(store, ("succeeded", KEY))
    store.backend.put(layout.step_cache_key("RkFlow", "train"), [b'{"tasks": [1]}'])
    assert store.index.reuse_keys("RkFlow").lookup("train", KEY) is None
    problems = fsck(store).problems
    assert [p.key for p in problems] == [layout.step_cache_key("RkFlow", "train")]
    assert "not a step's cache index" in problems[0].message
    run_id, (again,) = _run(store, ("succeeded", KEY))
    assert _index(store) == {KEY: [run_id, again.task_id, 0]}
    assert fsck(store).problems == []


def test_an_entry_naming_a_lost_task_is_no_entry_and_fsck_names_it(store: Store) -> None:
    _, (ok,) = _run(store, ("succeeded", KEY))
    store.backend.delete(
        layout.attempt_key("RkFlow", ok.run_id, "train", ok.task_id, 0, final=True)
    )
    assert store.index.reuse_keys("RkFlow").lookup("train", KEY) is None
    messages = [p.message for p in fsck(store).problems]
    assert any("broken cache entry" in m and ok.task_id in m for m in messages), messages


def test_an_older_flowkit_s_entry_still_reads(store: Store) -> None:
    _, (ok,) = _run(store, ("succeeded", "a" * 64))
    body = json.dumps({"pathspec": ok.pathspec, "attempt": 0}).encode()
    store.backend.put(layout.cache_key_path("RkFlow", KEY), [body])
    assert store.index.reuse_keys("RkFlow").lookup("train", KEY) == ok
    assert fsck(store).problems == []


def test_gc_takes_the_tasks_of_runs_it_deletes_out_of_the_index(store: Store) -> None:
    old_id, _ = _run(store, ("succeeded", "a" * 64))
    new_id, (kept,) = _run(store, ("succeeded", KEY))
    report = collect(store, Policy(keep_last=1, grace=0), now=time.time() + 3600)
    assert report.dropped == {"RkFlow": [old_id]}
    assert _index(store) == {KEY: [new_id, kept.task_id, 0]}
    assert old_id not in json.dumps(_index(store))
    assert fsck(store).problems == []


def _keys(store: Store) -> list[str]:
    return [info.key for info in store.backend.scan("cache")]
