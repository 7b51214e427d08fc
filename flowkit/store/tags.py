"""A run's tags: the system tags its start record names, and its user tags as changed since.

The store is write-once, so a change of a run's user tags is a record of its own
(:class:`~flowkit.store.records.TagChangeRecord`, under ``runs/<Flow>/<run_id>/tags/``) named
by a time-sorted id; a run's user tags are its start record's ``tags`` with every change
applied in id order. Two processes that change the same run's tags at once both write, and
neither loses the other's change; changes made in the same millisecond, or on machines whose
clocks disagree, apply in id order, which may not be the order they were made in. ``gc``
deletes the changes with their run (they live in its folder); ``fsck`` checks them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from flowkit.store import layout
from flowkit.store.backend import Backend
from flowkit.store.errors import KeyNotFoundError, NotFoundError, RecordExistsError
from flowkit.store.ids import IdGenerator
from flowkit.store.overlap import overlapped
from flowkit.store.records import RunRecord, TagChangeRecord, dumps, loads


def system_tags(run: RunRecord) -> frozenset[str]:
    """The tags flowkit gave ``run`` when it started; for a run recorded before flowkit wrote
    them, the one it knows all the same: ``user:NAME``."""
    if run.system_tags:
        return frozenset(run.system_tags)
    return frozenset() if run.user is None else frozenset({f"user:{run.user}"})


def fold(run: RunRecord, changes: Iterable[TagChangeRecord]) -> frozenset[str]:
    """``run``'s user tags after ``changes`` (in id order): removals first, then additions;
    a system tag is never a user tag as well."""
    tags = set(run.tags)
    for change in changes:
        tags.difference_update(change.removed)
        tags.update(change.added)
    return frozenset(tags - system_tags(run))


class RunTags:
    """Writes and reads the changes of runs' user tags."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._ids = IdGenerator()

    def change(
        self,
        run: RunRecord,
        *,
        added: Iterable[str] = (),
        removed: Iterable[str] = (),
        user: str | None = None,
    ) -> TagChangeRecord:
        """Record one change of ``run``'s user tags (removals apply before additions), or
        :class:`NotFoundError` if the run is gone (gc deleted it)."""
        if not self._backend.exists(layout.run_key(run.flow, run.run_id)):
            raise NotFoundError(
                f"run {run.flow}/{run.run_id} is no longer in the store at {self._backend.url} "
                "(gc deleted it?); its tags were not changed",
                f"list the runs there with: flowkit runs {run.flow}",
            )
        record = TagChangeRecord(
            flow=run.flow,
            run_id=run.run_id,
            change_id=self._ids.new(),
            added=tuple(added),
            removed=tuple(removed),
            at=time.time(),
            user=user,
        )
        key = layout.tag_change_key(run.flow, run.run_id, record.change_id)
        if not self._backend.put_new(key, dumps(record)):
            raise RecordExistsError(  # ids never repeat: only a clock gone back could do it
                f"tag change {key} already exists in {self._backend.url}",
                "change the tags again",
            )
        return record

    def changes(self, flow: str, run_id: str) -> list[TagChangeRecord]:
        """Every change of the run's user tags, oldest first."""
        names = self._backend.list(layout.tags_prefix(flow, run_id))
        ids = sorted(n[: -len(".json")] for n in names if n.endswith(".json"))
        read = overlapped(self._backend, lambda i: self._read(flow, run_id, i), ids)
        return [r for r in read if r is not None]

    def _read(self, flow: str, run_id: str, change_id: str) -> TagChangeRecord | None:
        key = layout.tag_change_key(flow, run_id, change_id)
        try:
            return loads(TagChangeRecord, self._backend.get(key), f"{self._backend.url}/{key}")
        except KeyNotFoundError:  # gc deleted the run meanwhile
            return None

    def user_tags(self, run: RunRecord) -> frozenset[str]:
        """``run``'s user tags now: its start record's, with every change applied."""
        return fold(run, self.changes(run.flow, run.run_id))
