"""A task's parent and child tasks, from the ``parents`` its record names.

A task's record names the tasks it received artifacts from (a foreach branch its split task,
a join every branch it joins). A cloned task keeps its task id and names its parents in the
run it was cloned from; those parents were cloned too, under the same ids, so a pathspec is
read in the task's own run.
"""

from __future__ import annotations

from collections.abc import Iterator

from flowkit.store.records import TaskRecord
from flowkit.store.store import Store


def _in_run(record: TaskRecord, pathspec: str) -> str:
    """``pathspec`` (of a task in any run of the same flow) as the task of ``record``'s run."""
    _, _, step, task_id = pathspec.split("/")
    return f"{record.flow}/{record.run_id}/{step}/{task_id}"


def parent_pathspecs(record: TaskRecord) -> list[str]:
    return list(dict.fromkeys(_in_run(record, p) for p in record.parents))


def child_pathspecs(store: Store, record: TaskRecord, next_steps: list[str]) -> Iterator[str]:
    """The tasks of ``next_steps`` that name ``record``'s task as a parent."""
    me = record.pathspec
    present = store.records.list_steps(record.flow, record.run_id)
    for step in next_steps:
        if step not in present:
            continue
        for child in store.records.list_tasks(record.flow, record.run_id, step):
            if me in parent_pathspecs(child):
                yield child.pathspec
