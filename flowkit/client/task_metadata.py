"""``Task.metadata``: Metaflow's metadata entries, made from what flowkit's records say.

Metaflow registers name/value events for each attempt of a task; flowkit keeps the same facts
in its run and task records, and this module writes them out under Metaflow's names
(``attempt``, ``origin-run-id``, ``origin-task-id``, ``ds-type``, ``ds-root``, ``user``,
``runtime``, ``python_version``, ``code-package``, ``script-name``,
``foreach-execution-path``, ``attempt_ok``) plus flowkit's own (``flowkit_version``,
``host``, ``pid``, ``exit_code``, ``failure``). Nothing is made up: a fact a record does not
hold gives no entry.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from flowkit.store.records import RunRecord, TaskRecord
from flowkit.store.tags import system_tags

if TYPE_CHECKING:
    from flowkit.client.task import Task


class Metadata(NamedTuple):
    """One metadata entry, as Metaflow's client gives it: ``created_at`` in milliseconds
    since the epoch, ``task`` the :class:`~flowkit.client.Task` it belongs to."""

    name: str
    value: str
    created_at: int
    type: str
    task: Any


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def foreach_path(record: TaskRecord) -> str | None:
    """Metaflow's ``foreach-execution-path``: ``split_step:index`` per enclosing foreach,
    outermost first; None outside a foreach."""
    frames = [f"{b[0]}:{b[2]}" for b in record.path if len(b) > 4 and b[4] == "foreach"]
    return ",".join(frames) or None


def _run_facts(run: RunRecord, ds_type: str, ds_root: str) -> Iterator[tuple[str, str]]:
    yield "ds-type", ds_type
    yield "ds-root", ds_root
    if run.user is not None:
        yield "user", run.user
    for tag in sorted(system_tags(run)):
        name, _, value = tag.partition(":")
        if name in ("runtime", "python_version", "flowkit_version"):
            yield name, value
    if run.code_digest is not None:
        yield "code-package", json.dumps({"ds_type": ds_type, "sha": run.code_digest})
    if run.source is not None:
        yield "script-name", os.path.basename(run.source)


def _attempt_facts(
    record: TaskRecord, run: RunRecord, ds_type: str, ds_root: str
) -> Iterator[tuple[str, str, float]]:
    began = record.started_at
    yield "attempt", str(record.attempt), began
    if run.origin_run_id is not None:
        yield "origin-run-id", run.origin_run_id, began
    if record.origin_pathspec is not None:
        yield "origin-task-id", record.origin_pathspec.rsplit("/", 1)[1], began
    for name, value in _run_facts(run, ds_type, ds_root):
        yield name, value, began
    path = foreach_path(record)
    if path is not None:
        yield "foreach-execution-path", path, began
    if record.host is not None:
        yield "host", record.host, began
    if record.pid is not None:
        yield "pid", str(record.pid), began
    if record.final:
        ended = record.finished_at if record.finished_at is not None else began
        if record.exit_code is not None:
            yield "exit_code", str(record.exit_code), ended
        if record.failure is not None:
            yield "failure", record.failure, ended
        yield "attempt_ok", str(record.successful), ended


_TYPES = {"attempt_ok": "internal_attempt_status"}


def task_metadata(
    task: Task, attempts: list[TaskRecord], run: RunRecord, ds_type: str, ds_root: str
) -> list[Metadata]:
    """Every entry of every attempt in ``attempts``, oldest attempt first."""
    return [
        Metadata(name, value, _ms(at), _TYPES.get(name, name), task)
        for record in attempts
        for name, value, at in _attempt_facts(record, run, ds_type, ds_root)
    ]
