"""What a gc takes, decided without changing anything: which runs go, which blobs are unnamed.

Retention (a run is kept if any rule keeps it):

- ``keep_last``: the last N runs of each flow, in the order they started (see
  :func:`~flowkit.store.record_reads.run_order`);
- ``keep_newer_than``: runs created less than that many seconds before gc started;
- ``keep_tags``: runs with any of these tags;
- always: running runs (no end record, and a lease that expired less than ``grace`` and
  the clock skew ago, see :mod:`flowkit.store.lease`: a scheduler that lost the network or
  a laptop that slept for a while may still go on; a run crashed longer ago than that is
  not running), runs created since gc started, runs of other flows than ``flow`` when one
  is given, and the origins of every kept run (its ``origin_run_id``, and each run its
  clones were copied from: their logs are read there), and theirs in turn. A start record
  that cannot be read stops gc (the blobs it names are unknown).

The time rule: nothing modified after :attr:`Plan.cutoff` is taken, named or not: ``grace``
seconds before gc started, or the start of the oldest running run if that is earlier, less
the clock skew a lease allows (FLOWKIT_CLOCK_SKEW_SECONDS) between this machine and the
store's.
"""

from __future__ import annotations

import json
import time

from flowkit.fastdata import dataclass, field
from flowkit.settings import Settings
from flowkit.store import layout
from flowkit.store.backend import Backend, ObjectInfo, StagesWrites, Temporary
from flowkit.store.deployments import deployed_code
from flowkit.store.errors import KeyNotFoundError, StoreError
from flowkit.store.fsck import TEMPORARY_GRACE
from flowkit.store.gc_names import (
    DAMAGED_HINT,
    NameReader,
    Names,
    RunFolder,
    RunId,
    group_by_run,
    group_runs,
    letter_digests,
    package_names,
    run_names,
)
from flowkit.store.ids import IdGenerator
from flowkit.store.lease import clock_skew
from flowkit.store.overlap import overlapped
from flowkit.store.record_reads import run_order
from flowkit.store.records import RunRecord, loads
from flowkit.store.store import Store
from flowkit.store.tags import system_tags
from flowkit.store.trash import TrashedBlob, scan_trash

RULES_HINT = (
    "say which runs to keep: --keep-last N (runs per flow), --keep-newer-than 30d, "
    "--keep-tag TAG, or the settings gc_keep_last, gc_keep_newer_than, gc_keep_tags in "
    "[tool.flowkit] (FLOWKIT_GC_KEEP_LAST, ...)"
)


class NoRetentionRuleError(StoreError):
    """gc was asked to run with no rule saying which runs to keep (or keep the last 0)."""


@dataclass(frozen=True)
class Policy:
    """Which runs gc keeps, and how long it leaves anything unnamed alone (seconds)."""

    keep_last: int | None = None
    keep_newer_than: float | None = None
    keep_tags: tuple[str, ...] = ()
    grace: float = 3600.0
    #: Only this flow's runs may go.
    flow: str | None = None

    @staticmethod
    def from_settings(settings: Settings, *, flow: str | None = None) -> Policy:
        return Policy(
            settings.gc_keep_last,
            settings.gc_keep_newer_than,
            settings.gc_keep_tags,
            settings.gc_grace,
            flow,
        )

    def check(self) -> None:
        if self.keep_last is not None and self.keep_last < 1:
            raise NoRetentionRuleError(
                f"gc cannot keep the last {self.keep_last} runs of each flow: that deletes "
                "every finished run",
                "keep at least the last one (--keep-last 1, gc_keep_last = 1); to keep runs "
                "by age instead, use --keep-newer-than 30d",
            )
        if self.keep_last is None and self.keep_newer_than is None and not self.keep_tags:
            raise NoRetentionRuleError(
                "gc needs a retention rule: nothing says which runs to keep, and gc never "
                "deletes every run by default",
                RULES_HINT,
            )


@dataclass
class Letter:
    """A dead letter's folder: its objects, its run (None if unreadable) and blobs."""

    id: str
    objects: list[ObjectInfo]
    run: RunId | None = None
    digests: frozenset[str] = frozenset()

    @property
    def has_letter(self) -> bool:
        return any(o.key.endswith("/letter.json") for o in self.objects)

    @property
    def newest(self) -> float:
        return max((o.modified for o in self.objects), default=0.0)


