"""``fsck``: read every record and blob of a store and report what does not hold up.

Checks, without changing anything: every blob reads back and hashes to its name; every
record parses and sits under the key its contents say; every artifact a task record names
is a blob that exists; step indexes, cache entries and dead letters name records that
exist. A corrupt blob is reported with the artifacts and tasks that name it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from flowkit.store import layout
from flowkit.store.blobs import blob_key
from flowkit.store.deadletters import letter_from_json
from flowkit.store.errors import CorruptBlobError, StoreError
from flowkit.store.records import RunEndRecord, RunRecord, TaskRecord, from_dict, loads
from flowkit.store.store import Store


@dataclass(frozen=True)
class Problem:
    """One thing wrong: the key it is about and what is wrong with it."""

    key: str
    message: str


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    blobs: int = 0
    records: int = 0

    def add(self, key: str, message: str) -> None:
        self.problems.append(Problem(key, message))

    def summary(self) -> str:
        what = f"{self.records} records and {self.blobs} blobs checked"
        if not self.problems:
            return f"{what}: no problems found."
        return f"{what}: {len(self.problems)} problem{'s' * (len(self.problems) != 1)} found."


@dataclass
class _Checker:
    store: Store
    report: Report = field(default_factory=Report)
    #: digest -> "artifact 'x' of task F/r/s/t" for every artifact a task record names.
    users: dict[str, list[str]] = field(default_factory=dict)

    def walk(self, prefix: str) -> Iterator[str]:
        for name in self.store.backend.list(prefix):
            key = f"{prefix}/{name}"
            children = self.store.backend.list(key)
            if children:
                yield from self.walk(key)
            elif self.store.backend.exists(key):
                yield key

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
            self.same(key, loads(RunRecord, data, key), flow, run_id)
        elif rest == ["end.json"]:
            self.same(key, loads(RunEndRecord, data, key), flow, run_id)
        elif rest[0] == "steps" and len(rest) == 3:
            self.task(key, loads(TaskRecord, data, key), flow, run_id, rest)
        elif rest[0] == "index" and len(rest) == 2:
            for item in json.loads(data)["tasks"]:
                record = from_dict(TaskRecord, item, key)
                self.exists(key, record, final=record.final)
        elif rest != ["explain.json"]:
            self.report.add(key, "an object flowkit does not know in a run")
        else:
            json.loads(data)

    def same(self, key: str, record: RunRecord | RunEndRecord, flow: str, run_id: str) -> None:
        if (record.flow, record.run_id) != (flow, run_id):
            self.report.add(key, f"the record is of run {record.flow}/{record.run_id}")

    def task(self, key: str, record: TaskRecord, flow: str, run_id: str, rest: list[str]) -> None:
        parsed = layout.parse_attempt_name(rest[2])
        expected = (flow, run_id, rest[1], *(parsed or ("?", -1, False))[:2])
        actual = (record.flow, record.run_id, record.step, record.task_id, record.attempt)
        if parsed is None or actual != expected:
            self.report.add(key, f"the record is of attempt {record.pathspec}.{record.attempt}")
        for name, ref in record.artifacts.items():
            self.users.setdefault(ref.digest, []).append(
                f"artifact '{name}' of task {record.pathspec}"
            )
            if record.final and not self.store.blobs.exists(ref.digest):
                self.report.add(key, f"artifact '{name}' names blob {ref.digest}, which is missing")

    def exists(self, key: str, record: TaskRecord, *, final: bool) -> None:
        target = layout.attempt_key(
            record.flow, record.run_id, record.step, record.task_id, record.attempt, final=final
        )
        if not self.store.backend.exists(target):
            self.report.add(key, f"names {target}, which is missing")

    def blobs(self) -> None:
        for key in self.walk("blobs"):
            digest = key.rsplit("/", 1)[-1]
            self.report.blobs += 1
            try:
                if blob_key(digest) != key:
                    raise StoreError(f"blob {digest} is stored under the wrong prefix")
                self.store.blobs.read(digest)
            except CorruptBlobError as exc:
                users = self.users.get(digest, [])
                owner = "; ".join(users) if users else "no artifact names it"
                self.report.add(key, f"{exc.naming(owner).message}")
            except StoreError as exc:
                self.report.add(key, exc.message)

    def cache(self) -> None:
        for key in self.walk("cache"):
            data = self.read_json(key)
            if not isinstance(data, dict) or "pathspec" not in data:
                if data is not None:
                    self.report.add(key, "not a cache entry")
                continue
            flow, run_id, step, task_id = str(data["pathspec"]).split("/")
            target = layout.attempt_key(
                flow, run_id, step, task_id, int(data.get("attempt", 0)), final=True
            )
            if not self.store.backend.exists(target):
                self.report.add(key, f"names {target}, which is missing")

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
            if not self.store.backend.exists(target):
                self.report.add(key, f"names {target}, which is missing")


def fsck(store: Store) -> Report:
    """Check the whole store; the report lists every problem (none: the store is sound)."""
    checker = _Checker(store)
    checker.runs()
    checker.blobs()
    checker.cache()
    checker.letters()
    return checker.report
