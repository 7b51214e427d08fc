"""Garbage collection: delete the runs no rule keeps, then free the blobs nothing names.

:func:`collect` plans (:mod:`flowkit.store.gc_plan`: which runs go, which blobs are unnamed
and old enough), then, unless it is a dry run:

1. takes in runs and records written since it looked: a dropped run that one of them names
   as its origin (a resume or a reuse that started meanwhile) is kept after all;
2. deletes the records of the dropped runs, in an order that leaves a store ``fsck``
   passes wherever gc is killed (a second gc finishes the job): the cache entries naming a
   run, then its ``run.json`` (it vanishes from every listing at once); then it looks at
   the runs once more, and writes back the ``run.json`` of a run that a resume created
   since names as its origin (the resume checks after writing its own ``run.json`` that its
   origin's is still there, see :mod:`flowkit.runtime.origin`: one of the two sees the other);
   then the dead letters naming a run, its end record and step indexes, its task records,
   its logs and its lease. Run
   folders without a ``run.json`` (what a killed gc leaves) and logs, leases and dead
   letters of runs that are gone go too, once untouched for the grace period;
3. marks again, with everything written since, and moves each unnamed blob the time rule
   allows to the trash (:mod:`flowkit.store.trash`), never deleting it outright;
4. puts back every trashed blob a record names, and deletes the trash batches older than
   the grace period (all of them with a grace of 0): that is when space is freed;
5. removes temporaries of killed writers older than the grace period.

Every step uses the backend's primitives only (``scan``, ``get``, ``delete``, ``move``), so
it works the same on every store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from flowkit.store import layout, reuse_keys
from flowkit.store.backend import Backend, StagesWrites
from flowkit.store.blobs import blob_key
from flowkit.store.deployments import collect_scheduler_records
from flowkit.store.errors import StoreError
from flowkit.store.gc_names import RunId, group_runs
from flowkit.store.gc_plan import (
    Plan,
    Policy,
    close_origins,
    make_plan,
    mark,
    read_letters,
    read_runs,
)
from flowkit.store.gc_report import GcReport
from flowkit.store.lease import clock_skew
from flowkit.store.overlap import overlapped
from flowkit.store.records import dumps
from flowkit.store.store import Store
from flowkit.store.trash import TrashedBlob, batch_time

#: Told each phase and, on long ones, how far it got: ``(phase, done, total)``.
Progress = Callable[[str, int, int], None]


def _quiet(phase: str, done: int, total: int) -> None:
    pass


def collect(
    store: Store,
    policy: Policy,
    *,
    dry_run: bool = False,
    progress: Progress = _quiet,
    now: float | None = None,
) -> GcReport:
    """Collect garbage in ``store`` as ``policy`` says (see the module docstring); a dry run
    reads only and reports what a real one would do."""
    clock = time.monotonic()
    progress("listing runs, blobs and records", 0, 0)
    plan = make_plan(store, policy, now=now)
    report = GcReport(dry_run, store.url, policy, plan.started, young=plan.young)
    if dry_run:
        _report_runs(report, plan)
        moved = [TrashedBlob(plan.batch, d, s) for d, s in plan.candidates.items()]
        _trash_outcome(report, plan, plan.marked, moved, plan.started)
        report.leftovers = _leftover_count(plan)
        report.temporaries = len(plan.temporaries)
        report.temporaries_bytes = sum(t.size for t in plan.temporaries)
        report.scheduler_records = _scheduler_records(store, policy, plan.started, dry_run=True)
        return report
    backend = store.backend
    progress("taking in runs started since", 0, 0)
    spared = _take_in_new_runs(backend, plan)
    report.leftovers, spared_late = _delete_records(store, plan, progress)
    report.spared = [f"{flow}/{run_id}" for flow, run_id in sorted(spared | spared_late)]
    _report_runs(report, plan)
    _take_in_new_runs(backend, plan, after_delete=True)
    plan.letters = read_letters(backend)
    staying = list(plan.folders.values())
    marked = mark(store, plan, staying)
    moved = _sweep(backend, plan, marked, progress)
    progress("emptying the trash", 0, 0)
    _trash_outcome(report, plan, marked, moved, time.time(), backend=backend)
    for temp in plan.temporaries:
        assert isinstance(backend, StagesWrites)
        backend.remove_temporary(temp.name)
    report.temporaries = len(plan.temporaries)
    report.temporaries_bytes = sum(t.size for t in plan.temporaries)
    report.scheduler_records = _scheduler_records(store, policy, plan.started, dry_run=False)
    report.seconds = time.monotonic() - clock
    return report


def _scheduler_records(store: Store, policy: Policy, now: float, *, dry_run: bool) -> int:
    """The scheduler's claims and events that can no longer matter (not when gc is limited
    to one flow's runs)."""
    if policy.flow is not None:
        return 0
    return collect_scheduler_records(store.backend, now=now, dry_run=dry_run)


