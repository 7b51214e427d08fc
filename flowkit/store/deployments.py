"""Deployments, the scheduler's claims and state, and published events, over the backend.

- A flow's **deployment** is a list of write-once versions (``deployments/<Flow>/versions/
  <id>.json``, ids time-sorted): the latest one wins, and ``undeploy`` writes a version of
  its own that says the flow is gone (a tombstone), so every change stays readable.
- A **claim** is written once with ``put_new`` before the scheduler starts a run for a
  schedule slot, an upstream run or an event: of two schedulers on one store only the one
  whose ``put_new`` created the claim starts the run, so none is fired twice.
- The **state** of a flow (the last slot considered, and how far its upstream runs and
  events were read) is one object the scheduler overwrites; it only ever moves forward
  (a scheduler merges what it reads with what it knows), and the claims make a state that
  lags (two schedulers writing at once, a crash between a claim and the state) harmless: a
  slot considered again finds its claim and is not fired a second time.
- An **event** is a write-once record under its name (``events/<name>/<id>.json``), its id
  time-sorted, so a reader takes the events after the last one it saw with one listing.

``gc`` keeps the code package of each flow's current deployment, and ``fsck`` checks these
records (see :func:`deployed_code` and :func:`check_deployments`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from flowkit.store import layout
from flowkit.store.backend import Backend
from flowkit.store.errors import KeyNotFoundError, StoreError
from flowkit.store.ids import IdGenerator
from flowkit.store.keys import check_key, check_name, is_name

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
        key = layout.deployment_version_key(flow, versions[-1])
        found = Deployment.from_bytes(self._backend.get(key), f"{self.url}/{key}")
        return found if with_deleted or not found.deleted else None

    def flows(self) -> list[str]:
        """Every flow that has a deployment version (deployed now or not)."""
        return [n for n in self._backend.list(layout.DEPLOYMENTS) if is_name(n)]

    def current(self) -> list[Deployment]:
        """Every flow's current deployment, by flow name."""
        found = (self.latest(flow) for flow in self.flows())
        return [d for d in found if d is not None]

    # claims
    def claim(self, flow: str, what: str, details: dict[str, Any]) -> bool:
        """Claim ``what`` (``slot.<t>``, ``run.<Flow>.<id>``, ``event.<name>.<id>``) for
        ``flow``, once: True if this call made the claim, False if someone had."""
        key = check_key(layout.deployment_claim_key(flow, what))
        body = {"flow": flow, "claim": what, "at": time.time(), **details}
        return self._backend.put_new(key, json.dumps(body, sort_keys=True).encode())

    def claimed(self, flow: str, what: str) -> dict[str, Any] | None:
        key = check_key(layout.deployment_claim_key(flow, what))
        try:
            data: dict[str, Any] = json.loads(self._backend.get(key))
        except KeyNotFoundError:
            return None
        return data

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


def deployed_code(backend: Backend) -> set[str]:
    """The code package digests of every flow's current deployment, which gc keeps: the
    scheduler starts runs from them, whatever runs of the flow gc deletes."""
    store = Deployments(backend)
    return {d.code_digest for d in store.current() if d.code_digest}


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
            elif (len(parts) == 4 and parts[2] == "claims") or parts[2:] == ["state.json"]:
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
