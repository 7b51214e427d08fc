"""Each step's cache index (``run --reuse``): merged in as a run ends, read once a step,
kept whole by gc and checked by fsck; an older flowkit's entries (one per key) still read."""

from __future__ import annotations

import json
import time
import zlib
from pathlib import Path

import flowkit
from flowkit.store import LocalBackend, Store, layout, open_store
from flowkit.store.fsck import Stale, fsck, repair
from flowkit.store.gc import collect
from flowkit.store.gc_plan import Policy
from flowkit.store.records import ExceptionInfo, TaskRecord
from tests.flows.linear import LinearFlow
from tests.runtime.test_shapes import Quiet

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


def test_an_entry_naming_a_lost_task_is_no_entry_and_fsck_calls_it_stale(store: Store) -> None:
    _, (ok,) = _run(store, ("succeeded", KEY))
    gone = layout.attempt_key("RkFlow", ok.run_id, "train", ok.task_id, 0, final=True)
    store.backend.delete(gone)
    assert store.index.reuse_keys("RkFlow").lookup("train", KEY) is None
    report = fsck(store)
    index = layout.step_cache_key("RkFlow", "train")
    assert report.stale == [Stale(index, (gone,))]
    assert "1 stale cache entry naming a task that is gone: harmless" in report.summary()


class GcAsARunEnds(LocalBackend):
    """A store where gc runs (keeping each flow's last run) just after a run's end has read
    a step's cache index to merge its own tasks in, before it writes the merge."""

    armed = False

    def get(self, key: str) -> bytes:
        data = super().get(key)
        if self.armed and key == layout.step_cache_key("RkFlow", "train"):
            self.armed = False
            plain = Store(LocalBackend(self.root, durable=False))
            collect(plain, Policy(keep_last=1, grace=0), now=time.time() + 3600)
        return data


def test_a_run_ending_while_gc_deletes_another_leaves_stale_entries_repair_prunes(
    tmp_path: Path,
) -> None:
    backend = GcAsARunEnds(tmp_path / "store", durable=False)
    store = Store(backend)
    old_id, (old,) = _run(store, ("succeeded", "a" * 64))
    backend.armed = True
    new_id, (new,) = _run(store, ("succeeded", KEY))
    assert not backend.armed and store.records.list_runs("RkFlow") == [new_id]  # gc ran
    # the merge read the index before gc took the old run out: it put its entry back
    assert _index(store) == {"a" * 64: [old_id, old.task_id, 0], KEY: [new_id, new.task_id, 0]}
    assert store.index.reuse_keys("RkFlow").lookup("train", "a" * 64) is None
    report = fsck(store)
    assert report.problems == []  # harmless: not damage
    gone = layout.attempt_key("RkFlow", old_id, "train", old.task_id, 0, final=True)
    assert report.stale == [Stale(layout.step_cache_key("RkFlow", "train"), (gone,))]
    assert repair(store, report) == [] and report.pruned == 1
    assert "(1 stale cache entry pruned)" in report.summary()
    assert _index(store) == {KEY: [new_id, new.task_id, 0]}  # the rest of the index stays
    assert store.index.reuse_keys("RkFlow").lookup("train", KEY) == new
    assert fsck(store).stale == []


def test_repair_prunes_only_entries_still_gone_and_keeps_a_merge_made_since(
    store: Store,
) -> None:
    first_id, (first,) = _run(store, ("succeeded", "a" * 64))
    kept_id, (kept,) = _run(store, ("succeeded", KEY))
    index = layout.step_cache_key("RkFlow", "train")
    merged = store.backend.get(index)  # what a merge that read the index before gc writes
    collect(store, Policy(keep_last=1, grace=0), now=time.time() + 3600)
    store.backend.put(index, [merged])
    report = fsck(store)
    gone = layout.attempt_key("RkFlow", first_id, "train", first.task_id, 0, final=True)
    assert report.problems == [] and [s.targets for s in report.stale] == [(gone,)]
    again_id, (again,) = _run(store, ("succeeded", "a" * 64))  # takes the key over since
    assert repair(store, report) == [] and report.pruned == 0
    assert _index(store) == {
        "a" * 64: [again_id, again.task_id, 0],
        KEY: [kept_id, kept.task_id, 0],
    }
    # an older flowkit's entry (one object per key) naming a task that is gone: deleted
    older = layout.cache_key_path("RkFlow", "b" * 64)
    body = {"pathspec": f"RkFlow/{first_id}/train/{first.task_id}", "attempt": 0}
    store.backend.put(older, [json.dumps(body).encode()])
    report = fsck(store)
    assert report.problems == [] and report.stale == [Stale(older, (gone,))]
    repair(store, report)
    assert report.pruned == 1 and not store.backend.exists(older)
    assert len(_index(store)) == 2


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


