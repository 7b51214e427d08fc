"""Indexes over the records: successful tasks by cache key, and why each task of a run ran.

Unlike records, an index entry may be replaced (the latest task with a cache key takes it
over) and may be lost: everything in it can be found again from the records it names.
"""

from __future__ import annotations

import json
from typing import Any

from flowkit.store import layout
from flowkit.store.backend import Backend
from flowkit.store.errors import KeyNotFoundError, StoreError
from flowkit.store.records import TaskRecord
from flowkit.store.reuse_keys import KeyEntry, old_entry, read_step
from flowkit.store.runs import Records


class Index:
    """Cache keys (``run --reuse``) and the explanation of each run's decisions."""

    def __init__(self, backend: Backend, records: Records) -> None:
        self._backend = backend
        self._records = records

    def reuse_keys(self, flow: str) -> ReuseKeys:
        """The successful tasks of ``flow`` by cache key, read a step at a time as asked."""
        return ReuseKeys(self._backend, self._records, flow)

    def cache_entry(self, key: str) -> tuple[str, str, str, str, int]:
        """The task attempt an older flowkit's cache entry (one object per key) stored under
        backend key ``key`` names: flow, run id, step, task id, attempt; :class:`StoreError`
        if it is not an entry."""
        return old_entry(self._backend, key)

    def write_explanation(self, flow: str, run_id: str, decisions: list[dict[str, Any]]) -> None:
        """Record, once, why each task of a run ran, was cloned or was reused."""
        body = json.dumps({"decisions": decisions}, separators=(",", ":"))
        self._backend.put_new(layout.explain_key(flow, run_id), body.encode())

    def read_explanation(self, flow: str, run_id: str) -> list[dict[str, Any]]:
        """What :meth:`write_explanation` recorded for a run (empty if nothing was)."""
        try:
            data = json.loads(self._backend.get(layout.explain_key(flow, run_id)))
        except KeyNotFoundError:
            return []
        return list(data["decisions"])


class ReuseKeys:
    """The latest successful task with a cache key, by step (see
    :mod:`flowkit.store.reuse_keys`): each step's index is read once, on its first lookup,
    so planning a run reads one object per step, however many tasks it has. Entries an older
    flowkit wrote (one object per key) are read after it, where the flow has any."""

    def __init__(self, backend: Backend, records: Records, flow: str) -> None:
        self._backend, self._records, self._flow = backend, records, flow
        self._steps: dict[str, dict[str, KeyEntry]] = {}
        self._old: bool | None = None

    def lookup(self, step: str, key: str) -> TaskRecord | None:
        """The successful task of ``step`` with cache key ``key``, if any still reads back
        (a broken or dangling entry is no entry: the task runs, and its run enters it)."""
        if step not in self._steps:
            self._steps[step] = read_step(self._backend, self._flow, step)
        entry = self._steps[step].get(key)
        if entry is not None:
            record = self._records.get_attempt(self._flow, entry[0], step, *entry[1:])
            if record is not None and record.successful:
                return record
        return self._older(key)

    def _older(self, key: str) -> TaskRecord | None:
        if self._old is None:  # one listing tells whether an older flowkit left entries
            names = self._backend.list(f"cache/{self._flow}")
            self._old = any(name != layout.CACHE_STEPS for name in names)
        if not self._old:
            return None
        try:
            entry = old_entry(self._backend, layout.cache_key_path(self._flow, key))
        except StoreError:  # missing, or not an entry
            return None
        _, run_id, step, task_id, attempt = entry
        record = self._records.get_attempt(self._flow, run_id, step, task_id, attempt)
        return record if record is not None and record.successful else None
