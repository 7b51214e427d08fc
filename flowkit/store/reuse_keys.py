"""Successful tasks by cache key (``run --reuse``): one index per step of a flow.

``cache/<Flow>/steps/<step>.json`` maps each cache key of the step to the latest successful
task that had it (run id, task id, attempt). A run merges its step's tasks in as it ends,
with its step indexes, so a task costs no store write of its own, and ``run --reuse`` reads
one object per step, not one per task. Like every index it may lag or lose entries (a run
killed before its end adds none; two runs that end at once may each drop the other's
merge): a task that could have been reused then runs again, and its run enters it anew.
It may also name a task that is gone: a run that ends while gc deletes another can merge
the deleted run's entries back in. Reuse reads an entry's task before it takes it (one that
is gone runs again), fsck reports such entries as stale, and ``fsck --repair`` prunes them.
The JSON is compressed (:func:`~flowkit.store.records.packed`). A task ``@catch`` caught is
not entered (its failure may be transient, and reuse would keep it), nor is a clone: the
task it was copied from is, by the run it ran in, or, where that run never ended (killed,
then resumed), by the run that cloned it, for a key the index has no entry for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable
from typing import Any

from flowkit.store import layout
from flowkit.store.backend import Backend
from flowkit.store.errors import KeyNotFoundError, StoreError
from flowkit.store.records import TaskRecord, decode, packed

#: A task as its step's cache index names it: run id, task id, attempt.
KeyEntry = tuple[str, str, int]

HINT = "it is only an index: remove it, and the next runs of the step enter their tasks again"


def remember(
    backend: Backend, flow: str, run_id: str, step: str, tasks: Iterable[TaskRecord]
) -> None:
    """Merge the reusable ones of ``tasks`` (a step's, of run ``run_id``) into the step's
    cache index, taking over their keys from earlier runs; a clone's origin task goes in
    for a key that has no entry."""
    reusable = [(t.cache_key, t) for t in tasks if t.cache_key and t.successful and not t.caught]
    fresh = {k: (run_id, t.task_id, t.attempt) for k, t in reusable if not t.origin_pathspec}
    clones = {k: t.origin_pathspec for k, t in reusable if t.origin_pathspec}
    if not fresh and not clones:
        return
    entries = read_step(backend, flow, step)
    clones = {k: origin for k, origin in clones.items() if k not in entries and k not in fresh}
    if fresh or clones:
        _write(backend, flow, step, {**_origins(backend, flow, step, clones), **entries, **fresh})


def _origins(backend: Backend, flow: str, step: str, clones: dict[str, str]) -> dict[str, KeyEntry]:
    """Each clone's key (in ``clones``, with the clone's ``origin_pathspec``) and the task
    it was copied from: its run and task id, and its latest attempt with a final record (a
    clone is attempt 0 whichever attempt it copied), found with one listing of each origin
    run's step."""
    by_run: dict[str, dict[str, str]] = {}  # origin run -> task id -> key
    for key, origin in clones.items():
        origin_flow, origin_run, origin_step, task_id = origin.split("/")
        if (origin_flow, origin_step) == (flow, step):  # what clone_task copies
            by_run.setdefault(origin_run, {})[task_id] = key
    found: dict[str, KeyEntry] = {}
    for origin_run, keys in by_run.items():
        finals: dict[str, int] = {}
        for name in backend.list(layout.step_prefix(flow, origin_run, step)):
            parsed = layout.parse_attempt_name(name)
            if parsed is not None and parsed[2] and parsed[0] in keys:
                finals[parsed[0]] = max(finals.get(parsed[0], -1), parsed[1])
        found.update((keys[t], (origin_run, t, n)) for t, n in finals.items())
    return found


def read_step(backend: Backend, flow: str, step: str) -> dict[str, KeyEntry]:
    """The step's cache index; empty if there is none, or it is broken (a broken one is
    replaced by the next merge)."""
    key = layout.step_cache_key(flow, step)
    try:
        return parse(backend.get(key), f"{backend.url}/{key}")
    except (KeyNotFoundError, StoreError):
        return {}


def parse(raw: bytes, where: str) -> dict[str, KeyEntry]:
    """A step's cache index from its stored bytes, or a :class:`StoreError` naming ``where``."""
    data = decode(raw, where, HINT)
    tasks = data.get("tasks") if isinstance(data, dict) else None
    if not isinstance(tasks, dict):
        raise StoreError(f"{where} is not a step's cache index", HINT)
    try:
        return {str(k): (str(run), str(task), int(n)) for k, (run, task, n) in tasks.items()}
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{where} is not a step's cache index: {exc}", HINT) from None


def old_entry(backend: Backend, key: str) -> tuple[str, str, str, str, int]:
    """What an older flowkit's entry (``cache/<Flow>/<key[:2]>/<key>.json``, one per key)
    names: flow, run id, step, task id, attempt; :class:`StoreError` if it is no entry."""
    where = f"{backend.url}/{key}"
    data = decode(backend.get(key), where, HINT)
    try:
        flow, run_id, step, task_id = str(data["pathspec"]).split("/")
        return flow, run_id, step, task_id, int(data.get("attempt", 0))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StoreError(
            f"{where} is not a cache entry ({type(exc).__name__}: {exc})", HINT
        ) from None


def forget_runs(
    backend: Backend, flow: str, names: Iterable[str], run_ids: Collection[str]
) -> None:
    """Take the tasks of ``run_ids`` (runs gc deletes) out of the step cache indexes named
    ``names`` (``<step>.json`` each, as listed under ``cache/<Flow>/steps``)."""
    for name in names:
        drop(backend, flow, name.removesuffix(".json"), lambda entry: entry[0] in run_ids)


def drop(backend: Backend, flow: str, step: str, going: Callable[[KeyEntry], bool]) -> int:
    """Take the entries ``going`` picks out of the step's cache index (an index left empty
    is deleted); how many went."""
    entries = read_step(backend, flow, step)
    kept = {k: e for k, e in entries.items() if not going(e)}
    if len(kept) == len(entries):
        return 0
    if kept:
        _write(backend, flow, step, kept)
    else:
        backend.delete(layout.step_cache_key(flow, step))
    return len(entries) - len(kept)


def record_key(flow: str, step: str, entry: KeyEntry) -> str:
    """The key of the final record that ``entry`` of the step's cache index names."""
    run_id, task_id, attempt = entry
    return layout.attempt_key(flow, run_id, step, task_id, attempt, final=True)


def _write(backend: Backend, flow: str, step: str, entries: dict[str, KeyEntry]) -> None:
    body: dict[str, Any] = {"flow": flow, "step": step, "tasks": entries}
    text = json.dumps(body, separators=(",", ":")).encode()
    backend.put(layout.step_cache_key(flow, step), [packed(text)])
