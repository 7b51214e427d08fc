"""``fsck``: read every record, blob and log chunk of a store and report what does not hold up;
``repair`` removes what can go safely.

Checks, without changing anything: every blob reads back and hashes to its name; every
record parses and sits under the key its contents say, and the tiny values a task record
holds inline verify against their digests; every blob a record names exists
(what a record names is defined once, in :mod:`flowkit.store.gc_names`, for gc's mark and
for fsck: a run's code package, a notebook flow's class blob and the parameters; a task's
artifacts and foreach item chunks; a dead letter's); step indexes and dead letters name
records that exist; every log chunk is in flowkit's format; no temporary file of a killed writer is left
(backends that stage writes). A corrupt blob is reported with the artifacts and tasks that
name it. The store is listed with ``scan`` (one call per thousand objects on an object
store), and nothing fsck checks is read through a path that changes the store.

Three states that ``flowkit gc`` (:mod:`flowkit.store.gc`) may leave are not problems: a run
folder without a ``run.json`` (a gc stopped while deleting a run: it is no run, and the next
gc removes the rest), a named blob that waits in gc's trash (a read puts it back), and a
cache entry naming a task that is gone (a run that ended while gc deleted the task's run
merged its entry back in): it is reported as stale, as reuse reads an entry's task before
taking it and runs one that is gone again; ``repair`` prunes such entries and keeps the rest.

What ``repair`` removes, and why that is safe:

- a damaged blob: it can never be read; once it is gone, a resume (or ``run --reuse``) runs
  the tasks that wrote it again, and they write it anew. A blob that verifies is never
  removed, even one a write heals while repair runs: the blob is moved aside under
  :data:`QUARANTINE` and the moved copy is checked before it is deleted (see
  :func:`_remove_blob`);
- a blob in :data:`QUARANTINE` (a repair was stopped half-way): it goes back if it
  verifies, else it is deleted;
- a damaged log chunk: the rest of the log reads without it;
- a broken cache entry, or a step's broken cache index (not one): it is only an index, and
  the next run of the step enters its tasks again;
- a temporary file not written to for :data:`TEMPORARY_GRACE` seconds: a live writer writes
  to its file continuously, so one this old belongs to a writer that was killed. Younger
  ones are left alone (and are not problems: they may be writes in progress).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Literal

from flowkit.fastdata import dataclass, field
from flowkit.store import layout, reuse_keys
from flowkit.store.backend import StagesWrites
from flowkit.store.blobs import blob_key, read_segments
from flowkit.store.deadletters import letter_from_json
from flowkit.store.deployments import check_deployments
from flowkit.store.errors import CorruptBlobError, KeyNotFoundError, StoreError
from flowkit.store.gc_names import letter_names, package_names, run_names, task_names
from flowkit.store.logs import check_chunk
from flowkit.store.records import (
    RunEndRecord,
    RunRecord,
    TagChangeRecord,
    TaskRecord,
    loads,
)
from flowkit.store.step_index import read_index
from flowkit.store.store import Store
from flowkit.store.trash import scan_trash
from flowkit.store.values import INLINE_DAMAGED, inline_damaged

#: Where ``repair`` moves a damaged blob before it deletes it (see :func:`repair`); what is
#: there was left by a repair that was stopped.
QUARANTINE = layout.QUARANTINE

#: Seconds without a write after which a temporary file cannot belong to a live writer.
TEMPORARY_GRACE = 3600.0

#: What :func:`repair` does about a problem: remove the object at its key, or the temporary
#: file at its key; None: it needs a person (or a resume).
Removal = Literal["object", "temporary"]


@dataclass(frozen=True)
class Damage:
    """One thing wrong in the store: the key it is about, what is wrong with it, and what
    repairs it. (Not :class:`flowkit.errors.Problem`, which is a problem lint found in a flow.)"""

    key: str
    message: str
    removable: Removal | None = None


@dataclass(frozen=True)
class Stale:
    """A step's cache index (or an older flowkit's cache entry) at ``key`` naming tasks whose
    final records, ``targets``, are gone: not a problem (see the module docstring)."""

    key: str
    targets: tuple[str, ...]


@dataclass
class Report:
    problems: list[Damage] = field(default_factory=list)
    #: Cache entries naming tasks that are gone, by index.
    stale: list[Stale] = field(default_factory=list)
    #: How many of those entries :func:`repair` pruned.
    pruned: int = 0
    blobs: int = 0
    records: int = 0
    chunks: int = 0
    #: Temporary files too young to be strays (writes that may be in progress).
    young_temporaries: int = 0
    #: Artifacts whose blob a gc moved to the trash after a record named it (a read of
    #: the artifact, or the next gc, puts it back).
    in_trash: int = 0

    def add(self, key: str, message: str, removable: Removal | None = None) -> None:
        self.problems.append(Damage(key, message, removable))

    def summary(self) -> str:
        what = f"{self.records} records, {self.blobs} blobs and {self.chunks} log chunks checked"
        if self.in_trash:
            what += (
                f" ({self.in_trash} named blob(s) wait in gc's trash: a read or the next "
                "flowkit gc puts them back)"
            )
        if self.young_temporaries:
            what += (
                f" ({self.young_temporaries} temporary file(s) written to in the last "
                f"{TEMPORARY_GRACE / 3600:g} h left alone: writes that may be in progress)"
            )
        stale = sum(len(s.targets) for s in self.stale)
        if self.pruned:
            what += f" ({self.pruned} stale cache entr{_ies(self.pruned)} pruned)"
        elif stale:
            what += (
                f" ({stale} stale cache entr{_ies(stale)} naming a task that is gone: harmless, "
                "as reuse runs such a task again; flowkit fsck --repair prunes stale entries)"
            )
        if not self.problems:
            return f"{what}: no problems found."
        return f"{what}: {len(self.problems)} problem{'s' * (len(self.problems) != 1)} found."


def _ies(count: int) -> str:
    return "y" if count == 1 else "ies"


@dataclass
class _Checker:
    store: Store
    report: Report = field(default_factory=Report)
    #: digest -> "artifact 'x' of task F/r/s/t" for every artifact a task record names.
    users: dict[str, list[str]] = field(default_factory=dict)

    #: Every blob's digest, and every key under ``runs/``, as listed when fsck started:
    #: what a record names is looked up here, and asked of the store only when missing
    #: (written since), so a store of many objects costs a listing, not a probe per object.
    present: set[str] = field(default_factory=set)
    run_keys: set[str] = field(default_factory=set)
    #: The blobs gc moved to the trash (a read puts one back): digest -> key there.
    trashed: dict[str, str] = field(default_factory=dict)
    #: What each code package read so far names (a notebook flow's class blob).
    packages: dict[str, frozenset[str]] = field(default_factory=dict)

    def walk(self, prefix: str) -> Iterator[str]:
        """Every key under ``prefix``, sorted (one listing per thousand on an object store)."""
        return iter(sorted(info.key for info in self.store.backend.scan(prefix)))

    def list_store(self) -> None:
        self.present = {key.rsplit("/", 1)[-1] for key in self.walk("blobs")}
        self.run_keys = set(self.walk(layout.FLOWS))
        self.trashed = {t.digest: t.key for t in scan_trash(self.store.backend)}

    def has_blob(self, digest: str) -> bool:
        return digest in self.present or self.store.backend.exists(blob_key(digest))

    def has_key(self, key: str) -> bool:
        return key in self.run_keys or self.store.backend.exists(key)

    def read_json(self, key: str) -> object | None:
        self.report.records += 1
        try:
            data: object = json.loads(self.store.backend.get(key))
            return data
        except ValueError as exc:
            self.report.add(key, f"not valid JSON: {exc}")
            return None

    def runs(self) -> None:
        for key in self.walk(layout.FLOWS):
            parts = key.split("/")
            if len(parts) < 4:
                self.report.add(key, "an object where only flows and runs belong")
                continue
            flow, run_id = parts[1], parts[2]
            try:
                self.run_object(key, flow, run_id, parts[3:])
            except StoreError as exc:
                self.report.add(key, exc.message)
            except (ValueError, KeyError, TypeError) as exc:
                self.report.add(key, f"not a valid flowkit object: {type(exc).__name__}: {exc}")

    def run_object(self, key: str, flow: str, run_id: str, rest: list[str]) -> None:
        data = self.store.backend.get(key)
        self.report.records += 1
        if rest == ["run.json"]:
            run = loads(RunRecord, data, key)
            self.same(key, run, flow, run_id)
            self.run_blobs(key, run)
        elif rest == ["end.json"]:
            self.same(key, loads(RunEndRecord, data, key), flow, run_id)
        elif rest[0] == "steps" and len(rest) == 3:
            self.task(key, loads(TaskRecord, data, key), flow, run_id, rest)
        elif rest[0] == "index" and len(rest) == 2:
            for record in read_index(data, key):
                self.exists(key, record, final=record.final)
        elif rest[0] == "tags" and len(rest) == 2:
            change = loads(TagChangeRecord, data, key)
            if (change.flow, change.run_id) != (flow, run_id):
                self.report.add(key, f"the record is of run {change.flow}/{change.run_id}")
        elif rest not in (["explain.json"], ["scheduler.json"]):
            self.report.add(key, "an object flowkit does not know in a run")
        else:
            json.loads(data)

    def same(self, key: str, record: RunRecord | RunEndRecord, flow: str, run_id: str) -> None:
        if (record.flow, record.run_id) != (flow, run_id):
            self.report.add(key, f"the record is of run {record.flow}/{record.run_id}")

    def run_blobs(self, key: str, run: RunRecord) -> None:
        """Check the blobs a run's start record names, and its code package's class blob."""
        what = {d: f"parameter '{name}'" for name, d in run.parameter_digests.items()}
        if run.code_digest:
            what[run.code_digest] = "the code package"
            if run.code_digest not in self.packages:
                self.packages[run.code_digest] = package_names(
                    self.store.backend, run.code_digest, self.trashed
                )
            for digest in self.packages[run.code_digest]:
                what[digest] = "the flow class its code package names"
        for digest in sorted(run_names(run) | set(what)):
            self.named(key, what[digest], "is", digest, f"run {run.flow}/{run.run_id}")

    def task(self, key: str, record: TaskRecord, flow: str, run_id: str, rest: list[str]) -> None:
        parsed = layout.parse_attempt_name(rest[2])
        expected = (flow, run_id, rest[1], *(parsed or ("?", -1, False))[:2])
        actual = (record.flow, record.run_id, record.step, record.task_id, record.attempt)
        if parsed is None or actual != expected:
            self.report.add(key, f"the record is of attempt {record.pathspec}.{record.attempt}")
        named = {
            ref.digest: (f"artifact '{n}'", "names")
            for n, ref in record.artifacts.items()
            if ref.inline is None  # the record holds it: no blob to find
        }
        named.update({digest: ("the foreach items", "name") for digest, _ in record.foreach_items})
        named.update({c.digest: (f"its {c.type} card", "names") for c in record.cards})
        for digest in task_names(record).digests - set(named):
            named[digest] = ("the foreach item its path", "names")
        for digest, (what, verb) in sorted(named.items()):
            if record.final:
                self.named(key, what, verb, digest, f"task {record.pathspec}")
        for name, ref in sorted(record.artifacts.items()):
            if inline_damaged(ref):
                self.report.add(key, f"artifact '{name}': {INLINE_DAMAGED} {ref.digest}")

    def named(self, key: str, what: str, verb: str, digest: str, owner: str) -> None:
        """Report blob ``digest`` if it is missing: the record at ``key`` names it as ``what``
        of ``owner``. One waiting in gc's trash is fine (a read puts it back)."""
        self.users.setdefault(digest, []).append(f"{what} of {owner}")
        if self.has_blob(digest):
            return
        if digest in self.trashed:  # a race with gc it resolves: not a problem
            self.report.in_trash += 1
        else:
            self.report.add(key, f"{what} {verb} blob {digest}, which is missing")

    def exists(self, key: str, record: TaskRecord, *, final: bool) -> None:
        target = layout.attempt_key(
            record.flow, record.run_id, record.step, record.task_id, record.attempt, final=final
        )
        if not self.has_key(target):
            self.report.add(key, f"names {target}, which is missing")

    def blobs(self) -> None:
        for key in self.walk("blobs"):
            digest = key.rsplit("/", 1)[-1]
            self.report.blobs += 1
            try:
                if blob_key(digest) != key:
                    raise StoreError(f"blob {digest} is stored under the wrong prefix")
                with self.store.backend.open(key) as fh:  # not values: a miss restores nothing
                    read_segments(fh, digest, f"{self.store.url}/{key}")
            except KeyNotFoundError:
                continue  # gone since it was listed (moved to the trash by a gc)
            except CorruptBlobError as exc:
                users = self.users.get(digest, [])
                owner = "; ".join(users) if users else "no artifact names it"
                self.report.add(key, f"{exc.naming(owner).message}", "object")
            except StoreError as exc:
                self.report.add(key, exc.message)

    def cache(self) -> None:
        for key in self.walk("cache"):
            self.report.records += 1
            try:
                targets = self.cache_targets(key)
            except StoreError as exc:
                why = f"{type(exc).__name__}: {exc.message}"
                self.report.add(key, f"a broken cache entry (not a cache entry: {why})", "object")
                continue
            missing = tuple(t for t in targets if not self.has_key(t))
            if missing:
                self.report.stale.append(Stale(key, missing))

    def cache_targets(self, key: str) -> list[str]:
        """The final records a step's cache index, or an older flowkit's entry, names."""
        step = _cache_step(key)
        if step is not None:
            flow = key.split("/")[1]
            entries = reuse_keys.parse(self.store.backend.get(key), f"{self.store.url}/{key}")
            return [reuse_keys.record_key(flow, step, entry) for entry in entries.values()]
        flow, run_id, step, task_id, attempt = self.store.index.cache_entry(key)
        return [layout.attempt_key(flow, run_id, step, task_id, attempt, final=True)]

    def deployments(self) -> None:
        """Deployments, the scheduler's claims and state, and events parse; a deployment's
        code package exists."""
        for key, problem, code in check_deployments(self.store.backend):
            self.report.records += 1
            if problem is not None:
                self.report.add(key, problem)
            elif code is not None:
                self.named(key, "the code package", "is", code, f"deployment {key.split('/')[1]}")

    def logs(self) -> None:
        for key in self.walk("logs"):
            if key.rpartition("/")[2] == layout.LOG_END:
                continue  # a log's end mark: empty, not a chunk
            self.report.chunks += 1
            where = f"{self.store.url}/{key}"
            try:
                check_chunk(self.store.backend.get(key), where)
            except StoreError as exc:
                self.report.add(key, f"a damaged log chunk: {exc.message}", "object")

    def temporaries(self, now: float) -> None:
        backend = self.store.backend
        if not isinstance(backend, StagesWrites):
            return
        for temp in backend.temporaries():
            age = now - temp.modified
            if age < TEMPORARY_GRACE:
                self.report.young_temporaries += 1
                continue
            self.report.add(
                temp.name,
                f"a temporary file of {temp.size} bytes that a killed writer left "
                f"(last written {age / 3600:.1f} h ago)",
                "temporary",
            )

    def quarantined(self) -> None:
        for key in self.walk(QUARANTINE):
            self.report.add(
                key,
                "a blob moved aside by an fsck --repair that was stopped (or is running): "
                "repair puts it back if it verifies and removes it if not",
                "object",
            )

    def letters(self) -> None:
        for key in self.walk(layout.DEAD_LETTERS):
            data = self.read_json(key)
            if data is None or not key.endswith("/letter.json"):
                continue
            try:
                letter = letter_from_json(data, key)
            except StoreError as exc:
                self.report.add(key, exc.message)
                continue
            target = layout.attempt_key(
                letter.flow, letter.run_id, letter.step, letter.task_id, letter.attempt, final=True
            )
            if not self.has_key(target):
                self.report.add(key, f"names {target}, which is missing")
            try:
                digests = letter_names(data)
            except (ValueError, KeyError, TypeError) as exc:
                self.report.add(key, f"the task spec of the dead letter does not parse: {exc}")
                continue
            for digest in sorted(digests):
                self.named(key, "its task spec", "names", digest, f"dead letter {letter.id}")


