"""Deployments, the scheduler's claims and state, and published events, over the backend.

- A flow's **deployment** is a list of write-once versions (``deployments/<Flow>/versions/
  <id>.json``, ids time-sorted): the latest one wins, and ``undeploy`` writes a version of
  its own that says the flow is gone (a tombstone), so every change stays readable.
- A **claim** is written once with ``put_new`` before the scheduler starts a run for a
  schedule slot, an upstream run or an event: of two schedulers on one store only the one
  whose ``put_new`` created the claim starts the run, so none is fired twice. It names its
  claimant (the scheduler instance) and when, and holds what the run is started with, so
  that a launch a crash cut short can be made again (see :mod:`flowkit.deploy.recover`).
- A **launched** record (``deployments/<Flow>/launched/<what>.json``, written once) closes
  a claim: the run it started (its id; the run's process writes it once its run exists),
  or that it was skipped, or given up. A claim without one is a launch still going, or one
  a crash cut short.
- A **takeover** (``deployments/<Flow>/takeovers/<what>.<n>.json``, written once) is the
  n-th attempt to launch a claim whose earlier attempt left neither a launched record nor
  a run: of several schedulers only the one whose ``put_new`` made it launches again.
- The **state** of a flow (the last slot considered, and how far its upstream runs and
  events were read) is one object the scheduler overwrites; it only ever moves forward
  (a scheduler merges what it reads with what it knows), and the claims make a state that
  lags (two schedulers writing at once, a crash between a claim and the state) harmless: a
  slot considered again finds its claim and is not fired a second time.
- An **event** is a write-once record under its name (``events/<name>/<id>.json``), its id
  time-sorted, so a reader takes the events after the last one it saw with one listing.

``gc`` keeps the code package of each flow's current deployment, drops the claims, events
and replaced deployment versions that can no longer matter (:func:`collect_scheduler_records`, and :data:`RETENTION`), and
``fsck`` checks these records (see :func:`deployed_code` and :func:`check_deployments`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from flowkit.fastdata import asdict, dataclass, field, fields
from flowkit.store import layout
from flowkit.store.backend import Backend, ObjectInfo
from flowkit.store.errors import KeyNotFoundError, StoreError
from flowkit.store.ids import IdGenerator
from flowkit.store.keys import check_key, check_name, is_name

#: How long gc keeps a claim (with its launched and takeover records) or an event that can
#: no longer matter: 30 days, so that what a person reads about last month's runs is there.
RETENTION = 30 * 24 * 3600.0

_DAMAGED = "the record is damaged: deploy the flow again (flowkit deploy FLOW_FILE)"


@dataclass(frozen=True)
class EventSpec:
    """``@trigger``'s event: its name and which flow parameter takes which payload field."""

    name: str
    parameters: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Deployment:
    """One version of a flow's deployment: what the scheduler starts, and when."""

    flow: str
    version: str
    created_at: float
    #: When the flow was last deployed after being undeployed (or first deployed): slots
    #: and upstream runs before it never fire.
    active_since: float
    user: str | None = None
    #: The stored code package (a task spec's ``CodeRef`` as JSON) and its blob's digest.
    code: dict[str, Any] = field(default_factory=dict)
    code_digest: str | None = None
    #: The flow file it was deployed from (for messages) and the parameters given then.
    source: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    #: ``@schedule``: cron (5 fields, normalized), timezone, catchup; None: no schedule.
    cron: str | None = None
    timezone: str | None = None
    catchup: bool = False
    schedule_written: str | None = None
    on_finish: tuple[str, ...] = ()
    events: tuple[EventSpec, ...] = ()
    overlap: str = "skip"
    #: An undeploy: the flow is not deployed from this version on.
    deleted: bool = False
    #: When the schedule (cron, timezone, catchup) took its present form: slots before it
    #: never fire (a redeploy with another cron starts afresh). None: ``active_since``.
    schedule_since: float | None = None

    @property
    def slots_since(self) -> float:
        """The time the schedule's slots are counted from."""
        since = self.active_since if self.schedule_since is None else self.schedule_since
        return max(since, self.active_since)

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()

    @staticmethod
    def from_bytes(data: bytes, where: str) -> Deployment:
        try:
            values = json.loads(data)
            values["on_finish"] = tuple(values.get("on_finish", ()))
            values["events"] = tuple(
                EventSpec(e["name"], tuple(tuple(p) for p in e.get("parameters", ())))
                for e in values.get("events", ())
            )
            known = {f.name for f in fields(Deployment)}
            return Deployment(**{k: v for k, v in values.items() if k in known})
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"{where} is not a flowkit deployment: {exc}", _DAMAGED) from None