def _report_runs(report: GcReport, plan: Plan) -> None:
    for flow, run_id in sorted(plan.dropped):
        report.dropped.setdefault(flow, []).append(run_id)
    report.kept = len(plan.runs) - len(plan.dropped)


def _take_in_new_runs(backend: Backend, plan: Plan, *, after_delete: bool = False) -> set[RunId]:
    """List the runs again and take in what was written since: new runs are kept, and a
    dropped run that a kept one now names as its origin is kept after all; the spared runs.
    After the deletions, the listing simply replaces the old one."""
    folders = group_runs(backend.scan(layout.FLOWS))
    new = {r: f for r, f in folders.items() if r not in plan.runs and f.has_record}
    plan.runs.update(read_runs(backend, new))
    if after_delete:
        plan.folders = folders
        return set()
    for run_id, folder in folders.items():
        if run_id in plan.folders:
            plan.folders[run_id].objects.update(folder.objects)
        else:
            plan.folders[run_id] = folder
    assert plan.reader is not None
    kept = close_origins(plan.reader, plan.folders, plan.runs, plan.kept | set(new), plan.leftovers)
    spared = plan.dropped & kept
    plan.kept = kept
    plan.dropped -= spared
    plan.dropped_letters = [x for x in plan.dropped_letters if plan.letters[x].run not in spared]
    return spared


def _delete_all(backend: Backend, keys: Iterable[str]) -> int:
    todo = sorted(set(keys))
    overlapped(backend, backend.delete, todo)
    return len(todo)


def _delete_records(store: Store, plan: Plan, progress: Progress) -> tuple[int, set[RunId]]:
    """Delete the records of dropped runs and leftovers, group by group, in the order the
    module docstring gives; how many leftovers (not dropped runs) went, and the dropped runs
    spared after all as a resume started since names them as its origin."""
    backend = store.backend
    going = plan.dropped | plan.leftovers
    if going:
        progress("deleting cache entries of runs that go", 0, len(going))
        _delete_all(backend, _forget_cache_of(store, going))
    folders = [plan.folders[r] for r in sorted(going) if r in plan.folders]
    progress("deleting the records of runs that go", 0, len(folders))
    # run.json first: the run vanishes from every listing at once
    _delete_all(backend, (f"{f.prefix}/run.json" for f in folders if f.has_record))
    progress("checking for resumes of runs that go", 0, 0)
    spared = _take_in_new_runs(backend, plan)
    # a resume read its origin's run.json before gc deleted it: the origin stays, whole
    overlapped(
        backend, lambda r: backend.put_new(layout.run_key(*r), dumps(plan.runs[r])), sorted(spared)
    )
    going -= spared
    folders = [f for f in folders if f.id not in spared]
    orphan_logs = plan.orphans(plan.logs)
    orphan_leases = plan.orphans(plan.leases)
    leftovers = len(plan.leftovers) + len(plan.dropped_letters) + len(orphan_logs)
    leftovers += len(orphan_leases)
    letters = [plan.letters[x] for x in plan.dropped_letters]
    # the letter first: a folder without it is no letter, whatever else is left there
    _delete_all(
        backend, (o.key for x in letters for o in x.objects if o.key.endswith("/letter.json"))
    )
    _delete_all(backend, (o.key for x in letters for o in x.objects))
    # the step indexes before the task records they name, so a store gc stops in still
    # passes fsck
    _delete_all(
        backend,
        (
            f"{f.prefix}/{rel}"
            for f in folders
            for rel in f.objects
            if rel.startswith(("end.json", "index/"))
        ),
    )
    _delete_all(
        backend, (f"{f.prefix}/{rel}" for f in folders for rel in f.objects if rel != "run.json")
    )
    progress("deleting logs and leases of runs that went", 0, 0)
    for objects, orphans in ((plan.logs, orphan_logs), (plan.leases, orphan_leases)):
        runs = [r for r in sorted(going) if r in objects] + orphans
        _delete_all(backend, (o.key for r in runs for o in objects[r]))
    return leftovers, spared