def fsck(store: Store, *, now: float | None = None) -> Report:
    """Check the whole store; the report lists every problem (none: the store is sound).
    ``now`` is the time temporary files' ages are taken from (default: the clock's)."""
    checker = _Checker(store)
    checker.list_store()
    checker.runs()
    checker.blobs()
    checker.cache()
    checker.letters()
    checker.deployments()
    checker.logs()
    checker.temporaries(time.time() if now is None else now)
    checker.quarantined()
    return checker.report


def _cache_step(key: str) -> str | None:
    """The step whose cache index is stored under ``key``; None for an older flowkit's entry."""
    parts = key.split("/")
    if len(parts) == 4 and parts[2] == layout.CACHE_STEPS and parts[3].endswith(".json"):
        return parts[3].removesuffix(".json")
    return None


def repair(store: Store, report: Report) -> list[Damage]:
    """Remove what ``report`` found removable (see the module docstring for why each is
    safe), and prune its stale cache entries (``report.pruned`` says how many); the problems
    it removed. A damaged blob that verifies by now is left alone."""
    for stale in report.stale:
        report.pruned += _prune(store, stale)
    removed = []
    for problem in report.problems:
        if problem.removable == "temporary":
            backend = store.backend
            assert isinstance(backend, StagesWrites)  # only such a backend reports them
            backend.remove_temporary(problem.key)
        elif problem.removable == "object" and problem.key.startswith(f"{QUARANTINE}/"):
            _settle(store, problem.key)  # gone either way: deleted, or back under its digest
        elif problem.removable == "object" and problem.key.startswith("blobs/"):
            if not _remove_blob(store, problem.key):
                continue
        elif problem.removable == "object":
            store.backend.delete(problem.key)
        else:
            continue
        removed.append(problem)
    return removed


