"""Execution-time monitoring: a ``sla_missed`` alert the moment a task, or the whole run,
has taken longer than its SLA, while the run is still going.

A step's SLA is its ``@sla``; the run's is the flow class's ``@sla``. Without one, an SLA is
learned from the flow's last :data:`LEARNED_RUNS` successful runs, unless the
``sla_learned`` setting is off. The rule, so that noise never alerts:

- nothing is learned from fewer than :data:`LEARNED_MIN_RUNS` past runs (for a step: runs
  in which it ran, not cloned it);
- the limit is the 95th percentile of what was seen (every task of the step in those runs;
  the runs' own durations for the run, resumes left out), times :data:`LEARNED_MARGIN`, and
  at least that percentile plus :data:`LEARNED_FLOOR` seconds: a step that usually takes a
  second is not alerted on at two, but one that usually takes ten minutes is at fifteen.

What it costs: the past runs' start and end records are read as the run starts (~1 ms for
20 runs; the run's limit needs no more). Their steps' task records (one step index per step
and run: about a second for 20 runs of a 1,000-task fan-out) are read only once a task
without ``@sla`` has run for :data:`LEARNED_FLOOR` seconds, as no learned limit is shorter,
and in a thread of their own, so the scheduler's loop never waits on them: a run whose tasks
are all quicker never reads them.

A task's time counts from the start of its first attempt (retries and their backoff
included) until it ends for good (what is learned is measured the same way). Each task that
A step is told to the views (a :class:`~flowkit.runtime.events.SlaMissed` event) and alerted
on once, for its first task that misses, and alerted on once more with the run's end if later
tasks missed too (``tasks_missed`` says how many in all): a 40-way foreach past its SLA is one
line on the terminal and two alerts, not forty. The run is alerted on once. What missed is also written to the
run's end record (``sla_missed``, one line each), which ``flowkit show RUN`` and the client
(``Run.end_record``) read. Alerts go through the run's
:class:`~flowkit.runtime.alerts.AlertSender`, so a slow sink never holds the scheduler. The
scheduler asks :meth:`SlaMonitor.check` on every turn of its loop, which compares the time
with the nearest deadline; a run with no SLA to watch has no monitor, and pays nothing per
task.
"""

from __future__ import annotations

import heapq
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flowkit.authoring.sla import check_placed, flow_sla, sla_seconds
from flowkit.client.durations import format_duration  # words only: no reads of the client's
from flowkit.errors import FlowkitError
from flowkit.fastdata import dataclass
from flowkit.runtime.alerts import AlertEvent, AlertSender
from flowkit.runtime.events import Event, SlaMissed
from flowkit.store.durations import PastRun, RunTimes, percentile, run_times, successful_runs

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

#: How often a task waiting for its step's limit to be learned looks again, in seconds.
_LEARNING_AGAIN = 0.5

#: Task phases after which a task is done for good (``retrying`` is not one).
_ENDED = frozenset({"succeeded", "caught", "failed", "killed"})


@dataclass(frozen=True)
class SlaRules:
    """What a run's SLAs are made from, besides its graph's ``@sla`` steps: the flow class's
    own ``@sla`` (seconds) and whether SLAs are learned from past runs (the setting)."""

    flow: float | None = None
    learned: bool = True


def sla_rules(flow_cls: type, *, learned: bool) -> SlaRules:
    """The rules for a run of ``flow_cls``; ``learned`` is the ``sla_learned`` setting. An
    ``@sla`` on a method that is not a step is a :class:`FlowDefinitionError` (it would
    watch nothing)."""
    check_placed(flow_cls)
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


def learned_run_limit(past: Sequence[PastRun]) -> Limit | None:
    """The run's learned limit from past runs (see the module docstring); None if too few."""
    whole = [p.seconds for p in past if p.seconds is not None]
    return Limit(learned_limit(whole), True) if len(whole) >= LEARNED_MIN_RUNS else None


def learned_step_limits(history: Sequence[RunTimes]) -> dict[str, Limit]:
    """Each step's learned limit from past runs (see the module docstring)."""
    samples: dict[str, list[float]] = {}
    seen_in: dict[str, int] = {}
    for past in history:
        for step, times in past.steps.items():
            samples.setdefault(step, []).extend(times.tasks)
            seen_in[step] = seen_in.get(step, 0) + 1
    return {
        step: Limit(learned_limit(values), learned=True)
        for step, values in samples.items()
        if seen_in[step] >= LEARNED_MIN_RUNS
    }