@dataclass(frozen=True)
class PublishedEvent:
    """A published event: its name, id (time-sorted), payload and when it was published."""

    name: str
    id: str
    payload: dict[str, Any]
    published_at: float
    user: str | None = None

    @staticmethod
    def from_bytes(data: bytes, where: str) -> PublishedEvent:
        try:
            values = json.loads(data)
            return PublishedEvent(
                str(values["name"]),
                str(values["id"]),
                dict(values["payload"]),
                float(values["published_at"]),
                values.get("user"),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"{where} is not a flowkit event: {exc}", _DAMAGED) from None


@dataclass
class SchedulerState:
    """How far the scheduler got with one flow. ``slot``: the latest schedule slot considered
    (seconds since the epoch); ``runs``: per upstream flow, the newest run id such that every
    run up to it is settled (fired, failed or too old); ``events``: per event name, the last
    event id read."""

    flow: str
    slot: float | None = None
    runs: dict[str, str] = field(default_factory=dict)
    events: dict[str, str] = field(default_factory=dict)

    def merge(self, other: SchedulerState) -> None:
        """Take whatever ``other`` got further with: cursors only move forward."""
        if other.slot is not None and (self.slot is None or other.slot > self.slot):
            self.slot = other.slot
        for mine, theirs in ((self.runs, other.runs), (self.events, other.events)):
            for key, value in theirs.items():
                if value > mine.get(key, ""):
                    mine[key] = value


#: One for the process, so that events (and versions) published one after the other in it
#: sort in that order even within a millisecond, whichever ``Deployments`` made them.
_IDS = IdGenerator()