@dataclass
class Plan:
    """What gc found and decided; executing it changes the store, a dry run prints it."""

    policy: Policy
    started: float
    cutoff: float
    batch: str
    folders: dict[RunId, RunFolder]
    runs: dict[RunId, RunRecord]
    kept: set[RunId]
    #: Runs whose records go.
    dropped: set[RunId]
    #: Run folders without a start record, untouched since the cutoff (what a killed gc
    #: leaves): their records go.
    leftovers: set[RunId]
    letters: dict[str, Letter]
    dropped_letters: list[str]
    logs: dict[RunId, list[ObjectInfo]]
    leases: dict[RunId, list[ObjectInfo]]
    #: Every blob a record or a kept run names.
    marked: set[str]
    blobs: dict[str, ObjectInfo]
    #: Unnamed blobs older than the cutoff: they go to the trash (digest -> size).
    candidates: dict[str, int]
    #: Unnamed blobs the time rule spares.
    young: int
    trash: list[TrashedBlob]
    temporaries: list[Temporary] = field(default_factory=list)
    reader: NameReader | None = None

    def gone(self, run: RunId) -> bool:
        """Whether ``run``'s records go (a dropped run, or a leftover)."""
        return run in self.dropped or run in self.leftovers

    def orphans(self, objects: dict[RunId, list[ObjectInfo]]) -> list[RunId]:
        """Runs with logs or a lease but no run folder left, untouched since the cutoff."""
        return sorted(
            run
            for run, infos in objects.items()
            if run not in self.folders
            and not self.gone(run)
            and max(o.modified for o in infos) < self.cutoff
        )


def make_plan(store: Store, policy: Policy, *, now: float | None = None) -> Plan:
    """Decide what gc takes (reads only)."""
    policy.check()
    backend = store.backend
    started = time.time() if now is None else now
    batch = IdGenerator().new()
    folders = group_runs(backend.scan(layout.FLOWS))
    runs = read_runs(backend, folders)
    # Deleting a run that still goes cannot be undone: a lease that lapsed for less than
    # the grace period (a laptop asleep, a network lost for a while) still counts as live.
    running = {
        run_id
        for run_id, record in runs.items()
        if "end.json" not in folders[run_id].objects
        and not store.leases.scheduler_gone(*run_id, record.created_at, now=started - policy.grace)
    }
    skew = clock_skew()
    oldest = min((runs[r].created_at for r in running), default=started)
    cutoff = min(started - policy.grace, oldest) - skew
    tagged = {r: store.tags.user_tags(runs[r]) for r in _retagged(folders, runs, policy)}
    kept = _retained(folders, runs, running, policy, started - skew, tagged)
    leftovers = {r for r, f in folders.items() if not f.has_record and f.newest < cutoff}
    reader = NameReader(backend)
    kept = close_origins(reader, folders, runs, kept, leftovers)
    dropped = set(runs) - kept
    trash = scan_trash(backend)
    letters = read_letters(backend)
    dropped_letters = sorted(
        letter.id
        for letter in letters.values()
        if letter.run in dropped
        or letter.run in leftovers
        or (
            letter.newest < cutoff
            and (not letter.has_letter or (letter.run is not None and letter.run not in folders))
        )
    )
    plan = Plan(
        policy=policy,
        started=started,
        cutoff=cutoff,
        batch=batch,
        folders=folders,
        runs=runs,
        kept=kept,
        dropped=dropped,
        leftovers=leftovers,
        letters=letters,
        dropped_letters=dropped_letters,
        logs=group_by_run(backend.scan("logs")),
        leases=group_by_run(backend.scan(layout.LEASES)),
        marked=set(),
        blobs={},
        candidates={},
        young=0,
        trash=trash,
        reader=reader,
    )
    plan.marked = mark(store, plan)
    plan.blobs = {info.key.rsplit("/", 1)[-1]: info for info in backend.scan("blobs")}
    for digest, info in plan.blobs.items():
        if digest in plan.marked:
            continue
        if info.modified < cutoff:
            plan.candidates[digest] = info.size
        else:
            plan.young += 1
    if isinstance(backend, StagesWrites):
        # a live writer (a running task's upload) may pause longer than a short grace
        quiet_for = max(policy.grace, TEMPORARY_GRACE) + skew
        plan.temporaries = [t for t in backend.temporaries() if t.modified < started - quiet_for]
    return plan


def mark(store: Store, plan: Plan, staying: list[RunFolder] | None = None) -> set[str]:
    """Every blob named by the runs whose records stay (``staying``: those the plan does
    not drop), their code packages and the dead letters that stay."""
    assert plan.reader is not None
    if staying is None:
        staying = [f for run, f in plan.folders.items() if not plan.gone(run)]
    marked: set[str] = set()
    for names in plan.reader.names(staying).values():
        marked |= names.digests
    records = [plan.runs[f.id] for f in staying if f.id in plan.runs]
    for record in records:
        marked |= run_names(record)
    # a deployed flow's package stays while it is deployed: the scheduler runs it
    deployed = deployed_code(store.backend)
    marked |= deployed
    codes = sorted({r.code_digest for r in records if r.code_digest} | deployed)
    trash_keys = {t.digest: t.key for t in plan.trash}
    for named in overlapped(
        store.backend, lambda c: package_names(store.backend, c, trash_keys), codes
    ):
        marked |= named
    for letter in plan.letters.values():
        if letter.id not in plan.dropped_letters:
            marked |= letter.digests
    return marked


