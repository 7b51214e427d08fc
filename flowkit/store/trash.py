"""The trash: where gc moves the blobs it takes, until nothing can still need them.

gc never deletes a blob outright: it moves it to ``trash/<batch>/<digest>`` (one batch per
gc, named by a time-sortable id). A task that found the blob stored a moment before
(dedup) or a resume that checked it before cloning may name it in a record written after
gc looked; a read that misses such a blob finds it here and moves it back
(:func:`restore`), and a later gc restores every trashed blob a record names. Only a batch
older than the grace period, whose blobs nothing names, is deleted: that is when space is
freed.
"""

from __future__ import annotations

from flowkit.fastdata import dataclass
from flowkit.store import layout
from flowkit.store.backend import Backend
from flowkit.store.ids import id_time


@dataclass(frozen=True)
class TrashedBlob:
    """One blob in the trash, as a listing sees it."""

    batch: str
    digest: str
    size: int

    @property
    def key(self) -> str:
        return layout.trash_key(self.batch, self.digest)


def batch_time(batch: str) -> float:
    """When gc batch ``batch`` was made; 0 for a name that is not a batch id (so that
    anything else found in the trash counts as old)."""
    return id_time(batch) or 0.0


def scan_trash(backend: Backend) -> list[TrashedBlob]:
    """Every blob in the trash (one listing per thousand objects on an object store)."""
    found = []
    for info in backend.scan(layout.TRASH):
        parts = info.key.split("/")
        if len(parts) == 3:
            found.append(TrashedBlob(parts[1], parts[2], info.size))
    return found


def restore(backend: Backend, digest: str, blob_key: str) -> bool:
    """Move blob ``digest`` back from the trash to ``blob_key``, if a gc put it there;
    whether it is back. Costs a listing of the batches, so only a miss calls it."""
    for batch in reversed(backend.list(layout.TRASH)):  # newest batch first
        if backend.move(layout.trash_key(batch, digest), blob_key):
            return True
    return False
