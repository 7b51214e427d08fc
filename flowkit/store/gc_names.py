"""What gc must keep because a record names it: blobs, and runs a clone points back to.

The one definition of what each record names, for gc's mark and fsck's checks alike: a
run's start record (:func:`run_names`: its code package and parameters; a notebook flow's
package names its class blob, :func:`package_names`), a task record (:func:`task_names`:
artifacts, foreach chunks, the item chunk its path names) and a dead letter
(:func:`letter_digests`).

A run's folder is read from a listing (:class:`RunFolder`); its task records are read once
each (they never change, so a second mark in the same gc reads only what is new): a step's
index where the run wrote one (one read for every task of the step), and each attempt
record the index does not cover. A record that cannot be read stops gc before it takes
anything: the blobs it names are unknown.
"""

from __future__ import annotations

import io
import json
import pickle
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flowkit.fastdata import dataclass, field
from flowkit.store import layout
from flowkit.store.backend import Backend, ObjectInfo
from flowkit.store.blobs import blob_key, read_segments
from flowkit.store.errors import CorruptBlobError, KeyNotFoundError, StoreError
from flowkit.store.overlap import overlapped
from flowkit.store.packages import FORMAT
from flowkit.store.records import RunRecord, TaskRecord, loads
from flowkit.store.step_index import read_index

#: (flow, run id)
RunId = tuple[str, str]
_DIGEST = re.compile(r"[0-9a-f]{64}")
DAMAGED_HINT = (
    "gc stopped before taking anything, as it cannot tell which blobs the record names: "
    "see what is damaged with flowkit fsck, remove or restore it, then run gc again"
)


@dataclass
class RunFolder:
    """The objects under ``runs/<flow>/<run_id>/``, keyed by their path below it."""

    flow: str
    run_id: str
    objects: dict[str, ObjectInfo] = field(default_factory=dict)

    @property
    def id(self) -> RunId:
        return self.flow, self.run_id

    @property
    def prefix(self) -> str:
        return layout.run_prefix(self.flow, self.run_id)

    @property
    def has_record(self) -> bool:
        return "run.json" in self.objects

    @property
    def newest(self) -> float:
        return max((o.modified for o in self.objects.values()), default=0.0)


def group_runs(objects: Iterable[ObjectInfo]) -> dict[RunId, RunFolder]:
    """Run folders from a scan of ``runs/``."""
    folders: dict[RunId, RunFolder] = {}
    for info in objects:
        parts = info.key.split("/", 3)
        if len(parts) == 4:
            folder = folders.setdefault((parts[1], parts[2]), RunFolder(parts[1], parts[2]))
            folder.objects[parts[3]] = info
    return folders


def group_by_run(objects: Iterable[ObjectInfo]) -> dict[RunId, list[ObjectInfo]]:
    """Objects keyed ``<top>/<flow>/<run_id>...`` (logs, leases) by the run they belong to."""
    found: dict[RunId, list[ObjectInfo]] = {}
    for info in objects:
        parts = info.key.split("/")
        if len(parts) >= 3:
            run_id = parts[2].removesuffix(".json") if len(parts) == 3 else parts[2]
            found.setdefault((parts[1], run_id), []).append(info)
    return found


@dataclass(frozen=True)
class Names:
    """What some records name: blob digests, and runs whose tasks clones were copied from."""

    digests: frozenset[str] = frozenset()
    origins: frozenset[RunId] = frozenset()


def run_names(record: RunRecord) -> frozenset[str]:
    """The blobs a run's start record names: its code package and each parameter's value
    (the package's own class blob, for a notebook flow: :func:`package_names`)."""
    digests = set(record.parameter_digests.values())
    if record.code_digest:
        digests.add(record.code_digest)
    return frozenset(digests)


def task_names(record: TaskRecord) -> Names:
    """The blobs a task record names (not the values it holds inline), and the run its
    clone was copied from."""
    digests = {ref.digest for ref in record.artifacts.values() if ref.inline is None}
    digests.update(digest for digest, _ in record.foreach_items)
    digests.update(card.digest for card in record.cards)
    digests.update(digests_in(record.path))  # a foreach branch's item chunk
    origins: set[RunId] = set()
    if record.origin_pathspec:
        flow, run_id = record.origin_pathspec.split("/")[:2]
        origins.add((flow, run_id))
    return Names(frozenset(digests), frozenset(origins))