def test_reuse_runs_again_a_task_whose_entry_names_a_deleted_run(tmp_path: Path) -> None:
    root = str(tmp_path / "store")
    first = flowkit.run(LinearFlow, store=root, progress=Quiet(), reuse=True)
    store = open_store(root)
    steps = ["start", "a", "b", "end"]
    merged = {s: store.backend.get(layout.step_cache_key("LinearFlow", s)) for s in steps}
    other = flowkit.run(LinearFlow, store=root, progress=Quiet(), base=2)  # other keys
    collect(store, Policy(keep_last=1, grace=0), now=time.time() + 3600)
    assert store.records.list_runs("LinearFlow") == [other.id]
    for step, raw in merged.items():  # a merge that read the indexes before gc wrote them
        store.backend.put(layout.step_cache_key("LinearFlow", step), [raw])
    report = fsck(store)
    assert report.problems == [] and len(report.stale) == 4
    assert all(first.id in s.targets[0] for s in report.stale)

    again = flowkit.run(LinearFlow, store=root, progress=Quiet(), reuse=True)
    assert [(d["step"], d["action"]) for d in again.explanation] == [(s, "run") for s in steps]
    why = {d["reason"] for d in again.explanation}
    assert why == {"no earlier task had the same code, inputs and parameters"}
    assert again.data.total == 6 and again["end"].task.data.total == 6
    keys = store.index.reuse_keys("LinearFlow")  # its run entered its tasks in their place
    for step in steps:
        (task,) = store.records.list_tasks("LinearFlow", again.id, step)
        assert keys.lookup(step, task.cache_key or "") == task
    assert fsck(store).stale == []


def test_a_resume_enters_the_tasks_it_cloned_from_a_run_that_never_ended(store: Store) -> None:
    earlier_id, (earlier,) = _run(store, ("succeeded", "c" * 64))
    killed = store.records.create_run("RkFlow")  # SIGKILLed: it never ends, enters nothing

    def task(key: str, *, attempts: int = 1) -> TaskRecord:
        start = store.records.start_task("RkFlow", killed.run_id, "train", cache_key=key)
        for n in range(1, attempts):  # the attempts before the last failed
            store.records.finish_task(start.finished("failed", exception=ExceptionInfo("E", "m")))
            start = store.records.start_task(
                "RkFlow", killed.run_id, "train", start.task_id, attempt=n, cache_key=key
            )
        return store.records.finish_task(start.finished("succeeded"))

    retried, other = task(KEY, attempts=2), task("c" * 64)
    resumed = store.records.create_run("RkFlow", origin_run_id=killed.run_id)
    clones = [store.records.clone_task(t, resumed.run_id, {}) for t in (retried, other)]
    assert [c.attempt for c in clones] == [0, 0]  # a clone says nothing of the attempt
    start = store.records.start_task("RkFlow", resumed.run_id, "train", cache_key="f" * 64)
    ran = store.records.finish_task(start.finished("succeeded"))
    store.records.end_run("RkFlow", resumed.run_id, "succeeded")
    assert _index(store) == {
        KEY: [killed.run_id, retried.task_id, 1],  # the attempt that succeeded
        "c" * 64: [earlier_id, earlier.task_id, 0],  # an entry a clone's origin leaves alone
        "f" * 64: [resumed.run_id, ran.task_id, 0],
    }
    assert store.index.reuse_keys("RkFlow").lookup("train", KEY) == retried
    assert fsck(store).stale == []
    again = store.records.create_run("RkFlow", origin_run_id=resumed.run_id)
    store.records.clone_task(clones[0], again.run_id, {})  # a clone of a clone: no change
    store.records.end_run("RkFlow", again.run_id, "succeeded")
    assert _index(store)[KEY] == [killed.run_id, retried.task_id, 1]


def test_run_reuse_after_a_resume_of_a_killed_run_reuses_what_the_resume_cloned(
    tmp_path: Path,
) -> None:
    root = str(tmp_path / "store")
    killed = flowkit.run(LinearFlow, store=root, progress=Quiet())
    store = open_store(root)
    # what a scheduler SIGKILLed once step a's task had ended leaves: no end record, no step
    # index, nothing entered in the cache indexes, no record of steps b and end
    prefix = layout.run_prefix("LinearFlow", killed.id)
    gone = [f"{prefix}/end.json", *(f"{prefix}/index/{s}.json" for s in ("start", "a", "b"))]
    gone += [f"{prefix}/index/end.json", *(i.key for i in store.backend.scan("cache"))]
    gone += [i.key for s in ("b", "end") for i in store.backend.scan(f"{prefix}/steps/{s}")]
    for key in gone:
        store.backend.delete(key)
    resumed = flowkit.resume(LinearFlow, store=root, progress=Quiet())
    assert [(d["step"], d["action"]) for d in resumed.explanation] == [
        ("start", "clone"), ("a", "clone"), ("b", "run"), ("end", "run")
    ]  # fmt: skip
    again = flowkit.run(LinearFlow, store=root, progress=Quiet(), reuse=True)
    assert {d["step"]: d["action"] for d in again.explanation} == dict.fromkeys(
        ("start", "a", "b", "end"), "reuse"
    )
    origins = {d["step"]: d["origin"].split("/")[1] for d in again.explanation}
    assert origins == {"start": killed.id, "a": killed.id, "b": resumed.id, "end": resumed.id}
    assert again.data.total == 6
