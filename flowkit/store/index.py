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
from flowkit.store.records import TaskRecord, decode
from flowkit.store.runs import Records


class Index:
    """Cache keys (``run --reuse``) and the explanation of each run's decisions."""

    def __init__(self, backend: Backend, records: Records) -> None:
        self._backend = backend
        self._records = records

    def remember_cache_key(self, record: TaskRecord) -> None:
        """Index a successful task by its cache key; the latest task with a key takes it over
        (so a task that ran again because the indexed one had lost its data replaces it). A
        task ``@catch`` caught is not indexed: its failure may be transient, and reuse would
        keep it (nor may it push out a task that succeeded with the same key)."""
        if record.cache_key and record.successful and not record.caught:
            body = json.dumps({"pathspec": record.pathspec, "attempt": record.attempt})
            self._backend.put(layout.cache_key_path(record.flow, record.cache_key), [body.encode()])

    def lookup_cache_key(self, flow: str, key: str) -> TaskRecord | None:
        """The successful task indexed under ``key``, if any (and if it still reads back).
        A broken entry is no entry: the task runs, and its own entry replaces the broken one."""
        try:
            _, run_id, step, task_id, attempt = self.cache_entry(layout.cache_key_path(flow, key))
        except StoreError:  # missing, or not an entry
            return None
        record = self._records.get_attempt(flow, run_id, step, task_id, attempt)
        return record if record is not None and record.successful else None

    def cache_entry(self, key: str) -> tuple[str, str, str, str, int]:
        """The task attempt the cache entry stored under backend key ``key`` names: flow, run
        id, step, task id, attempt; :class:`StoreError` if it is not an entry."""
        where = f"{self._backend.url}/{key}"
        hint = "it is only an index: remove it, and the next task with its key writes it again"
        data = decode(self._backend.get(key), where, hint)
        try:
            flow, run_id, step, task_id = str(data["pathspec"]).split("/")
            return flow, run_id, step, task_id, int(data.get("attempt", 0))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StoreError(
                f"{where} is not a cache entry ({type(exc).__name__}: {exc})", hint
            ) from None

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
