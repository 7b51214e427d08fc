"""Every run of a store as the runs list shows it, kept between requests.

A run with an end record never changes but for its user tags, so its summary is made once;
a running run's is made afresh on each request (its status and duration move). User tags
are re-read at most every ``TAG_SECONDS`` per run, and only for the runs a request needs them
for (the page's runs, or every candidate when a tag filter is given); a tag change made
through this server is seen at once. Each request costs one listing per flow, plus the
records of runs new since the last one.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from flowkit.client import Run
from flowkit.fastdata import dataclass, field
from flowkit.store import Store
from flowkit.store.errors import NotFoundError
from flowkit.store.record_reads import run_order
from flowkit.store.records import RunEndRecord, RunRecord
from flowkit.ui.common import run_summary

#: How long a run's user tags, once read, are taken as they are.
TAG_SECONDS = 3.0


@dataclass
class RunEntry:
    """One run: its start record, its summary once final, its user tags and when read."""

    record: RunRecord
    order: tuple[float, str]
    #: How the run ended, once it has an end record.
    ended: str | None = None
    final: dict[str, Any] | None = None
    tags: list[str] = field(default_factory=list)
    tags_at: float = 0.0


class RunList:
    """The runs of one store (thread-safe: requests run in a thread pool)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._runs: dict[tuple[str, str], RunEntry] = {}
        self._lock = threading.Lock()

    def refresh(self) -> list[RunEntry]:
        """Every run there is now, newest first (one listing per flow; the records of runs
        new since the last call, and the end records of those not known to have ended, are
        read overlapped on a remote store)."""
        listed = [
            (flow, run_id)
            for flow in self.store.records.list_flows()
            for run_id in self.store.records.list_runs(flow)
        ]
        new = [key for key in listed if key not in self._runs]
        for key, record in zip(new, self.store.overlapped(self._read, new), strict=True):
            if record is not None:  # else its start record is not complete yet
                with self._lock:
                    self._runs.setdefault(
                        key, RunEntry(record, run_order(key[1], record.created_at))
                    )
        with self._lock:
            for gone in set(self._runs) - set(listed):  # gc deleted it
                del self._runs[gone]
            entries = list(self._runs.values())
        open_ = [e for e in entries if e.ended is None]
        for entry, end in zip(open_, self.store.overlapped(self._end, open_), strict=True):
            if end is not None:
                entry.ended = end.status
        entries.sort(key=lambda e: e.order, reverse=True)
        return entries

    def _read(self, key: tuple[str, str]) -> RunRecord | None:
        try:
            return self.store.records.get_run(*key)
        except NotFoundError:
            return None

    def _end(self, entry: RunEntry) -> RunEndRecord | None:
        return self.store.records.get_run_end(entry.record.flow, entry.record.run_id)

    def summary(self, entry: RunEntry, now: float) -> dict[str, Any]:
        """The run's RunSummary, with its user tags at most ``TAG_SECONDS`` old."""
        if entry.final is not None:
            self.tags(entry, now)
            return {**entry.final, "tags": entry.tags}
        summary = run_summary(self._run(entry), now)
        if summary["finished_at"] is not None:
            entry.final = summary
        entry.tags, entry.tags_at = summary["tags"], now
        return summary

    def status(self, entry: RunEntry, now: float) -> str:
        """The run's status: its end record's once it has one (read once), else running or
        crashed as its lease says (no summary is made: most runs are counted, not shown)."""
        if entry.ended is None:
            return self.store.leases.run_state(entry.record, now=now)
        return entry.ended

    def tags(self, entry: RunEntry, now: float) -> list[str]:
        """The run's user tags, read again when older than ``TAG_SECONDS``."""
        if now - entry.tags_at >= TAG_SECONDS:
            entry.tags = sorted(self.store.tags.user_tags(entry.record))
            entry.tags_at = now
        return entry.tags

    def forget_tags(self, flow: str, run_id: str) -> None:
        """Read the run's tags afresh next time (this server changed them)."""
        entry = self._runs.get((flow, run_id))
        if entry is not None:
            entry.tags_at = 0.0

    def _run(self, entry: RunEntry) -> Run:
        return Run._from_record(self.store, entry.record)


_LISTS: weakref.WeakKeyDictionary[Store, RunList] = weakref.WeakKeyDictionary()
_LISTS_LOCK = threading.Lock()


def run_list(store: Store) -> RunList:
    """The one RunList of ``store`` (made on first use)."""
    with _LISTS_LOCK:
        found = _LISTS.get(store)
        if found is None:
            found = _LISTS[store] = RunList(store)
        return found