def digests_in(value: Any) -> Iterator[str]:
    """Every blob digest anywhere in a decoded JSON value (a spec, a record's path)."""
    if isinstance(value, str):
        yield from _DIGEST.findall(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from digests_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from digests_in(item)


class NameReader:
    """Reads what runs' records name, each record once."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._read: dict[str, tuple[Names, frozenset[str]]] = {}

    def names(self, folders: Iterable[RunFolder]) -> dict[RunId, Names]:
        """What each folder's task records name (indexes first, then uncovered attempts)."""
        folders = list(folders)
        indexes = [
            f"{f.prefix}/{rel}" for f in folders for rel in f.objects if rel.startswith("index/")
        ]
        self._read_all(indexes, self._read_index)
        found: dict[RunId, Names] = {}
        todo: dict[RunId, list[str]] = {}
        for folder in folders:
            covered: set[str] = set()
            for rel in folder.objects:
                if rel.startswith("index/"):
                    covered |= self._read[f"{folder.prefix}/{rel}"][1]
            todo[folder.id] = [key for key in self._attempt_keys(folder) if key not in covered]
        self._read_all([k for keys in todo.values() for k in keys], self._read_attempt)
        for folder in folders:
            keys = [f"{folder.prefix}/{rel}" for rel in folder.objects if rel.startswith("index/")]
            keys += todo[folder.id]
            found[folder.id] = Names(
                frozenset(d for k in keys for d in self._read[k][0].digests),
                frozenset(o for k in keys for o in self._read[k][0].origins),
            )
        return found

    def _attempt_keys(self, folder: RunFolder) -> list[str]:
        """Each attempt's final record, or its start record while it has none."""
        keys = []
        for rel in folder.objects:
            parts = rel.split("/")
            if len(parts) != 3 or parts[0] != "steps":
                continue
            parsed = layout.parse_attempt_name(parts[2])
            if parsed is None:
                continue
            task_id, attempt, final = parsed
            if not final and f"steps/{parts[1]}/{task_id}.{attempt}.json" in folder.objects:
                continue
            keys.append(f"{folder.prefix}/{rel}")
        return keys

    def _read_all(
        self, keys: list[str], read: Callable[[str], tuple[Names, frozenset[str]]]
    ) -> None:
        new = [k for k in keys if k not in self._read]
        for key, result in zip(new, overlapped(self._backend, read, new), strict=True):
            self._read[key] = result

    def _get(self, key: str) -> bytes | None:
        try:
            return self._backend.get(key)
        except KeyNotFoundError:
            return None  # deleted since the listing (a leftover another gc removes)

    def _read_index(self, key: str) -> tuple[Names, frozenset[str]]:
        raw = self._get(key)
        where = f"{self._backend.url}/{key}"
        if raw is None:
            return Names(), frozenset()
        try:
            records = read_index(raw, where)
        except StoreError:
            return Names(), frozenset()  # damaged: the attempt records it covers are read
        covered = frozenset(
            layout.attempt_key(r.flow, r.run_id, r.step, r.task_id, r.attempt, final=r.final)
            for r in records
        )
        return _union(task_names(r) for r in records), covered

    def _read_attempt(self, key: str) -> tuple[Names, frozenset[str]]:
        raw = self._get(key)
        if raw is None:
            return Names(), frozenset()
        try:
            record = loads(TaskRecord, raw, f"{self._backend.url}/{key}")
        except StoreError as exc:
            raise StoreError(f"gc cannot read a task record: {exc.message}", DAMAGED_HINT) from None
        return task_names(record), frozenset()


def _union(names: Iterable[Names]) -> Names:
    digests: set[str] = set()
    origins: set[RunId] = set()
    for item in names:
        digests |= item.digests
        origins |= item.origins
    return Names(frozenset(digests), frozenset(origins))


def letter_digests(raw: bytes) -> frozenset[str]:
    """The blobs a dead letter names: its task spec's code package, parameters and the
    foreach item chunks of its path. Of a letter that does not parse, every digest-like
    string in it (gc keeps too much rather than too little)."""
    try:
        return letter_names(json.loads(raw))
    except (ValueError, KeyError, TypeError):
        return frozenset(_DIGEST.findall(raw.decode("utf-8", "replace")))


def letter_names(letter: Any) -> frozenset[str]:
    """The blobs a decoded dead letter names (see :func:`letter_digests`); a ``ValueError``,
    ``KeyError`` or ``TypeError`` if it is not a letter."""
    spec = json.loads(letter["spec"])
    if not isinstance(spec, dict):
        raise TypeError("a dead letter's spec is not a JSON object")
    code = spec.get("code") or {}
    if not isinstance(code, dict):
        raise TypeError("a dead letter's code reference is not a JSON object")
    # only the fields that name blobs: the spec's other strings (the launching process's
    # sys.path, which may hold an extracted package's folder, named by its digest; tags)
    # are not references, and a folder of another store's package is no missing blob here
    named = [spec.get("parameters", {}), spec.get("path", [])]
    if code.get("kind") in ("package", "blob"):
        named.append(code.get("target", ""))
    return frozenset(digests_in(named))


class _PlainData(pickle.Unpickler):
    """Unpickles plain data only: gc never imports or runs a flow's code."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"{module}.{name} is not plain data")


def package_names(backend: Backend, digest: str, trash_keys: dict[str, str]) -> frozenset[str]:
    """The class blob a notebook flow's code package ``digest`` names (nothing for other
    packages, or one that cannot be read). ``trash_keys`` (digest -> key) says where a blob
    in the trash is: it is read there, not moved back (a dry run changes nothing)."""
    for key in (blob_key(digest), trash_keys.get(digest)):
        if key is None:
            continue
        try:
            with backend.open(key) as fh:
                segments = read_segments(fh, digest, key)
        except (KeyNotFoundError, CorruptBlobError):
            continue
        try:
            value = _PlainData(io.BytesIO(segments[0]), buffers=segments[1:]).load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError):
            return frozenset()  # not a package (an old run's class blob, say): nothing more
        if (
            isinstance(value, dict)
            and value.get("format") == FORMAT
            and value.get("kind") == "blob"
        ):
            entry = value.get("entry")
            return frozenset({entry}) if isinstance(entry, str) else frozenset()
        return frozenset()
    return frozenset()
