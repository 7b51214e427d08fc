"""A run's lease: how a reader anywhere tells a live scheduler from a dead one.

While a run goes, its scheduler overwrites the run's lease (``leases/<Flow>/<run_id>.json``,
see :mod:`flowkit.store.layout`) every :func:`heartbeat_interval` seconds, with one atomic
``put``: when it wrote it, when it expires (``LEASE_BEATS`` beats later) and where the
scheduler runs. It is the one object in the store that changes, so it lives apart from the
write-once records under ``runs/``.

A reader never looks for a process: a run that has no end record and whose lease expired
more than :func:`clock_skew` seconds ago (its own clock against the lease's, which the
scheduler's machine wrote) has *crashed*. A run that has no lease yet counts from its
creation, so a scheduler that died before its first beat reads as crashed too.

Both durations come from the environment at the moment they are needed, never at import:
``FLOWKIT_HEARTBEAT_SECONDS`` (default 5) and ``FLOWKIT_CLOCK_SKEW_SECONDS`` (default 10),
so a dead scheduler is seen within ``3 * 5 + 10 = 25`` seconds.
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Literal

from flowkit.fastdata import asdict, dataclass
from flowkit.store import layout
from flowkit.store.backend import Backend
from flowkit.store.errors import KeyNotFoundError, StoreError
from flowkit.store.records import RunRecord
from flowkit.store.runs import Records, host

#: A lease outlives this many beats, so one slow write never makes a live run look dead.
LEASE_BEATS = 3
HEARTBEAT_ENV = "FLOWKIT_HEARTBEAT_SECONDS"
SKEW_ENV = "FLOWKIT_CLOCK_SKEW_SECONDS"
DEFAULT_HEARTBEAT = 5.0
DEFAULT_SKEW = 10.0

#: A run as a reader sees it: running, crashed (its scheduler died), or how it ended.
RunState = Literal["running", "crashed", "succeeded", "failed", "cancelled"]


@dataclass(frozen=True)
class Lease:
    """What the scheduler of a run last said about itself (times: seconds since the epoch,
    by the scheduler's clock)."""

    flow: str
    run_id: str
    written_at: float
    expires_at: float
    host: str | None = None
    pid: int | None = None

    def expired(self, now: float, skew: float) -> bool:
        """Whether the lease ran out, even allowing for ``skew`` seconds between clocks."""
        return now > self.expires_at + skew

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> Lease:
        hint = "delete it: a live scheduler writes it again within seconds"
        try:
            values = json.loads(data)
            return cls(
                flow=str(values["flow"]),
                run_id=str(values["run_id"]),
                written_at=float(values["written_at"]),
                expires_at=float(values["expires_at"]),
                host=values.get("host"),
                pid=values.get("pid"),
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise StoreError(f"{where} is not a flowkit run lease: {exc}", hint) from None


def heartbeat_interval() -> float:
    """Seconds between a scheduler's beats: ``FLOWKIT_HEARTBEAT_SECONDS``, else 5."""
    return _seconds(HEARTBEAT_ENV, DEFAULT_HEARTBEAT)


def clock_skew() -> float:
    """How far a reader's clock may be from the scheduler's: ``FLOWKIT_CLOCK_SKEW_SECONDS``,
    else 10."""
    return _seconds(SKEW_ENV, DEFAULT_SKEW, allow_zero=True)


def _seconds(name: str, default: float, *, allow_zero: bool = False) -> float:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise StoreError(
            f"{name}={raw!r} is not a number of seconds",
            f"set it to a positive number such as {default:g}, or unset it",
        )
    return value


class Leases:
    """Each run's lease: renewed by its scheduler, read by anyone asking whether it lives."""

    def __init__(self, backend: Backend, records: Records) -> None:
        self._backend = backend
        self._records = records

    def renew(self, flow: str, run_id: str, *, interval: float) -> Lease:
        """Say that the run's scheduler is alive for ``LEASE_BEATS`` beats of ``interval``
        seconds more: one atomic overwrite of the run's lease."""
        now = time.time()
        lease = Lease(flow, run_id, now, now + LEASE_BEATS * interval, host(), os.getpid())
        self._backend.put(layout.lease_key(flow, run_id), [lease.to_bytes()])
        return lease

    def get(self, flow: str, run_id: str) -> Lease | None:
        """The run's lease as its scheduler last wrote it; None before its first beat."""
        key = layout.lease_key(flow, run_id)
        try:
            data = self._backend.get(key)
        except KeyNotFoundError:
            return None
        return Lease.from_bytes(data, f"{self._backend.url}/{key}")

    def scheduler_gone(
        self, flow: str, run_id: str, created_at: float, *, now: float | None = None
    ) -> bool:
        """Whether the run's lease ran out (allowing for clock skew). Before its first beat
        a run counts from ``created_at``, its creation. Says nothing of finished runs: ask
        :meth:`run_state` for a run's state."""
        lease = self.get(flow, run_id)
        if lease is None:
            lease = Lease(flow, run_id, created_at, created_at + LEASE_BEATS * heartbeat_interval())
        return lease.expired(time.time() if now is None else now, clock_skew())

    def run_state(self, run: RunRecord, *, now: float | None = None) -> RunState:
        """How the run ended (its end record), else ``running`` while its scheduler keeps
        its lease and ``crashed`` once the lease ran out: a finished run never reads as
        crashed."""
        end = self._records.get_run_end(run.flow, run.run_id)
        if end is not None:
            return end.status
        if self.scheduler_gone(run.flow, run.run_id, run.created_at, now=now):
            return "crashed"
        return "running"
