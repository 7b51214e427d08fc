"""The one-machine scheduler: every tick, for each deployed flow, claim what is due and start
its runs; ``flowkit scheduler`` calls :meth:`DeploymentScheduler.tick` every ``--poll`` seconds.

Once per store: a run starts only after this scheduler's ``put_new`` created the claim of
its slot, upstream run or event, so two schedulers on one store never both start it, and a
scheduler restarted after a crash finds the claims of what it fired before. Its cursors
(:class:`~flowkit.store.deployments.SchedulerState`) move only past what is handled, so
nothing due while it was down is lost: a missed slot runs (``catchup``), a run that ended and
an event published meanwhile fire when it is back.

A crash between a claim and its run (the scheduler killed after its ``put_new``, before the
run's process made the run) leaves the claim open; a later tick of any scheduler on the store
launches it again, once (:mod:`flowkit.deploy.recover`). Nothing is lost and nothing doubled.

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
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from flowkit.deploy.due import Due, due, settled, settled_runs
from flowkit.deploy.launch import LaunchRequest, spawn
from flowkit.deploy.recover import GRACE, MAX_ATTEMPTS, claim_tag, cut_short, tagged_run
from flowkit.errors import FlowkitError
from flowkit.fastdata import dataclass
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
        claim_grace: float = GRACE,
    ) -> None:
        self.store = store
        self.registry = store.deployments
        self._now = now
        self._log = log
        self._wait = wait
        self._children: dict[str, list[subprocess.Popen[bytes]]] = {}
        self._who = f"{socket.gethostname()}:{os.getpid()}"
        self._instance = Deployments.new_instance()
        self._grace = claim_grace
        self._recovered_at: dict[str, float] = {}
        self._started: dict[
            int, tuple[str, Due]
        ] = {}  # pid -> what its run is for  # flow -> when its open claims were read
        self._queued: set[str] = set()
        #: How many flows a tick could not handle (their error is in the log).
        self.errors = 0

    def tick(self) -> list[Fired]:
        """Handle everything due now, flow by flow; what was done. A flow whose deployment
        or records cannot be read is said in the log (and counted in :attr:`errors`); the
        others go on."""
        now = self._now()
        done: list[Fired] = []
        self._reap()
        for flow, deployment in self.registry.each_current():
            try:
                if isinstance(deployment, FlowkitError):
                    raise deployment
                done += self._tick_flow(deployment, now)
            except (FlowkitError, OSError) as exc:  # one broken flow must not stop the others
                self.errors += 1
                shown = exc.render() if isinstance(exc, FlowkitError) else str(exc)
                self._log(f"{flow}: error: {shown}")
        return done

    def serve(self, poll: float, stop: threading.Event) -> None:
        """Tick every ``poll`` seconds until ``stop`` is set. A tick that fails (the store
        unreachable for a while) is said in the log; the next one tries again."""
        while not stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # a scheduler left running goes on
                self.errors += 1
                self._log(
                    f"error: this look at the store failed: {exc} (tried again in {poll:g} s)"
                )
            stop.wait(poll)

    def _tick_flow(self, deployment: Deployment, now: datetime) -> list[Fired]:
        flow = deployment.flow
        state = self.registry.state(flow)
        moved = SchedulerState(flow)
        busy = self._busy(flow)
        done = self._recover(deployment, now, busy)
        busy = busy or (deployment.overlap != "allow" and any(d.exit_code is None for d in done))
        blocked: dict[tuple[str, str], Due] = {}  # queue: (kind, source) -> first waiting
        real_now = time.time()
        for item in due(self.store, deployment, state, now):
            source = (item.kind, item.cursor[0] if item.kind != "schedule" else "")
            if source in blocked:
                continue
            if item.missed:
                self._log(f"{flow}: {item.reason}")
                done.append(Fired(flow, item, "missed"))
            elif self.registry.claimed(flow, item.claim) is not None:
                pass  # handled already: looked at again while its cursor settles
            elif busy and _queues(deployment, item):
                blocked[source] = item
                if item.claim not in self._queued:  # said once, not at every tick it waits
                    self._queued.add(item.claim)
                    self._log(f"{flow}: {item.reason}: queued, a run of {flow} is still going")
                done.append(Fired(flow, item, "queued"))
                continue
            elif busy and deployment.overlap == "skip":
                if self._claim(deployment, item, now, skipped=True):
                    self.registry.launch_done(flow, item.claim, {"skipped": True})
                    self._log(f"{flow}: {item.reason}: skipped, a run of {flow} is still going")
                    done.append(Fired(flow, item, "skipped"))
            elif self._claim(deployment, item, now):
                code = self._start(deployment, item)
                done.append(Fired(flow, item, "started", code))
                busy = deployment.overlap != "allow" and (code is None or self._busy(flow))
            _advance(moved, item, real_now)
        for upstream in deployment.on_finish:
            waiting = blocked.get(("run", upstream))
            moved.runs[upstream] = settled_runs(
                self.store,
                upstream,
                state.runs.get(upstream, ""),
                before=waiting.cursor[1] if waiting else None,
                now=real_now,
            )
        self.registry.save_state(moved)
        return done

    def _claim(
        self, deployment: Deployment, item: Due, now: datetime, *, skipped: bool = False
    ) -> bool:
        """Claim ``item`` for ``deployment``'s flow, once per store; the claim names this
        scheduler and holds what its run is started with (see :mod:`flowkit.deploy.recover`)."""
        details = {
            "by": self._who,
            "scheduler": self._instance,
            "clock": now.timestamp(),
            "reason": item.reason,
            "kind": item.kind,
            "tag": item.tag,
            "params": item.params,
            "version": deployment.version,
        }
        if skipped:
            details["skipped"] = True
        return self.registry.claim(deployment.flow, item.claim, details)

    def _recover(self, deployment: Deployment, now: datetime, busy: bool) -> list[Fired]:
        """Launch again each claim of the flow whose launch a crash cut short (see
        :mod:`flowkit.deploy.recover`); what was done."""
        flow = deployment.flow
        done: list[Fired] = []
        last = self._recovered_at.get(flow)
        if last is not None and 0 <= now.timestamp() - last < self._grace / 5:
            return done  # listing the claims every tick would cost more than it finds
        self._recovered_at[flow] = now.timestamp()
        for what in self.registry.open_claims(flow):
            attempts = self.registry.attempts(flow, what)
            if not attempts:
                continue
            claim = attempts[0]
            if float(claim.get("at", 0.0)) < deployment.active_since:  # made before an
                # undeploy: what it was for is not due any more (a launch then refused it)
                self.registry.launch_done(flow, what, {"undeployed": True})
                continue
            if claim.get("skipped"):  # its launched record cut short
                self.registry.launch_done(flow, what, {"skipped": True})
                continue
            if "scheduler" not in claim:  # made before claims named their claimant: its
                self.registry.launch_done(flow, what, {"unknown": True})  # run is not known
                continue
            if not cut_short(attempts, now.timestamp(), self._grace):
                continue
            found = tagged_run(self.store, flow, what, float(claim.get("at", 0.0)))
            if found is not None:  # its process stopped before it could say so
                self.registry.launch_done(flow, what, {"run_id": found, "attempt": None})
                continue
            item = Due(
                claim.get("kind", "schedule"),
                what,
                f"{claim.get('reason', what)} (claimed by {claim.get('by')}, whose run never "
                "started)",
                str(claim.get("tag", "")),
                dict(claim.get("params") or {}),
            )
            if len(attempts) >= MAX_ATTEMPTS:
                if self.registry.launch_done(flow, what, {"given_up": len(attempts)}):
                    self._log(
                        f"{flow}: {item.reason}: given up after {len(attempts)} attempts "
                        "that never started a run (see the scheduler's earlier lines)"
                    )
                continue
            if busy and _queues(deployment, item):
                continue  # it waits, as anything due does
            details = {"by": self._who, "scheduler": self._instance, "clock": now.timestamp()}
            if not self.registry.take_over(flow, what, len(attempts), details):
                continue  # another scheduler took it over
            if busy and deployment.overlap == "skip":
                self.registry.launch_done(flow, what, {"skipped": True})
                self._log(f"{flow}: {item.reason}: skipped, a run of {flow} is still going")
                done.append(Fired(flow, item, "skipped"))
                continue
            code = self._start(deployment, item, attempt=len(attempts))
            done.append(Fired(flow, item, "started", code))
            busy = deployment.overlap != "allow" and (code is None or self._busy(flow))
        return done

    def _start(self, deployment: Deployment, item: Due, *, attempt: int = 0) -> int | None:
        params = {**deployment.parameters, **item.params}
        shown = ", ".join(f"{k}={v!r}" for k, v in sorted(params.items()))
        self._log(
            f"{deployment.flow}: {item.reason}: starting a run" + (f" ({shown})" if shown else "")
        )
        tags = (item.tag, claim_tag(item.claim), f"deployment:{deployment.version}")
        request = LaunchRequest(
            deployment.flow,
            deployment.version,
            dict(item.params),
            tuple(t for t in tags if t),
            item.claim,
            attempt,
        )
        try:
            process = spawn(self.store.url, request, wait=self._wait)
        except OSError as exc:  # the claim stays open: launched again after the grace period
            self._log(
                f"{deployment.flow}: {item.reason}: the run could not start: {exc} (tried "
                f"again in {self._grace:g} s, {MAX_ATTEMPTS} attempts in all)"
            )
            return 1
        if not self._wait:
            self._children.setdefault(deployment.flow, []).append(process)
            self._started[process.pid] = (deployment.flow, item)
            return None
        self._ended(deployment.flow, item, process.returncode)
        return process.returncode

    def _ended(self, flow: str, item: Due, code: int) -> None:
        """Say how the run started for ``item`` ended, and why it failed when its launch
        said so (a payload whose field does not convert, ...)."""
        how = "succeeded" if code == 0 else f"failed (exit {code})"
        launched = self.registry.launched(flow, item.claim) if code else None
        why = launched.get("failed") if launched else None
        self._log(f"{flow}: {item.reason}: the run {how}" + (f": {why}" if why else ""))

    def _reap(self) -> None:
        """Say how each run started without ``wait`` ended, once it has."""
        for flow, processes in self._children.items():
            for process in processes:
                code = process.poll()
                started = self._started.get(process.pid)
                if code is not None and started is not None:
                    del self._started[process.pid]
                    self._ended(flow, started[1], code)

    def _busy(self, flow: str) -> bool:
        """Whether a run of ``flow`` is still going: one this scheduler started whose process
        lives, or one in the store whose lease is alive."""
        self._reap()
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


def _queues(deployment: Deployment, item: Due) -> bool:
    """Whether ``item``, due while a run of the flow goes on, waits for it: with
    ``overlap="queue"``, and a slot of a ``catchup=True`` schedule whatever ``overlap`` says
    (catch-up slots run each, one after the other: ``skip`` would pass over all but the
    first, ``allow`` would start them all at once)."""
    if deployment.overlap == "queue":
        return True
    return item.kind == "schedule" and deployment.catchup and deployment.overlap == "skip"


def _advance(state: SchedulerState, item: Due, now: float) -> None:
    """Move ``state``'s cursor past ``item`` (an event only once it settled at ``now``)."""
    if item.kind == "schedule":
        state.slot = max(state.slot or item.cursor, item.cursor)
    elif item.kind == "event":
        name, event_id = item.cursor
        if settled(event_id, now):
            state.events[name] = max(state.events.get(name, ""), event_id)