def read_runs(backend: Backend, folders: dict[RunId, RunFolder]) -> dict[RunId, RunRecord]:
    """Each folder's start record. One deleted since the listing (by another gc) is kept
    for this gc, naming nothing; one that cannot be read stops gc, as what it names (its
    code package, its parameters) is unknown."""
    with_record = [f for f in folders.values() if f.has_record]

    def read(folder: RunFolder) -> RunRecord | None:
        key = f"{folder.prefix}/run.json"
        try:
            return loads(RunRecord, backend.get(key), f"{backend.url}/{key}")
        except KeyNotFoundError:
            return None
        except StoreError as exc:
            raise StoreError(
                f"gc cannot read a run's start record: {exc.message}", DAMAGED_HINT
            ) from None

    found = {}
    for folder, record in zip(with_record, overlapped(backend, read, with_record), strict=True):
        if record is None:  # created_at infinite: kept, as created since gc started
            record = RunRecord(folder.flow, folder.run_id, created_at=float("inf"))
        found[folder.id] = record
    return found


def _retagged(
    folders: dict[RunId, RunFolder], runs: dict[RunId, RunRecord], policy: Policy
) -> list[RunId]:
    """The runs whose user tags were changed since they started (``Run.add_tag``, ...),
    when gc keeps runs by tag: their tags now are what counts."""
    if not policy.keep_tags:
        return []
    return [
        r for r in runs if r in folders and any(k.startswith("tags/") for k in folders[r].objects)
    ]


def _retained(
    folders: dict[RunId, RunFolder],
    runs: dict[RunId, RunRecord],
    running: set[RunId],
    policy: Policy,
    started: float,
    tagged: dict[RunId, frozenset[str]],
) -> set[RunId]:
    kept = set(running)
    by_flow: dict[str, list[RunId]] = {}
    for run_id in sorted(runs, key=lambda r: run_order(r[1], runs[r].created_at)):
        by_flow.setdefault(run_id[0], []).append(run_id)
    for flow, ids in by_flow.items():
        if policy.flow is not None and flow != policy.flow:
            kept.update(ids)
            continue
        if policy.keep_last:
            kept.update(ids[-policy.keep_last :])
        newer = started - (policy.keep_newer_than if policy.keep_newer_than is not None else 0)
        tags = set(policy.keep_tags)
        # created since gc started (or unreadable: created_at is infinite), newer, tagged
        kept.update(
            r
            for r in ids
            if runs[r].created_at >= newer
            or tags & (tagged.get(r, frozenset(runs[r].tags)) | system_tags(runs[r]))
        )
    return kept


def close_origins(
    reader: NameReader,
    folders: dict[RunId, RunFolder],
    runs: dict[RunId, RunRecord],
    kept: set[RunId],
    leftovers: set[RunId],
) -> set[RunId]:
    """``kept`` with the origins of every run whose records stay (kept runs, and leftovers
    too young to go), and theirs in turn."""
    kept = set(kept)
    todo = [r for r in folders if r in kept or (r not in runs and r not in leftovers)]
    while todo:
        names: dict[RunId, Names] = reader.names(folders[r] for r in todo)
        origins = {o for n in names.values() for o in n.origins}
        origins |= {
            (r[0], runs[r].origin_run_id)  # type: ignore[misc]
            for r in todo
            if r in runs and runs[r].origin_run_id
        }
        todo = sorted(o for o in origins if o in runs and o not in kept)
        kept.update(todo)
    return kept


def read_letters(backend: Backend) -> dict[str, Letter]:
    letters: dict[str, Letter] = {}
    for info in backend.scan(layout.DEAD_LETTERS):
        parts = info.key.split("/")
        if len(parts) == 3:
            letters.setdefault(parts[1], Letter(parts[1], [])).objects.append(info)

    def read(letter: Letter) -> None:
        if not letter.has_letter:
            return
        try:
            raw = backend.get(layout.dead_letter_key(letter.id))
        except StoreError:
            return
        letter.digests = letter_digests(raw)
        try:
            data = json.loads(raw)
            letter.run = (str(data["flow"]), str(data["run_id"]))
        except (ValueError, KeyError, TypeError):
            return  # unreadable: kept, and fsck reports it

    overlapped(backend, read, list(letters.values()))
    return letters
