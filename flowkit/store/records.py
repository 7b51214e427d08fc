"""Write-once JSON records: a run's start and end, and each task attempt's start and end.

Times are seconds since the epoch (UTC floats). A task attempt counts as successful if and
only if its final record (``status != "running"``) says ``"succeeded"`` or ``"caught"`` (the
step raised, ``@catch`` stored the exception as an artifact and the flow went on); a start
record alone means the attempt is running, or died without a word (``kill -9``, a lost
machine). A failed attempt's ``failure`` says why: ``"error"`` (the user's code raised),
``"lost"`` (its process died before writing its record: a signal, a dead worker),
``"crashed"`` (it exited on its own without a record, e.g. ``os._exit``) or ``"timeout"``.
"""

from __future__ import annotations

import json
import zlib
from functools import cache, lru_cache
from sys import intern
from typing import Any, Literal, TypeVar

from flowkit.fastdata import MISSING, dataclass, field, fields, is_dataclass, replace
from flowkit.store.errors import StoreError

SCHEMA = 1
DAMAGED = "the file was damaged; remove it"

RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
KILLED = "killed"
CAUGHT = "caught"
CANCELLED = "cancelled"

TaskStatus = Literal["running", "succeeded", "caught", "failed", "killed"]
FailureKind = Literal["error", "lost", "crashed", "timeout"]
RunStatus = Literal["succeeded", "failed", "cancelled"]
TASK_FINAL_STATUSES = frozenset({SUCCEEDED, CAUGHT, FAILED, KILLED})
RUN_END_STATUSES = frozenset({SUCCEEDED, FAILED, CANCELLED})


@dataclass(frozen=True)
class ArtifactRef:
    """An artifact as a record names it: its blob, serialized size in bytes, and type."""

    digest: str
    size: int
    type: str
    #: A tiny value's pickle stream (base64) when the record holds it instead of a blob
    #: (``digest`` names it all the same; see :mod:`flowkit.store.values`); None otherwise,
    #: as in every record from before flowkit stored values inline.
    inline: str | None = None


@dataclass(frozen=True)
class CardRef:
    """A task's ``@card`` as its final record names it: the card's type, its ``id`` (None
    when the decorator gave none) and the blob holding its self-contained HTML."""

    type: str
    id: str | None
    digest: str


@dataclass(frozen=True)
class ExceptionInfo:
    """What a failed attempt raised, as text: reading it never needs the flow's code."""

    type: str
    message: str
    traceback: str = ""
    #: The exception's class as ``module.Name`` (``builtins.ValueError``), as Metaflow names
    #: it (flowkit's own words for a failure too: ``flowkit.task.outcome.TaskLost``); empty
    #: in older records.
    qualified_type: str = ""

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"


@dataclass(frozen=True)
class RunRecord:
    """Written once when a run starts."""

    flow: str
    run_id: str
    created_at: float
    parameters: dict[str, Any] = field(default_factory=dict)
    user: str | None = None
    tags: tuple[str, ...] = ()
    code_digest: str | None = None
    origin_run_id: str | None = None
    #: The flow's steps in graph order, when the runtime knows them (for display).
    steps: tuple[str, ...] = ()
    #: Each step's normalized source, so a later run can say what changed and where.
    step_code: dict[str, str] = field(default_factory=dict)
    #: Each step's next steps, so a run's DAG can be drawn with the steps it never reached.
    graph: dict[str, list[str]] = field(default_factory=dict)
    #: The flow file the run was started from (absolute path), so that anyone can be told
    #: how to resume it; None for a flow from a notebook or ``exec``.
    source: str | None = None
    #: Each parameter's stored value (attribute -> blob digest). Until the start task's final
    #: record exists nothing else names them, and gc must keep them all the same.
    parameter_digests: dict[str, str] = field(default_factory=dict)
    #: Tags flowkit gives the run when it starts (``user:NAME``, ``runtime:dev``,
    #: ``python_version:X.Y.Z``, ``date:YYYY-MM-DD``, ``flowkit_version:V``, and what the
    #: runtime adds, e.g. ``project:NAME``): they never change, and no one removes them.
    #: Empty in records from before flowkit wrote them. ``tags`` are the user's at start.
    system_tags: tuple[str, ...] = ()
    schema: int = SCHEMA