def _prune(store: Store, stale: Stale) -> int:
    """Take the entries naming tasks that are still gone out of the cache index at
    ``stale.key`` (or delete an older flowkit's entry), leaving the rest; how many went.
    The index is read again: a run that ended since fsck looked may have merged its own."""
    backend = store.backend
    gone = {target for target in stale.targets if not backend.exists(target)}
    if not gone:
        return 0
    step = _cache_step(stale.key)
    if step is None:
        backend.delete(stale.key)
        return 1
    flow = stale.key.split("/")[1]
    return reuse_keys.drop(
        backend, flow, step, lambda entry: reuse_keys.record_key(flow, step, entry) in gone
    )


def _remove_blob(store: Store, key: str) -> bool:
    """Take the damaged blob under ``key`` away, unless it verifies by now; whether it went.

    A writer heals a blob by replacing it atomically, at any moment, so checking it and then
    deleting it could delete a copy healed in between. Instead the blob is moved aside
    first (to a key no reader looks at), and the moved copy is what gets checked: a damaged
    one is deleted, while a write that came later stays in place; one that verifies (a write
    healed it before the move) goes back with ``put_new``, unless a writer stored it again
    meanwhile. Either way no good copy is lost; at worst the blob is missing for a moment.
    """
    digest = key.rsplit("/", 1)[-1]
    if _verifies(store, digest):  # healed since fsck looked: no need to move it at all
        return False
    aside = layout.quarantine_key(digest)
    if not store.backend.move(key, aside):
        return True  # gone already
    return _settle(store, aside)


def _settle(store: Store, aside: str) -> bool:
    """Put a blob moved aside to ``aside`` back if it verifies, else delete it; True if it
    was damaged (or is gone), False if it went back."""
    digest = aside.rsplit("/", 1)[-1].split(".", 1)[0]
    try:
        with store.backend.open(aside) as fh:
            read_segments(fh, digest, f"{store.url}/{aside}")
    except KeyNotFoundError:
        return True  # another repair settled it
    except CorruptBlobError:
        store.backend.delete(aside)
        return True
    store.backend.put_new(blob_key(digest), store.backend.get(aside))
    store.backend.delete(aside)
    return False


def _verifies(store: Store, digest: str) -> bool:
    try:
        store.values.blobs.read(digest)
    except CorruptBlobError:
        return False
    return True
