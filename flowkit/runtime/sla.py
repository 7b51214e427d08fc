"""Execution-time monitoring: a ``sla_missed`` alert the moment a task, or the whole run,
has taken longer than its SLA, while the run is still going.

A step's SLA is its ``@sla``; the run's is the flow class's ``@sla``. Without one, an SLA is
learned from the flow's last :data:`LEARNED_RUNS` successful runs (read once, as the run
starts), unless the ``sla_learned`` setting is off. The rule, so that noise never alerts:

- nothing is learned from fewer than :data:`LEARNED_MIN_RUNS` past runs (of the step: runs
  in which it ran, not cloned it);
- the limit is the 95th percentile of what was seen (every task of the step in those runs;
  the runs' own durations for the run, resumes left out), times :data:`LEARNED_MARGIN`, and
  at least that percentile plus :data:`LEARNED_FLOOR` seconds: a step that usually takes a
  second is not alerted on at two, but one that usually takes ten minutes is at fifteen.

A task's time counts from the start of its first attempt (retries and their backoff
included) until it ends for good; each task and the run are alerted on once. The scheduler
asks :meth:`SlaMonitor.check` on every turn of its loop, which is a comparison with the
nearest deadline; a run with no SLA at all has no monitor, and pays nothing per task.
"""

from __future__ import annotations

import heapq
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flowkit.authoring.sla import flow_sla, sla_seconds
from flowkit.client.durations import RunTimes, format_duration, percentile, recent_times
from flowkit.errors import FlowkitError
from flowkit.runtime.alerts import AlertEvent, Alerts
from flowkit.runtime.events import Event, SlaMissed

if TYPE_CHECKING:
    from flowkit.graph.model import FlowGraph
    from flowkit.store import RunRecord, Store

#: How many of the flow's latest successful runs an SLA is learned from.
LEARNED_RUNS = 20
#: Fewer past runs than this, and nothing is learned.
LEARNED_MIN_RUNS = 5
#: A learned limit is the 95th percentile times this...
LEARNED_MARGIN = 1.5
#: ...and at least the 95th percentile plus this many seconds.
LEARNED_FLOOR = 60.0

#: Task phases after which a task is done for good (``retrying`` is not one).
_ENDED = frozenset({"succeeded", "caught", "failed", "killed"})


@dataclass(frozen=True)
class SlaRules:
    """What a run's SLAs are made from, besides its graph's ``@sla`` steps: the flow class's
    own ``@sla`` (seconds) and whether SLAs are learned from past runs (the setting)."""

    flow: float | None = None
    learned: bool = True


def sla_rules(flow_cls: type, *, learned: bool) -> SlaRules:
    """The rules for a run of ``flow_cls``; ``learned`` is the ``sla_learned`` setting."""
    return SlaRules(flow_sla(flow_cls), learned)


@dataclass(frozen=True)
class Limit:
    """An SLA in seconds, and whether it was learned (or set with ``@sla``)."""

    seconds: float
    learned: bool


def learned_limit(samples: Sequence[float]) -> float:
    """The limit :data:`LEARNED_MARGIN` and :data:`LEARNED_FLOOR` make of past durations."""
    p95 = percentile(samples, 95)
    return max(p95 * LEARNED_MARGIN, p95 + LEARNED_FLOOR)


def learned_limits(history: Sequence[RunTimes]) -> tuple[dict[str, Limit], Limit | None]:
    """Each step's learned limit, and the run's, from past runs (see the module docstring)."""
    samples: dict[str, list[float]] = {}
    seen_in: dict[str, int] = {}
    for past in history:
        for step, times in past.steps.items():
            samples.setdefault(step, []).extend(times.tasks)
            seen_in[step] = seen_in.get(step, 0) + 1
    steps = {
        step: Limit(learned_limit(values), learned=True)
        for step, values in samples.items()
        if seen_in[step] >= LEARNED_MIN_RUNS
    }
    whole = [r.seconds for r in history if r.seconds is not None]
    run = Limit(learned_limit(whole), True) if len(whole) >= LEARNED_MIN_RUNS else None
    return steps, run