def _unreadable(flow: str, exc: Exception) -> None:
    print(
        f"flowkit: no SLA is learned for this run of {flow}: its past runs could not be read "
        f"({exc})",
        file=sys.stderr,
        flush=True,
    )


class SlaMonitor:
    """Watches one run's tasks and the run against their SLAs; reports each miss once as a
    :class:`~flowkit.runtime.events.SlaMissed` event, and as an alert (``sla_missed``) the
    run's and each step's first (see :meth:`finish` for the rest).
    ``learn`` are the past runs whose steps' times give the steps in ``learnable`` (those
    without ``@sla``) their limits, read when a task of one has run :data:`LEARNED_FLOOR`."""

    def __init__(
        self,
        run: RunRecord,
        store: Store,
        steps: Mapping[str, Limit],
        run_limit: Limit | None,
        alerts: AlertSender | None,
        emit: Callable[[Event], None],
        *,
        learn: Sequence[PastRun] = (),
        learnable: frozenset[str] = frozenset(),
    ) -> None:
        self._run, self._store = run, store
        self._steps = dict(steps)
        self._run_limit = run_limit
        self._run_deadline = None if run_limit is None else run.created_at + run_limit.seconds
        self._alerts, self._emit = alerts, emit
        self._learn, self._learnable = list(learn), learnable
        #: Reads the past runs' step times (see :meth:`_learn_steps`), once one is needed.
        self._reader: threading.Thread | None = None
        self._learned: dict[str, Limit] = {}
        #: task id -> (step, when its first attempt started), for tasks not yet done.
        self._live: dict[str, tuple[str, float]] = {}
        #: (deadline, task id) of each live task: the nearest first.
        self._due: list[tuple[float, str]] = []
        self._missed: set[str] = set()
        #: step -> (its first miss's task, limit; how many of its tasks missed in all).
        self._step_misses: dict[str, tuple[str, Limit, int]] = {}
        #: The run's limit, once the run passed it.
        self._run_missed: Limit | None = None

    @staticmethod
    def start(
        graph: FlowGraph,
        rules: SlaRules,
        store: Store,
        run: RunRecord,
        alerts: AlertSender | None,
        emit: Callable[[Event], None],
    ) -> SlaMonitor | None:
        """The monitor of ``run``; None when neither a step nor the run has an SLA to watch
        (none is set, and none can be learned)."""
        steps: dict[str, Limit] = {}
        for node in graph.ordered():
            spec = node.decorator("sla")
            if spec is not None:
                steps[node.name] = Limit(sla_seconds(spec.args), learned=False)
        run_limit = None if rules.flow is None else Limit(rules.flow, learned=False)
        learnable = frozenset(graph.steps) - set(steps)
        past: list[PastRun] = []
        if rules.learned and (run_limit is None or learnable):
            try:
                past = successful_runs(store, run.flow, runs=LEARNED_RUNS)
            except (FlowkitError, OSError) as exc:  # a damaged old run must not stop this one
                _unreadable(run.flow, exc)
            if len(past) < LEARNED_MIN_RUNS:
                past = []
            run_limit = run_limit or learned_run_limit(past)
        if not steps and run_limit is None and not (past and learnable):
            return None
        return SlaMonitor(
            run, store, steps, run_limit, alerts, emit, learn=past, learnable=learnable
        )

    def task_event(self, step: str, task_id: str, phase: str, now: float) -> None:
        """A task of ``step`` changed phase (as the scheduler tells the views)."""
        if phase == "running":
            if task_id in self._live or task_id in self._missed:
                return  # a later attempt: the task's clock goes on
            limit = self._steps.get(step)
            if limit is not None:
                after = limit.seconds
            elif self._learn and step in self._learnable:
                after = LEARNED_FLOOR  # no learned limit is shorter: look again then
            else:
                return
            self._live[task_id] = (step, now)
            heapq.heappush(self._due, (now + after, task_id))
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
            live = self._live.get(task_id)
            if live is None:  # it ended in time
                continue
            step, started = live
            if step not in self._steps and self._learn and not self._learned_now():
                heapq.heappush(self._due, (now + _LEARNING_AGAIN, task_id))
                continue
            limit = self._steps.get(step)
            if limit is None:  # nothing was learned for its step
                del self._live[task_id]
            elif started + limit.seconds > now:
                heapq.heappush(self._due, (started + limit.seconds, task_id))
            else:
                del self._live[task_id]
                self._missed.add(task_id)
                self._miss(step, task_id, limit, now - started, now)

    def _learned_now(self) -> bool:
        """Whether the steps' learned limits are known (then in ``_steps``); the first ask
        starts reading them."""
        if self._reader is None:
            self._reader = threading.Thread(
                target=self._learn_steps, name="flowkit-sla-history", daemon=True
            )
            self._reader.start()
        if self._reader.is_alive():
            return False
        learned, self._learn = self._learned, []
        self._steps.update({s: learned[s] for s in self._learnable if s in learned})
        return True

    def _learn_steps(self) -> None:
        """Read the past runs' step times and learn the limits of the steps without ``@sla``
        from them (in the reader thread: it touches nothing the scheduler's thread uses)."""
        try:
            history = [run_times(self._store, p) for p in self._learn]
        except (FlowkitError, OSError) as exc:
            _unreadable(self._run.flow, exc)
            return
        self._learned = learned_step_limits(history)

    def finish(self, now: float) -> tuple[str, ...]:
        """The run is ending: alert once for each step more than one of whose tasks missed
        its SLA (its first was alerted on as it was seen), with how many did. What missed,
        one line each, for the run's end record."""
        run = self._run
        lines = (
            []
            if self._run_missed is None
            else [
                f"run {run.flow}/{run.run_id} ran past its SLA of "
                f"{format_duration(self._run_missed.seconds)} ({_source(self._run_missed.learned)})"
            ]
        )
        for step, (first, limit, count) in self._step_misses.items():
            what = f"task {step}/{first}" if count == 1 else f"{count} tasks of step {step}"
            lines.append(
                f"{what} ran past {'its' if count == 1 else 'their'} SLA of "
                f"{format_duration(limit.seconds)} ({_source(limit.learned)})"
            )
            if count > 1:
                message = (
                    f"{count} tasks of step {step} passed their SLA of "
                    f"{format_duration(limit.seconds)} ({_source(limit.learned)}), the first "
                    f"{step}/{first} (alerted on then)"
                )
                self._alert(now, limit, message, step, tasks_missed=count)
        self._step_misses.clear()
        self._run_missed = None
        return tuple(lines)

    def _miss(
        self, step: str | None, task_id: str | None, limit: Limit, elapsed: float, now: float
    ) -> None:
        run = self._run
        event = SlaMissed(
            run.flow, run.run_id, step, task_id, limit.seconds, elapsed, limit.learned, now
        )
        if step is None:
            self._run_missed = limit
        elif task_id is not None:
            seen = self._step_misses.get(step)
            self._step_misses[step] = (
                (task_id, limit, 1) if seen is None else (*seen[:2], seen[2] + 1)
            )
            if seen is not None:
                # counted: told and alerted on with the run's end (see finish), so a slow
                # fan-out of 1,000 tasks is one line and one alert, not 1,000
                return
        self._emit(event)
        self._alert(now, limit, missed_text(event), step, task_id, elapsed=elapsed)

    def _alert(
        self,
        now: float,
        limit: Limit,
        message: str,
        step: str | None,
        task_id: str | None = None,
        **more: Any,
    ) -> None:
        """Send an ``sla_missed`` alert about the run, a step or a task, if any sink listens."""
        if not self._alerts:
            return
        run = self._run
        where = "/".join(part for part in (step, task_id) if part is not None)
        self._alerts.emit(
            AlertEvent(
                "sla_missed",
                run.flow,
                run.run_id,
                self._store.url,
                now,
                step=step,
                task_id=task_id,
                pathspec=f"{run.flow}/{run.run_id}" + (f"/{where}" if where else ""),
                message=message,
                limit=limit.seconds,
                learned=limit.learned,
                **more,
            )
        )


def missed_text(event: SlaMissed) -> str:
    """The miss as one line: what, how long it has run, and its SLA and where it came from."""
    what = (
        f"run {event.flow}/{event.run_id}"
        if event.step is None
        else f"task {event.step}/{event.task_id}"
    )
    return (
        f"{what} has run {format_duration(event.elapsed)}, past its SLA of "
        f"{format_duration(event.limit)} ({_source(event.learned)}); it goes on"
    )


def _source(learned: bool) -> str:
    return "learned from the flow's recent runs" if learned else "set with @sla"
