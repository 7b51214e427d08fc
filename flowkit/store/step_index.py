"""A step's index: its tasks' final records in one object, written once when the run ends.

Each entry is its record less the fields the index holds once (flow, run id, step) and less
the fields at their defaults, and the JSON is zlib-compressed: a fan-out's records repeat
the same inherited artifacts, split and parents, so its index shrinks ~7x (850 kB to 130 kB
for 1,000 tasks). An index from before either (plain JSON, every record in full) reads too.
It is encoded and compressed entry by entry: a 10,000-task step's entries as dicts and JSON
text all at once took ~4.4 kB a task (44 MB) at the scheduler's peak, as the run ended.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from typing import Any

from flowkit.store.errors import StoreError
from flowkit.store.records import (
    DAMAGED,
    PACK_LEVEL,
    TaskRecord,
    compact,
    decode,
    from_dict,
    nested,
)

#: What every entry of one step's index shares, written once at its top.
_SHARED = ("flow", "run_id", "step")
_LEFT_OUT = frozenset(_SHARED)


def index_body(flow: str, run_id: str, step: str, tasks: Iterable[TaskRecord]) -> bytes:
    """The index of ``step`` of run ``flow/run_id`` holding ``tasks``: the compressed JSON
    ``{"flow": ..., "run_id": ..., "step": ..., "tasks": [entry, ...]}``."""
    dumps = json.JSONEncoder(separators=(",", ":"), default=nested).encode
    head = dumps({"flow": flow, "run_id": run_id, "step": step})
    out = zlib.compressobj(PACK_LEVEL)  # as records.packed compresses: decode reads it
    chunks = [out.compress(f'{head[:-1]},"tasks":['.encode())]
    for i, task in enumerate(tasks):
        entry = dumps(compact(task, _LEFT_OUT))
        chunks.append(out.compress((f",{entry}" if i else entry).encode()))
    chunks.append(out.compress(b"]}"))
    chunks.append(out.flush())
    return b"".join(chunks)


def read_index(raw: bytes, where: str, hint: str = DAMAGED) -> list[TaskRecord]:
    """The records in a stored step index, or a :class:`StoreError` naming ``where``."""
    return _records(decode(raw, where, hint), where, hint)


def _records(data: Any, where: str, hint: str) -> list[TaskRecord]:
    items = data.get("tasks") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise StoreError(f"{where} is not a flowkit step index", hint)
    shared = {name: data[name] for name in _SHARED if name in data}
    if not shared:  # an index written before entries left out what they share
        return [from_dict(TaskRecord, item, where, hint) for item in items]
    return [
        from_dict(TaskRecord, {**shared, **item} if isinstance(item, dict) else item, where, hint)
        for item in items
    ]