@dataclass(frozen=True)
class TagChangeRecord:
    """One change of a run's user tags, written once under its own time-sorted id: a run's
    user tags are its start record's ``tags`` with every change applied in id order."""

    flow: str
    run_id: str
    change_id: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    at: float = 0.0
    user: str | None = None
    schema: int = SCHEMA


@dataclass(frozen=True)
class RunEndRecord:
    """Written once when a run ends, after every task record and step index."""

    flow: str
    run_id: str
    status: RunStatus
    finished_at: float
    message: str | None = None
    #: What passed its SLA while the run went, one line each (see flowkit.runtime.sla).
    sla_missed: tuple[str, ...] = ()
    schema: int = SCHEMA


@dataclass(frozen=True)
class TaskRecord:
    """One attempt of one task: its start record (``status="running"``) or its final record."""

    flow: str
    run_id: str
    step: str
    task_id: str
    attempt: int
    status: TaskStatus
    started_at: float
    finished_at: float | None = None
    exit_code: int | None = None
    exception: ExceptionInfo | None = None
    cache_key: str | None = None
    artifacts: dict[str, ArtifactRef] = field(default_factory=dict)
    #: Foreach indices, outermost first; empty outside a foreach.
    foreach: tuple[int, ...] = ()
    #: Pathspecs of the tasks whose artifacts this task received.
    parents: tuple[str, ...] = ()
    #: Where a cloned task came from; None for a task that ran in this run.
    origin_pathspec: str | None = None
    host: str | None = None
    pid: int | None = None
    #: The steps this task's ``self.next`` went to (its switch case, for a switch).
    next_steps: tuple[str, ...] = ()
    #: How many tasks a foreach step fanned out into; None for other steps.
    foreach_count: int | None = None
    #: A foreach step's items as its task froze them: [blob digest, item count] per chunk,
    #: in order; each chunk's blob holds a list of that many items. Empty for other steps.
    foreach_items: tuple[tuple[str, int], ...] = ()
    #: The open splits around the task, outermost first: [split step, split task, index,
    #: count, kind] each, and for a foreach its item's chunk digest and slot there (see
    #: :class:`flowkit.plan.tasks.Branch`).
    path: tuple[tuple[Any, ...], ...] = ()
    #: Why a failed attempt failed (see the module docstring); None otherwise.
    failure: FailureKind | None = None
    #: The task's rendered ``@card`` reports, in decorator order (see :mod:`flowkit.task.cards`).
    cards: tuple[CardRef, ...] = ()
    schema: int = SCHEMA

    @property
    def pathspec(self) -> str:
        return f"{self.flow}/{self.run_id}/{self.step}/{self.task_id}"

    @property
    def final(self) -> bool:
        return self.status != RUNNING

    @property
    def successful(self) -> bool:
        return self.status in (SUCCEEDED, CAUGHT)

    @property
    def caught(self) -> bool:
        """The step failed and ``@catch`` let the flow go on (``exception`` says with what)."""
        return self.status == CAUGHT

    def finished(self, status: TaskStatus, **changes: Any) -> TaskRecord:
        """The final record for this start record."""
        return replace(self, status=status, **changes)


Record = TypeVar("Record", RunRecord, RunEndRecord, TaskRecord, TagChangeRecord)
#: Fields JSON gives back as lists that the records hold as tuples.
_TUPLES = (
    *("tags", "steps", "foreach", "parents", "next_steps", "system_tags", "added", "removed"),
    "sla_missed",
)


