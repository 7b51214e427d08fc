"""The one-machine scheduler: every tick, for each deployed flow, claim what is due and start
its runs; ``flowkit scheduler`` calls :meth:`DeploymentScheduler.tick` every ``--poll`` seconds.

Once per store: a run starts only after this scheduler's ``put_new`` created the claim of
its slot, upstream run or event, so two schedulers on one store never both start it, and a
scheduler restarted after a crash finds the claims of what it fired before. Its cursors
(:class:`~flowkit.store.deployments.SchedulerState`) move only past what is handled, so
nothing due while it was down is lost: a missed slot runs (``catchup``), a run that ended and
an event published meanwhile fire when it is back.

Overlap, per flow (``@schedule(overlap=)``, ``@trigger(overlap=)``...), against the flow's
runs still going (those this scheduler started and still waits on, and any in the store whose
lease is alive): ``skip`` (the default) passes over what is due (its claim says it was
skipped), ``queue`` keeps it for a later tick, oldest first, ``allow`` starts it anyway.

Each run goes in a process of its own (:mod:`flowkit.deploy.launch`). Stopping the scheduler
does not stop its runs: they go on to their end, and the next scheduler sees them. With
``wait`` it waits for each run it starts to end before going on (``flowkit scheduler
--once --wait``, for a scheduler started by cron or a CI job).
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from flowkit.deploy.due import Due, due, settled_runs
from flowkit.deploy.launch import LaunchRequest, spawn
from flowkit.errors import FlowkitError
from flowkit.store.deployments import Deployment, Deployments, SchedulerState

if TYPE_CHECKING:
    from flowkit.store import Store

FireOutcome = Literal["started", "skipped", "queued", "missed"]
#: How many of a flow's newest runs are asked whether they still go (overlap).
RECENT_RUNS = 20


@dataclass(frozen=True)
class Fired:
    """What the scheduler did about one thing due: started a run, skipped it (overlap),
    left it queued, or passed over a missed slot; ``exit_code``: the run's, with ``wait``."""

    flow: str
    due: Due
    outcome: FireOutcome
    exit_code: int | None = None


def utc_now() -> datetime:
    return datetime.now(UTC)


class DeploymentScheduler:
    """Starts the deployed flows of ``store`` when due. ``now`` gives the time (a fake
    clock in tests); ``log`` is told each thing done and why."""

    def __init__(
        self,
        store: Store,
        *,
        now: Callable[[], datetime] = utc_now,
        log: Callable[[str], None] = lambda line: None,
        wait: bool = False,
    ) -> None:
        self.store = store
        self.registry = Deployments(store.backend)
        self._now = now
        self._log = log
        self._wait = wait
        self._children: dict[str, list[subprocess.Popen[bytes]]] = {}
        self._who = f"{socket.gethostname()}:{os.getpid()}"
        self._queued: set[str] = set()

    def tick(self) -> list[Fired]:
        """Handle everything due now, flow by flow; what was done."""
        now = self._now()
        done: list[Fired] = []
        for deployment in self.registry.current():
            try:
                done += self._tick_flow(deployment, now)
            except FlowkitError as exc:  # one broken deployment must not stop the others
                self._log(f"{deployment.flow}: error: {exc.render()}")
        return done

    def serve(self, poll: float, stop: threading.Event) -> None:
        """Tick every ``poll`` seconds until ``stop`` is set."""
        while not stop.is_set():
            self.tick()
            stop.wait(poll)

    def _tick_flow(self, deployment: Deployment, now: datetime) -> list[Fired]:
        flow = deployment.flow
        state = self.registry.state(flow)
        moved = SchedulerState(flow)
        busy = self._busy(flow)
        blocked: dict[tuple[str, str], Due] = {}  # queue: (kind, source) -> first waiting
        done: list[Fired] = []
        for item in due(self.store, deployment, state, now):
            source = (item.kind, item.cursor[0] if item.kind != "schedule" else "")
            if source in blocked:
                continue
            if item.missed:
                self._log(f"{flow}: {item.reason}")
                done.append(Fired(flow, item, "missed"))
            elif busy and deployment.overlap == "queue":
                blocked[source] = item
                if item.claim not in self._queued:  # said once, not at every tick it waits
                    self._queued.add(item.claim)
                    self._log(f"{flow}: {item.reason}: queued, a run of {flow} is still going")
                done.append(Fired(flow, item, "queued"))
                continue
            elif busy and deployment.overlap == "skip":
                if self.registry.claim(flow, item.claim, {"skipped": True, "by": self._who}):
                    self._log(f"{flow}: {item.reason}: skipped, a run of {flow} is still going")
                    done.append(Fired(flow, item, "skipped"))
            elif self.registry.claim(flow, item.claim, {"by": self._who, "reason": item.reason}):
                code = self._start(deployment, item)
                done.append(Fired(flow, item, "started", code))
                busy = deployment.overlap != "allow" and (code is None or self._busy(flow))
            _advance(moved, item)
        for upstream in deployment.on_finish:
            waiting = blocked.get(("run", upstream))
            moved.runs[upstream] = settled_runs(
                self.store,
                upstream,
                state.runs.get(upstream, ""),
                before=waiting.cursor[1] if waiting else None,
            )
        self.registry.save_state(moved)
        return done

    def _start(self, deployment: Deployment, item: Due) -> int | None:
        params = {**deployment.parameters, **item.params}
        shown = ", ".join(f"{k}={v!r}" for k, v in sorted(params.items()))
        self._log(
            f"{deployment.flow}: {item.reason}: starting a run" + (f" ({shown})" if shown else "")
        )
        request = LaunchRequest(
            deployment.flow,
            deployment.version,
            dict(item.params),
            (item.tag, f"deployment:{deployment.version}"),
        )
        try:
            process = spawn(self.store.url, request, wait=self._wait)
        except OSError as exc:  # its claim stays: the run is not started twice, but lost
            self._log(f"{deployment.flow}: {item.reason}: the run could not start: {exc}")
            return 1
        if not self._wait:
            self._children.setdefault(deployment.flow, []).append(process)
            return None
        how = "succeeded" if process.returncode == 0 else f"failed (exit {process.returncode})"
        self._log(f"{deployment.flow}: {item.reason}: the run {how}")
        return process.returncode

    def _busy(self, flow: str) -> bool:
        """Whether a run of ``flow`` is still going: one this scheduler started whose process
        lives, or one in the store whose lease is alive."""
        children = [p for p in self._children.get(flow, []) if p.poll() is None]
        self._children[flow] = children
        if children:
            return True
        records = self.store.records
        for run_id in records.list_runs(flow)[-RECENT_RUNS:]:
            if (
                records.get_run_end(flow, run_id) is None
                and self.store.leases.run_state(records.get_run(flow, run_id)) == "running"
            ):
                return True
        return False

    def running_children(self) -> int:
        """How many runs this scheduler started are still going (their processes live)."""
        return sum(1 for ps in self._children.values() for p in ps if p.poll() is None)


def _advance(state: SchedulerState, item: Due) -> None:
    if item.kind == "schedule":
        state.slot = max(state.slot or item.cursor, item.cursor)
    elif item.kind == "event":
        name, event_id = item.cursor
        state.events[name] = max(state.events.get(name, ""), event_id)