def _leftover_count(plan: Plan) -> int:
    return (
        len(plan.leftovers)
        + len(plan.dropped_letters)
        + len(plan.orphans(plan.logs))
        + len(plan.orphans(plan.leases))
    )


def _forget_cache_of(store: Store, runs: set[RunId]) -> list[str]:
    """Take the tasks of ``runs`` out of their flows' step cache indexes; the entries an
    older flowkit wrote (one per key) that name one of them, for the caller to delete (only
    the cache of their flows is read: one GET an object on an object store)."""
    entries = []
    for flow in sorted({flow for flow, _ in runs}):
        steps = layout.cache_steps_prefix(flow) + "/"
        keys = [info.key for info in store.backend.scan(f"cache/{flow}")]
        indexes = [key.removeprefix(steps) for key in keys if key.startswith(steps)]
        going = {run_id for f, run_id in runs if f == flow}
        reuse_keys.forget_runs(store.backend, flow, indexes, going)
        entries += [key for key in keys if not key.startswith(steps)]

    def names_going(key: str) -> bool:
        try:
            flow, run_id, *_ = store.index.cache_entry(key)
        except StoreError:
            return False  # a broken entry: fsck --repair removes it
        return (flow, run_id) in runs

    return [
        key
        for key, going in zip(entries, overlapped(store.backend, names_going, entries), strict=True)
        if going
    ]


def _sweep(backend: Backend, plan: Plan, marked: set[str], progress: Progress) -> list[TrashedBlob]:
    """Move each unnamed old blob to this gc's trash batch; the ones moved."""
    todo = [(d, s) for d, s in sorted(plan.candidates.items()) if d not in marked]
    progress("moving unnamed blobs to the trash", 0, len(todo))
    done = 0

    def move(item: tuple[str, int]) -> TrashedBlob | None:
        nonlocal done
        digest, blob_size = item
        trashed = TrashedBlob(plan.batch, digest, blob_size)
        moved = backend.move(blob_key(digest), trashed.key)
        done += 1
        if done % 10_000 == 0:
            progress("moving unnamed blobs to the trash", done, len(todo))
        return trashed if moved else None

    return [t for t in overlapped(backend, move, todo) if t is not None]


def _trash_outcome(
    report: GcReport,
    plan: Plan,
    marked: set[str],
    moved: list[TrashedBlob],
    now: float,
    *,
    backend: Backend | None = None,
) -> None:
    """Put back what a record names, delete old batches' blobs, count what waits (with
    ``backend`` None: only count, for a dry run)."""
    report.trashed = len(moved)
    report.trashed_bytes = sum(t.size for t in moved)
    grace = plan.policy.grace
    skew = clock_skew()  # the batch was named by the clock of the machine that ran that gc
    back: dict[str, TrashedBlob] = {}
    delete: list[TrashedBlob] = []

    def old(item: TrashedBlob) -> bool:
        return grace == 0 or batch_time(item.batch) + grace + skew <= now

    for item in plan.trash:
        if item.digest in marked and item.digest not in back:
            back[item.digest] = item
        elif item.digest in marked or old(item):  # a second copy of a blob put back, or old
            delete.append(item)
        else:
            _wait(report, item, grace + skew)
    for item in moved:  # named by nothing (that is why it moved)
        if old(item):
            delete.append(item)
        else:
            _wait(report, item, grace + skew)
    report.restored = len(back)
    report.freed = len(delete)
    report.freed_bytes = sum(t.size for t in delete)
    if backend is None:
        return
    present = set(plan.blobs)

    def put_back(item: TrashedBlob) -> None:
        if item.digest in present:  # written again since: the trashed copy is not needed
            backend.delete(item.key)
        else:
            backend.move(item.key, blob_key(item.digest))

    overlapped(backend, put_back, list(back.values()))
    _delete_all(backend, (t.key for t in delete))


def _wait(report: GcReport, item: TrashedBlob, grace: float) -> None:
    report.waiting += 1
    report.waiting_bytes += item.size
    until = batch_time(item.batch) + grace
    report.waiting_until = max(report.waiting_until or until, until)
