"""Run tag changes: write-once records folded in id order, checked by fsck, deleted by gc
with their run, and counted by gc's keep-by-tag rule."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from flowkit.store import NotFoundError, Store
from flowkit.store.fsck import fsck
from flowkit.store.gc import collect
from flowkit.store.gc_plan import Policy
from flowkit.store.records import RunRecord
from flowkit.store.tags import fold, system_tags


def test_changes_fold_in_order_and_no_writer_loses_a_change(store: Store) -> None:
    run = store.records.create_run("TagFlow", tags=["start-tag", "gone"], user="ada")
    store.tags.change(run, added=["a", "b"], removed=["gone"])
    store.tags.change(run, removed=["a"])
    store.tags.change(run, added=["a"])  # the later change wins
    assert store.tags.user_tags(run) == {"start-tag", "a", "b"}

    def add(tag: str) -> None:
        Store(store.backend).tags.change(run, added=[tag])

    threads = [threading.Thread(target=add, args=(f"t{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {f"t{i}" for i in range(8)} <= store.tags.user_tags(run)
    changes = store.tags.changes("TagFlow", run.run_id)
    assert len(changes) == 11 and [c.change_id for c in changes] == sorted(
        c.change_id for c in changes
    )
    assert fsck(store).problems == []


def test_a_system_tag_is_never_a_user_tag_and_old_runs_have_their_user_tag() -> None:
    old = RunRecord("TagFlow", "r1", created_at=0.0, user="ada", tags=("user:ada", "x"))
    assert system_tags(old) == {"user:ada"}  # written before system tags were
    assert fold(old, []) == {"x"}
    assert system_tags(RunRecord("TagFlow", "r2", created_at=0.0)) == frozenset()


def test_fsck_reports_a_tag_change_of_another_run(store: Store) -> None:
    first = store.records.create_run("TagFlow")
    second = store.records.create_run("TagFlow")
    change = store.tags.change(first, added=["x"])
    raw = store.backend.get(f"runs/TagFlow/{first.run_id}/tags/{change.change_id}.json")
    store.backend.put_new(f"runs/TagFlow/{second.run_id}/tags/{change.change_id}.json", raw)
    problems = fsck(store).problems
    assert [p.key for p in problems] == [
        f"runs/TagFlow/{second.run_id}/tags/{change.change_id}.json"
    ]
    assert f"of run TagFlow/{first.run_id}" in problems[0].message


def test_gc_deletes_tag_changes_with_their_run_and_keeps_by_tags_now(store: Store) -> None:
    by_project = store.records.create_run("TagFlow", steps=["start"], system_tags=["project:x"])
    tagged_later = store.records.create_run("TagFlow", steps=["start"])
    untagged_later = store.records.create_run("TagFlow", tags=["keep"], steps=["start"])
    for run in (by_project, tagged_later, untagged_later):
        store.records.end_run("TagFlow", run.run_id, "succeeded")
    store.tags.change(tagged_later, added=["keep"])
    store.tags.change(untagged_later, removed=["keep"])
    later = untagged_later.created_at + 3600  # both runs are old enough to go by then
    collect(store, Policy(keep_tags=("keep", "project:x"), grace=0), now=later)
    kept = [r.run_id for r in store.records.iter_runs("TagFlow")]
    assert kept == [tagged_later.run_id, by_project.run_id]
    root = Path(store.url) / "runs" / "TagFlow" / untagged_later.run_id
    assert not [p for p in root.rglob("*") if p.is_file()]  # its tag change went with it
    assert store.tags.user_tags(tagged_later) == {"keep"} and fsck(store).problems == []


def test_a_tag_change_of_a_run_gc_deleted_is_refused(store: Store) -> None:
    gone = store.records.create_run("TagFlow", steps=["start"])
    kept = store.records.create_run("TagFlow", steps=["start"])
    for run in (gone, kept):
        store.records.end_run("TagFlow", run.run_id, "succeeded")
    collect(store, Policy(keep_last=1, grace=0), now=kept.created_at + 3600)
    with pytest.raises(NotFoundError) as err:
        store.tags.change(gone, added=["late"])
    assert f"run TagFlow/{gone.run_id} is no longer in the store" in err.value.message
    assert err.value.hint == "list the runs there with: flowkit runs TagFlow"
    assert store.backend.list(f"runs/TagFlow/{gone.run_id}") == []  # nothing was written
    store.tags.change(kept, added=["late"])
    assert store.tags.user_tags(kept) == {"late"}
