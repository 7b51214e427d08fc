"""A task's parent and child tasks, from the ``parents`` its record names.

A task's record names the tasks it received artifacts from (a foreach branch its split task,
a join every branch it joins). A cloned task keeps its task id and names its parents in the
run it was cloned from; those parents were cloned too, under the same ids, so a pathspec is
read in the task's own run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

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
    present = store.records.list_steps(record.flow, record.run_id)
    for step in next_steps:
        if step not in present:
            continue
        yield from children_among(
            record, store.records.list_tasks(record.flow, record.run_id, step)
        )


def children_among(record: TaskRecord, tasks: Iterable[TaskRecord]) -> Iterator[str]:
    """The pathspecs of those of ``tasks`` that name ``record``'s task as a parent (for a
    reader that holds a step's tasks already, e.g. the web UI's for a run that ended)."""
    me = record.pathspec
    for child in tasks:
        if me in parent_pathspecs(child):
            yield child.pathspec