def dumps(record: RunRecord | RunEndRecord | TaskRecord | TagChangeRecord) -> bytes:
    """The record as compact JSON: fields at their defaults are left out (readers default
    them, as they do for records older than a field), all but ``schema``."""
    return json.dumps(compact(record), separators=(",", ":"), default=nested).encode()


def compact(record: Any, leave_out: frozenset[str] = frozenset()) -> dict[str, Any]:
    """``record``'s fields (a record's or a nested one's, e.g. :class:`ArtifactRef`) that
    differ from their defaults, and its ``schema``, less ``leave_out``: what
    :func:`from_dict` needs to build it again. Nested records stay objects: :func:`nested`
    as ``json.dumps``'s ``default``.
    (``dataclasses.asdict`` deep-copies every value first: the larger part of a task's
    record write.)"""
    values = record.__dict__
    kind: type = type(record)
    out = {}
    for name, default in _defaults(kind):
        value = values[name]
        changed = default is _REQUIRED or not (value is default or value == default)
        if changed and name not in leave_out:
            out[name] = value
    return out


def nested(value: Any) -> dict[str, Any]:
    """``json.dumps``'s ``default`` for records: a nested record compacted; anything else
    not JSON (a run parameter's value, say) a :class:`TypeError`, as ``json`` raises."""
    if not is_dataclass(value) or isinstance(value, type):
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
    return compact(value)


_REQUIRED = object()


@cache
def _defaults(kind: type) -> tuple[tuple[str, Any], ...]:
    found = []
    for f in fields(kind):
        if f.name == "schema":
            # always written, so that a reader of a later schema tells this one's records
            # from its own (a record without it is from before the field: schema 1)
            found.append((f.name, _REQUIRED))
        elif f.default is not MISSING:
            found.append((f.name, f.default))
        elif f.default_factory is not MISSING:
            found.append((f.name, f.default_factory()))
        else:
            found.append((f.name, _REQUIRED))
    return tuple(found)


def from_dict(
    kind: type[Record], data: Any, where: str = "<record>", hint: str = DAMAGED
) -> Record:
    """Build a record from decoded JSON, ignoring fields a newer flowkit may have added."""
    if not isinstance(data, dict):
        raise StoreError(f"{where} is not a flowkit record", hint)
    values = _known(kind, data)
    for name in _TUPLES:
        if isinstance(values.get(name), list):
            values[name] = tuple(values[name])
    try:
        if kind is TaskRecord:
            for name in _NAMES:
                if isinstance(values.get(name), str):
                    values[name] = intern(values[name])
            if isinstance(values.get("run_id"), str):
                values["run_id"] = _shared(values["run_id"])
            values["next_steps"] = tuple(map(_interned, values.get("next_steps", ())))
            values["parents"] = tuple(map(_shared, values.get("parents", ())))
            values["artifacts"] = {
                intern(name): _artifact_ref(ref)
                for name, ref in values.get("artifacts", {}).items()
            }
            values["path"] = tuple(tuple(map(_shared, b)) for b in values.get("path", ()))
            values["foreach_items"] = tuple(
                (str(d), int(n)) for d, n in values.get("foreach_items", ())
            )
            if values.get("exception") is not None:
                values["exception"] = ExceptionInfo(**_known(ExceptionInfo, values["exception"]))
            values["cards"] = tuple(
                CardRef(**_known(CardRef, card)) for card in values.get("cards", ())
            )
        return kind(**values)
    except (TypeError, AttributeError, ValueError) as exc:
        raise StoreError(f"{where} is not a valid {kind.__name__}: {exc}", hint) from None


#: A task record's strings that repeat across a run's records, and across runs: a flow's
#: own vocabulary (and the hosts it runs on), a few hundred strings at most, interned as
#: they are read, as are next steps and artifact names and types. The scheduler holds every
#: final record of a 10,000-task fan-out, which repeat the same flow, step, split and
#: inherited artifacts (2.9 kB a record with copies, 1.5 kB without; see :func:`_shared`).
_NAMES = ("flow", "step", "status", "host")