class Deployments:
    """Reads and writes deployments, claims, scheduler state and events on one backend."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._ids = _IDS

    @property
    def url(self) -> str:
        return self._backend.url

    def new_version(self) -> str:
        return self._ids.new()

    @staticmethod
    def new_instance() -> str:
        """An id for one scheduler process, which its claims name."""
        return _IDS.new()

    # deployments
    def put(self, deployment: Deployment) -> Deployment:
        key = layout.deployment_version_key(deployment.flow, deployment.version)
        if not self._backend.put_new(key, deployment.to_bytes()):
            raise StoreError(
                f"deployment version {key} exists already in {self.url}", "deploy again"
            )
        return deployment

    def versions(self, flow: str) -> list[str]:
        prefix = f"{layout.deployment_prefix(flow)}/versions"
        return sorted(n[: -len(".json")] for n in self._backend.list(prefix) if n.endswith(".json"))

    def latest(self, flow: str, *, with_deleted: bool = False) -> Deployment | None:
        """The flow's current deployment; None if it was never deployed or is undeployed
        (with ``with_deleted``: the undeploy's own version then)."""
        versions = self.versions(flow)
        if not versions:
            return None
        found = self.version(flow, versions[-1])
        return found if with_deleted or not found.deleted else None

    def version(self, flow: str, version: str) -> Deployment:
        """One deployment version of ``flow``; KeyNotFoundError if there is none."""
        key = layout.deployment_version_key(flow, version)
        return Deployment.from_bytes(self._backend.get(key), f"{self.url}/{key}")

    def flows(self) -> list[str]:
        """Every flow that has a deployment version (deployed now or not)."""
        return [n for n in self._backend.list(layout.DEPLOYMENTS) if is_name(n)]

    def current(self) -> list[Deployment]:
        """Every flow's current deployment, by flow name; a damaged one is left out (see
        :meth:`each_current`, which says so)."""
        return [d for _, d in self.each_current() if isinstance(d, Deployment)]

    def each_current(self) -> Iterator[tuple[str, Deployment | StoreError]]:
        """``(flow, its current deployment)`` for each deployed flow, by flow name; the error
        in its place when its latest version does not read back, so that one damaged record
        stops nothing but its own flow."""
        for flow in self.flows():
            try:
                found = self.latest(flow)
            except StoreError as exc:
                yield flow, exc
                continue
            if found is not None:
                yield flow, found

    # claims
    def claim(self, flow: str, what: str, details: dict[str, Any]) -> bool:
        """Claim ``what`` (``slot.<t>``, ``run.<Flow>.<id>``, ``event.<name>.<id>``) for
        ``flow``, once: True if this call made the claim, False if someone had."""
        key = check_key(layout.deployment_claim_key(flow, what))
        body = {"flow": flow, "claim": what, "at": time.time(), **details}
        return self._backend.put_new(key, json.dumps(body, sort_keys=True).encode())

    def claimed(self, flow: str, what: str) -> dict[str, Any] | None:
        return self._read(layout.deployment_claim_key(flow, what))

    def claims(self, flow: str) -> list[str]:
        """The flow's claims (``what`` of each)."""
        return _names(self._backend, f"{layout.deployment_prefix(flow)}/claims")

    def launch_done(self, flow: str, what: str, details: dict[str, Any]) -> bool:
        """Close the claim ``what``, once: ``details`` say the run it started (``run_id``),
        or that it was skipped or given up. True if this call wrote it."""
        key = check_key(_launched_key(flow, what))
        body = {"flow": flow, "claim": what, "at": time.time(), **details}
        return self._backend.put_new(key, json.dumps(body, sort_keys=True).encode())

    def launched(self, flow: str, what: str) -> dict[str, Any] | None:
        return self._read(_launched_key(flow, what))

    def open_claims(self, flow: str) -> list[str]:
        """The flow's claims no launched record closes (two listings)."""
        done = set(_names(self._backend, f"{layout.deployment_prefix(flow)}/launched"))
        return [what for what in self.claims(flow) if what not in done]

    def take_over(self, flow: str, what: str, attempt: int, details: dict[str, Any]) -> bool:
        """Make attempt ``attempt`` (1, 2, ...) to launch the claim ``what``, once: True if
        this call made it."""
        key = check_key(_takeover_key(flow, what, attempt))
        body = {"flow": flow, "claim": what, "attempt": attempt, "at": time.time(), **details}
        return self._backend.put_new(key, json.dumps(body, sort_keys=True).encode())

    def attempts(self, flow: str, what: str) -> list[dict[str, Any]]:
        """The claim ``what`` and its takeovers, in order (the claim first; empty if none)."""
        claim = self.claimed(flow, what)
        if claim is None:
            return []
        found = [claim]
        while (later := self._read(_takeover_key(flow, what, len(found)))) is not None:
            found.append(later)
        return found

    def _read(self, key: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self._backend.get(check_key(key)))
        except KeyNotFoundError:
            return None
        except ValueError as exc:
            raise StoreError(f"{self.url}/{key} is not valid JSON: {exc}", _DAMAGED) from None
        return data if isinstance(data, dict) else None

    # state
    def state(self, flow: str) -> SchedulerState:
        key = layout.deployment_state_key(flow)
        try:
            values = json.loads(self._backend.get(key))
        except KeyNotFoundError:
            return SchedulerState(flow)
        except ValueError:  # a torn write cannot happen (put is atomic); a hand edit can
            return SchedulerState(flow)
        return SchedulerState(
            flow,
            values.get("slot"),
            dict(values.get("runs", {})),
            dict(values.get("events", {})),
        )

    def save_state(self, state: SchedulerState) -> SchedulerState:
        """Write ``state``, merged with what is stored (another scheduler's progress)."""
        merged = self.state(state.flow)
        merged.merge(state)
        data = json.dumps(asdict(merged), sort_keys=True).encode()
        self._backend.put(layout.deployment_state_key(state.flow), [data])
        return merged

    # events
    def publish(
        self, name: str, payload: dict[str, Any], user: str | None = None
    ) -> PublishedEvent:
        check_name("event", name)
        event = PublishedEvent(name, self._ids.new(), dict(payload), time.time(), user)
        data = json.dumps(asdict(event), sort_keys=True, separators=(",", ":")).encode()
        if not self._backend.put_new(layout.event_key(name, event.id), data):
            raise StoreError(
                f"event {name}/{event.id} exists already in {self.url}", "publish again"
            )
        return event

    def events_after(self, name: str, after: str | None) -> Iterator[PublishedEvent]:
        """The events named ``name`` published after the one with id ``after``, oldest first."""
        names = self._backend.list(layout.event_prefix(name))
        for event_id in sorted(n[: -len(".json")] for n in names if n.endswith(".json")):
            if after is not None and event_id <= after:
                continue
            key = layout.event_key(name, event_id)
            try:
                yield PublishedEvent.from_bytes(self._backend.get(key), f"{self.url}/{key}")
            except KeyNotFoundError:
                continue

    def get_event(self, name: str, event_id: str) -> PublishedEvent | None:
        key = layout.event_key(name, event_id)
        try:
            return PublishedEvent.from_bytes(self._backend.get(key), f"{self.url}/{key}")
        except KeyNotFoundError:
            return None


def _launched_key(flow: str, what: str) -> str:
    return f"{layout.deployment_prefix(flow)}/launched/{what}.json"


def _takeover_key(flow: str, what: str, attempt: int) -> str:
    return f"{layout.deployment_prefix(flow)}/takeovers/{what}.{attempt}.json"


def _names(backend: Backend, prefix: str) -> list[str]:
    return [n[: -len(".json")] for n in backend.list(prefix) if n.endswith(".json")]


def deployed_code(backend: Backend) -> set[str]:
    """The code package digests of every flow's current deployment, which gc keeps: the
    scheduler starts runs from them, whatever runs of the flow gc deletes. One scan (gc
    lists nothing)."""
    latest: dict[str, str] = {}
    for info in backend.scan(layout.DEPLOYMENTS):
        parts = info.key.split("/")
        if len(parts) == 4 and parts[2] == "versions" and info.key.endswith(".json"):
            latest[parts[1]] = max(latest.get(parts[1], ""), info.key)
    found = set()
    for key in latest.values():
        try:
            deployment = Deployment.from_bytes(backend.get(key), f"{backend.url}/{key}")
        except KeyNotFoundError:
            continue
        if not deployment.deleted and deployment.code_digest:
            found.add(deployment.code_digest)
    return found


def check_deployments(backend: Backend) -> Iterator[tuple[str, str | None, str | None]]:
    """For ``fsck``: ``(key, problem, code digest)`` for each deployment version (its
    problem None if it reads back), each claim, state and event that does not parse."""
    for info in backend.scan(layout.DEPLOYMENTS):
        key, where = info.key, f"{backend.url}/{info.key}"
        parts = key.split("/")
        try:
            if len(parts) == 4 and parts[2] == "versions":
                deployment = Deployment.from_bytes(backend.get(key), where)
                if deployment.flow != parts[1]:
                    yield key, f"the deployment is of flow {deployment.flow}", None
                yield key, None, deployment.code_digest
            elif (len(parts) == 4 and parts[2] in ("claims", "launched", "takeovers")) or parts[
                2:
            ] == ["state.json"]:
                json.loads(backend.get(key))
                yield key, None, None
            else:
                yield key, "an object flowkit does not know among deployments", None
        except KeyNotFoundError:
            continue
        except (StoreError, ValueError) as exc:
            yield key, getattr(exc, "message", None) or f"not valid JSON: {exc}", None
    for info in backend.scan(layout.EVENTS):
        try:
            event = PublishedEvent.from_bytes(backend.get(info.key), f"{backend.url}/{info.key}")
            if info.key != layout.event_key(event.name, event.id):
                yield info.key, f"the record is of event {event.name}/{event.id}", None
            yield info.key, None, None
        except KeyNotFoundError:
            continue
        except StoreError as exc:
            yield info.key, exc.message, None


def collect_scheduler_records(
    backend: Backend, *, now: float, retention: float = RETENTION, dry_run: bool = False
) -> int:
    """For ``gc``: delete the claims (with their launched and takeover records), events and
    deployment versions that can no longer matter; how many records went (would go, in a
    dry run). A deployment version goes when it is older than ``retention`` and a newer
    version of its flow replaced it.

    A claim goes when it is older than ``retention``, its flow's cursor is past it (the
    scheduler never looks at it again), and it is not the newest of its kind (schedule
    slots, each upstream flow's runs, each event name's events) for its flow. An event goes
    when it is older than ``retention`` and every deployed flow waiting for it has read
    past it (or was deployed after it was published). A claim goes before its launched
    record, so a gc stopped half-way never leaves a claim that looks cut short."""
    from flowkit.store.ids import id_time

    store = Deployments(backend)
    old = now - retention
    gone: list[str] = []
    by_flow: dict[str, dict[str, ObjectInfo]] = {}  # one scan: gc lists nothing else
    for info in backend.scan(layout.DEPLOYMENTS):
        by_flow.setdefault(info.key.split("/")[1], {})[info.key] = info
    waiting: dict[str, list[tuple[str, float]]] = {}  # event -> (cursor, active since)
    for flow, infos in by_flow.items():
        prefix = layout.deployment_prefix(flow)
        state = store.state(flow)
        versions = sorted(k for k in infos if k.startswith(f"{prefix}/versions/"))
        # versions the newest replaced, older than the retention (each tick lists them)
        gone += [k for k in versions[:-1] if infos[k].modified < old]
        current = None
        if versions:
            try:
                current = Deployment.from_bytes(backend.get(versions[-1]), versions[-1])
            except (KeyNotFoundError, StoreError):
                current = None
        if current is not None and not current.deleted:
            for spec in current.events:
                cursor = state.events.get(spec.name, "")
                waiting.setdefault(spec.name, []).append((cursor, current.active_since))
        claims: dict[str, list[str]] = {}  # kind -> whats
        for key in infos:
            parts = key.split("/")
            if len(parts) == 4 and parts[2] == "claims" and key.endswith(".json"):
                what = parts[3][: -len(".json")]
                claims.setdefault(_claim_kind(what), []).append(what)
        dropped: set[str] = set()
        for whats in claims.values():
            newest = max(whats, key=_claim_order)
            for what in whats:
                key = f"{prefix}/claims/{what}.json"
                if what != newest and infos[key].modified < old and _behind(what, state):
                    gone.append(key)
                    dropped.add(what)
        for key, info in infos.items():  # after the claims: launched and takeovers
            parts = key.split("/")
            if len(parts) != 4 or parts[2] not in ("launched", "takeovers"):
                continue
            what = parts[3][: -len(".json")]
            if parts[2] == "takeovers":
                what = what.rpartition(".")[0]
            claimed = f"{prefix}/claims/{what}.json" in infos
            if what in dropped or (not claimed and info.modified < old):
                gone.append(key)
    for info in backend.scan(layout.EVENTS):
        parts = info.key.split("/")
        if len(parts) != 3 or not info.key.endswith(".json") or info.modified >= old:
            continue
        event_id = parts[2][: -len(".json")]
        made = id_time(event_id) or 0.0
        if all(event_id <= cursor or made < since for cursor, since in waiting.get(parts[1], [])):
            gone.append(info.key)
    if not dry_run:
        for key in gone:
            try:
                backend.delete(key)
            except KeyNotFoundError:
                continue
    return len(gone)


def _claim_kind(what: str) -> str:
    """``slot``, ``run.<Flow>`` or ``event.<name>``: the claims one cursor orders."""
    return "slot" if what.startswith("slot.") else what.rpartition(".")[0]


def _claim_order(what: str) -> tuple[float, str]:
    head, _, tail = what.rpartition(".")
    if head == "slot":
        try:
            return float(tail), ""
        except ValueError:
            return 0.0, tail
    return 0.0, tail


def _behind(what: str, state: SchedulerState) -> bool:
    """Whether the flow's cursor is past the claim ``what``: the scheduler never yields it
    again (a run id that is not time-sorted is never behind: it is looked at every tick)."""
    from flowkit.store.ids import id_time

    kind, _, tail = what.rpartition(".")
    if kind == "slot":
        try:
            return state.slot is not None and float(tail) <= state.slot
        except ValueError:
            return False
    if kind.startswith("run."):
        cursor = state.runs.get(kind[len("run.") :], "")
        return id_time(tail) is not None and tail <= cursor
    if kind.startswith("event."):
        return tail <= state.events.get(kind[len("event.") :], "")
    return False