def limits_for(
    graph: FlowGraph, rules: SlaRules, store: Store, flow: str
) -> tuple[dict[str, Limit], Limit | None]:
    """Each step's SLA and the run's: ``@sla`` where given, else learned (if it is on and
    the history says enough). The history is read only when something is left to learn."""
    steps: dict[str, Limit] = {}
    for node in graph.ordered():
        spec = node.decorator("sla")
        if spec is not None:
            steps[node.name] = Limit(sla_seconds(spec.args), learned=False)
    run = None if rules.flow is None else Limit(rules.flow, learned=False)
    if not rules.learned or (run is not None and len(steps) == len(graph.steps)):
        return steps, run
    try:
        history = recent_times(store, flow, runs=LEARNED_RUNS)
    except (FlowkitError, OSError) as exc:  # a damaged old run must not stop this one
        print(
            f"flowkit: no SLA is learned for this run of {flow}: its past runs could not be "
            f"read ({exc})",
            file=sys.stderr,
            flush=True,
        )
        return steps, run
    learned_steps, learned_run = learned_limits(history)
    own = {name: limit for name, limit in learned_steps.items() if name in graph.steps}
    return {**own, **steps}, run or learned_run


class SlaMonitor:
    """Watches one run's tasks and the run against their SLAs; reports each miss once, as
    an alert (``sla_missed``) and as a :class:`~flowkit.runtime.events.SlaMissed` event."""

    def __init__(
        self,
        run: RunRecord,
        store_url: str,
        steps: Mapping[str, Limit],
        run_limit: Limit | None,
        alerts: Alerts | None,
        emit: Callable[[Event], None],
    ) -> None:
        self._run, self._store_url = run, store_url
        self._steps = dict(steps)
        self._run_limit = run_limit
        self._run_deadline = None if run_limit is None else run.created_at + run_limit.seconds
        self._alerts, self._emit = alerts, emit
        #: task id -> (step, when its first attempt started), for tasks not yet done.
        self._live: dict[str, tuple[str, float]] = {}
        #: (deadline, task id) of each live task: the nearest first.
        self._due: list[tuple[float, str]] = []
        self._missed: set[str] = set()
        self.misses: list[SlaMissed] = []

    @staticmethod
    def start(
        graph: FlowGraph,
        rules: SlaRules,
        store: Store,
        run: RunRecord,
        alerts: Alerts | None,
        emit: Callable[[Event], None],
    ) -> SlaMonitor | None:
        """The monitor of ``run``; None when neither a step nor the run has an SLA."""
        steps, run_limit = limits_for(graph, rules, store, run.flow)
        if not steps and run_limit is None:
            return None
        return SlaMonitor(run, store.url, steps, run_limit, alerts, emit)

    def task_event(self, step: str, task_id: str, phase: str, now: float) -> None:
        """A task of ``step`` changed phase (as the scheduler tells the views)."""
        limit = self._steps.get(step)
        if limit is None:
            return
        if phase == "running":
            if task_id not in self._live and task_id not in self._missed:
                self._live[task_id] = (step, now)
                heapq.heappush(self._due, (now + limit.seconds, task_id))
        elif phase in _ENDED:
            self._live.pop(task_id, None)

    def check(self, now: float) -> None:
        """Report every task, and the run, that passed its SLA by ``now`` and is still going."""
        if self._run_deadline is not None and now >= self._run_deadline:
            self._run_deadline = None
            assert self._run_limit is not None
            self._miss(None, None, self._run_limit, now - self._run.created_at, now)
        while self._due and self._due[0][0] <= now:
            _, task_id = heapq.heappop(self._due)
            live = self._live.pop(task_id, None)
            if live is None:  # it ended in time
                continue
            step, started = live
            self._missed.add(task_id)
            self._miss(step, task_id, self._steps[step], now - started, now)

    def _miss(
        self, step: str | None, task_id: str | None, limit: Limit, elapsed: float, now: float
    ) -> None:
        run = self._run
        event = SlaMissed(
            run.flow, run.run_id, step, task_id, limit.seconds, elapsed, limit.learned, now
        )
        self.misses.append(event)
        self._emit(event)
        if self._alerts:
            self._alerts.emit(
                AlertEvent(
                    "sla_missed",
                    run.flow,
                    run.run_id,
                    self._store_url,
                    now,
                    step=step,
                    task_id=task_id,
                    pathspec=f"{run.flow}/{run.run_id}"
                    + (f"/{step}/{task_id}" if step is not None else ""),
                    message=missed_text(event),
                    limit=limit.seconds,
                    elapsed=elapsed,
                    learned=limit.learned,
                )
            )


def missed_text(event: SlaMissed) -> str:
    """The miss as one line: what, how long it has run, and its SLA and where it came from."""
    what = (
        f"run {event.flow}/{event.run_id}"
        if event.step is None
        else f"task {event.step}/{event.task_id}"
    )
    source = (
        f"learned from the last {LEARNED_RUNS} successful runs at most"
        if event.learned
        else "set with @sla"
    )
    return (
        f"{what} has run {format_duration(event.elapsed)}, past its SLA of "
        f"{format_duration(event.limit)} ({source}); it goes on"
    )