#: How many strings :func:`_shared` keeps before it starts again.
SHARED_MAX = 2048
_SHARED: dict[str, str] = {}


def _interned(value: Any) -> Any:
    return intern(value) if type(value) is str else value


def _shared(value: Any) -> Any:
    """One copy of a string that repeats across one run's records but not beyond (run ids,
    digests, parents, a split's task): the last :data:`SHARED_MAX` kept in a table that is
    emptied when full, not interned: CPython 3.12.0-3.12.4 never frees an interned string
    (cpython#113993), so a long-lived reader (``flowkit ui``, a notebook) would keep every
    one it ever read. A fan-out's records are read together, so they still share them."""
    if type(value) is not str:
        return value
    found = _SHARED.get(value)
    if found is None:
        if len(_SHARED) >= SHARED_MAX:
            _SHARED.clear()
        found = _SHARED[value] = value
    return found


def _artifact_ref(data: Any) -> ArtifactRef:
    ref = _known(ArtifactRef, data)
    if "digest" in ref:  # a missing one is the damage ArtifactRef(**ref) reports
        ref["digest"] = _shared(ref["digest"])
    if "type" in ref:
        ref["type"] = _interned(ref["type"])
    return _shared_ref(**ref)


@lru_cache(maxsize=256)
def _shared_ref(**ref: Any) -> ArtifactRef:
    """One object for the same artifact named by many records: what a fan-out's tasks
    inherit (the recently read ones are kept, so a long-lived reader holds only a few)."""
    return ArtifactRef(**ref)


def _known(kind: type, data: Any) -> dict[str, Any]:
    """The items of ``data`` (a dict) that name fields of ``kind``: a newer flowkit's own
    fields are left out, so its records stay readable."""
    if not isinstance(data, dict):
        raise TypeError(f"its {kind.__name__} is not a JSON object but a {type(data).__name__}")
    names = _field_names(kind)
    if names.issuperset(data):  # the usual case: a record of this flowkit
        return dict(data)
    return {k: v for k, v in data.items() if k in names}


@cache
def _field_names(kind: type) -> frozenset[str]:
    # dataclasses.fields() is slow enough to dominate reading a 10,000-task step index
    return frozenset(f.name for f in fields(kind))


#: zlib level of the indexes' JSON (see :func:`packed`): nearly level 6's size, at a third
#: of its time.
PACK_LEVEL = 1


def packed(text: bytes) -> bytes:
    """JSON ``text`` zlib-compressed, as :func:`decode` reads it back: for the indexes,
    whose entries repeat the same digests and names."""
    return zlib.compress(text, PACK_LEVEL)


def decode(data: bytes, where: str, hint: str = DAMAGED) -> Any:
    """JSON from the store (or :func:`packed` JSON), or a :class:`StoreError` that names the
    damaged file."""
    if data[:1] == b"x":  # zlib's first byte; JSON text never starts with it
        try:
            data = zlib.decompress(data)
        except zlib.error as exc:
            raise StoreError(f"{where} is neither JSON nor compressed JSON: {exc}", hint) from None
    try:
        return json.loads(data)
    except ValueError as exc:
        raise StoreError(f"{where} is not valid JSON: {exc}", hint) from None


def loads(kind: type[Record], data: bytes, where: str = "<record>") -> Record:
    """Parse a record written by :func:`dumps`."""
    return from_dict(kind, decode(data, where), where)


# Worked out as the module loads, not on first use: a warm worker's forked tasks inherit
# them instead of each working them out again (dataclasses.fields walks every field: ~0.2 ms
# of a tiny task's CPU for its two records).
for _kind in (
    ArtifactRef,
    CardRef,
    ExceptionInfo,
    RunRecord,
    RunEndRecord,
    TagChangeRecord,
    TaskRecord,
):
    _defaults(_kind)
    _field_names(_kind)
