"""The scheduler loop: ready tasks to the executor, finished tasks to the plan, until done.

It runs in the calling process (a terminal or a Jupyter kernel) and never runs user code.
A failed attempt is retried, caught or timed out as :mod:`flowkit.runtime.policy` says; a
task that fails for good is dead-lettered (:mod:`flowkit.runtime.deadletter`) and alerted
on. A failure stops only what depends on it: other branches run to completion, then the run
ends as failed (``fail_fast`` stops launching at the first failure instead). Interrupting
it (Ctrl-C, SIGTERM, a kernel interrupt) kills the running tasks, records them as killed and
the run as cancelled.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from flowkit.errors import FlowkitError
from flowkit.executor.base import (
    KILLED_STATUS,
    Ended,
    Executor,
    Failed,
    Lost,
    Output,
    Request,
    Started,
    Submission,
)
from flowkit.executor.registry import LOCAL, Executors, executor_of
from flowkit.fastdata import dataclass, field
from flowkit.graph.model import FlowGraph
from flowkit.plan.admit import Admission, Admitted, Placed, admit
from flowkit.plan.reuse import Decider
from flowkit.plan.tasks import MAX_NUM_SPLITS, Outcome, PlannedTask, Planner, TooManySplits
from flowkit.runtime.alerts import Alerts, AlertSender
from flowkit.runtime.attempts import (
    LiveAttempt,
    caught_attempt,
    interrupted,
    lost_caught_again,
    spec_fields,
)
from flowkit.runtime.deadletter import dead_letter, run_alert
from flowkit.runtime.events import (
    Event,
    FanOut,
    ProgressSink,
    RunFinished,
    RunStarted,
    StepInfo,
    TaskEvent,
    TaskOutput,
    TaskPhase,
)
from flowkit.runtime.policy import FailurePolicy
from flowkit.runtime.sla import SlaMonitor, SlaRules
from flowkit.store.records import ArtifactRef, RunStatus
from flowkit.task.outcome import describe_status, final_record
from flowkit.task.spec import CodeRef, TaskSpec, task_spec
from flowkit.task.timeout import hard_kill_after

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from flowkit.store import RunRecord, Store, TaskRecord

#: How long a cancelled run waits for its killed tasks to be reported.
CANCEL_GRACE = 1.5


@dataclass
class RunResult:
    """How a run ended, for the API to turn into a client ``Run`` or ``RunFailed``."""

    status: RunStatus
    failures: list[TaskRecord] = field(default_factory=list)
    message: str | None = None


@dataclass
class Scheduler:
    graph: FlowGraph
    store: Store
    executors: Executors
    run: RunRecord
    code: CodeRef
    parameters: dict[str, tuple[str, int, str]]
    sink: ProgressSink
    max_num_splits: int = MAX_NUM_SPLITS
    fail_fast: bool = False
    resume_hint: Callable[[], str] | None = None
    decider: Decider | None = None
    clock: Callable[[], float] = time.time
    policy: FailurePolicy = field(default_factory=FailurePolicy)
    alerts: Alerts | None = None
    #: The origin of a resume, described, when the user did not name it (see RunStarted).
    resuming: str | None = None
    #: Why fewer tasks than max_workers run at once here, for the views (see RunStarted).
    limit: str | None = None
    #: ``--namespace``: the namespace the steps' client reads runs in (see TaskSpec).
    client_namespace: str | None = None
    #: The flow's ``@sla`` and whether SLAs are learned; None: no SLA is watched.
    sla: SlaRules | None = None
    #: The run hooks the run enables, with their arguments, for the tasks (see TaskSpec).
    hooks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: Watches the SLAs while the run goes; None when there are none (see runtime.sla).
    _sla: SlaMonitor | None = None
    _ready: list[LiveAttempt] = field(default_factory=list)
    #: Submitted and not yet ended (started, or waiting in their executor's queue).
    _running: dict[str, LiveAttempt] = field(default_factory=dict)
    #: The part of ``_running`` that started: what ``@timeout`` watches.
    _started: dict[str, LiveAttempt] = field(default_factory=dict)
    #: Whether tasks still waiting in an executor's queue were withdrawn (launching stopped).
    _withdrawn: bool = False
    _failures: list[TaskRecord] = field(default_factory=list)
    _stop_launching: bool = False
    _message: str | None = None
    _counts: dict[str, int] = field(default_factory=dict)
    _succeeded: dict[str, TaskRecord] = field(default_factory=dict)
    #: Step -> the executor it runs on and what each of its tasks asks of it.
    _placement: dict[str, tuple[str, Request]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.planner = Planner(self.graph, self.max_num_splits)
        self.admission = Admission(self.graph, self.parameters, self.decider)
        #: The run's parameters and configs, as the records of its clones name them.
        self._run_values = {attr: ArtifactRef(*ref) for attr, ref in self.parameters.items()}
        #: Sends the run's alerts off the loop, in order; the run's end waits for them.
        self._alerts = AlertSender(self.alerts) if self.alerts else None

    # -- the loop ---------------------------------------------------------------------------
    def execute(self) -> RunResult:
        """Run to the end and write the run's end record (whoever drives the scheduler keeps
        the run's lease renewed until then: see :mod:`flowkit.runtime.heartbeat`)."""
        steps = tuple(
            StepInfo(n.name, n.targets, n.transition, n.takes_inputs) for n in self.graph.ordered()
        )
        try:
            self.emit(
                RunStarted(
                    self.run.flow,
                    self.run.run_id,
                    self.store.url,
                    steps,
                    self.clock(),
                    self.resuming,
                    self.limit,
                )
            )
            # before any task, so a run does not fail halfway for it; not on a resume or a
            # reuse, whose tasks of such a step may be cloned (then it is checked at launch)
            reuse = self.decider is not None and self.decider.reuse
            cloning = self.run.origin_run_id is not None or reuse
            why = None if cloning else self._never_runnable()
            if why is not None:
                return self._finish("failed", why)
            if self.sla is not None:
                self._sla = SlaMonitor.start(
                    self.graph, self.sla, self.store, self.run, self._alerts, self.emit
                )
            self._admit([self.planner.first()])
            while self._ready or self._running:
                self._launch()
                self._wait()
                if self._sla is not None:
                    self._sla.check(self.clock())
        except KeyboardInterrupt:
            return self._finish("cancelled", "cancelled by the user")
        except Exception as exc:
            # The scheduler's own failure (a bug, a store that refuses a write) ends the run
            # as failed, with why, instead of leaving it running forever.
            return self._finish("failed", scheduler_failure(exc), abort=True)
        return self._finish("failed" if self._failures or self._message else "succeeded")

    def _launch(self) -> None:
        """Submit every ready task that is due to its executor, which runs it when it fits
        (``--max-workers`` and resources are the executor's to apply)."""
        if self._stop_launching:
            self._ready.clear()
            self._withdraw()
            return
        now = time.monotonic()
        batches: dict[str, list[Submission]] = {}
        # In the order tasks became ready, skipping those not yet due (a retry's backoff).
        waiting: list[LiveAttempt] = []
        for task in self._ready:
            if task.not_before > now or self._stop_launching:
                waiting.append(task)
                continue
            name, request = self._place(task.planned.step)
            why = self.executors.get(name).check(request)
            if why:
                self._message = f"step '{task.planned.step}' cannot run on {name}: {why}"
                self._stop_launching = True
                continue
            self._running[task.key] = task
            task.spec = self._build_spec(task)
            batches.setdefault(name, []).append(Submission(task.key, task.spec, request))
        self._ready = waiting
        for name, tasks in batches.items():
            self.executors.get(name).submit(tasks)

    def _never_runnable(self) -> str | None:
        """Why a step of the flow can never run where it is placed (its executor's
        :meth:`~flowkit.executor.base.Executor.check`), asked of every step up front."""
        for node in self.graph.ordered():
            name, request = self._place(node.name)
            why = self.executors.get(name).check(request)
            if why:
                return f"step '{node.name}' cannot run on {name}: {why}"
        return None

    def _withdraw(self) -> None:
        """Once launching stops (``--fail-fast``, a task that can never run, a bad fan-out),
        cancel the tasks still waiting in an executor's queue: they never started."""
        if self._withdrawn:
            return
        self._withdrawn = True
        for key, task in list(self._running.items()):
            if not task.started:
                self._executor_of(task).cancel(key)

    def _place(self, step: str) -> tuple[str, Request]:
        """The executor ``step`` runs on, and what each of its tasks asks of it."""
        placed = self._placement.get(step)
        if placed is None:
            node = self.graph.steps[step]
            spec = executor_of(node, self.policy.executor)
            resources = node.decorator("resources")
            request = Request.of(
                resources.args if resources else None,
                spec.args if spec else None,
                timeout=self.policy.timeout(node),
            )
            placed = self._placement[step] = (spec.name if spec else LOCAL, request)
        return placed

    def _wait(self) -> None:
        if not self._running:
            soonest = min((t.not_before for t in self._ready), default=time.monotonic())
            time.sleep(max(0.0, min(0.5, soonest - time.monotonic())))
            return
        deadlines = [t.deadline for t in self._started.values() if t.deadline and not t.timed_out]
        wait = max(0.0, min([0.5, *(d - time.monotonic() for d in deadlines)]))
        executors = list(self.executors)
        if len(executors) > 1:
            wait = min(wait, 0.05)  # no executor's news may wait on another's
        for executor in executors:
            for message in executor.poll(wait):
                self._news(message)
        self._time_out()

    def _news(self, message: Started | Output | Ended) -> None:
        task = self._running.get(message.key)
        if task is None:
            return
        if isinstance(message, Output):
            now = self.clock()
            for line in message.lines:
                self.emit(TaskOutput(task.planned.step, task.task_id, message.stream, line, now))
        elif isinstance(message, Started):
            task.started = True
            self._started[message.key] = task
            node = self.graph.steps[task.planned.step]
            limit = self.policy.timeout(node)
            if limit is not None and interrupted(self.policy, node) is not None:
                # under @catch the step's own exception comes first (flowkit.task.timeout);
                # this kill ends one that swallows it or never returns to Python
                limit = hard_kill_after(limit)
            task.deadline = None if limit is None else time.monotonic() + limit
            self._task_event(task, "running")
        else:
            self._started.pop(message.key, None)
            if self._withdrawn and self._never_started(task):
                del self._running[message.key]
                return  # withdrawn from a queue: it never ran, so it leaves no record
            self._exited(task, message)
            # Only now: a cancel that lands while its end is handled still finds it running.
            del self._running[message.key]

    def _time_out(self) -> None:
        """Cancel every attempt past its ``@timeout``: its executor kills all it started."""
        now = time.monotonic()
        for key, task in self._started.items():
            if task.deadline is not None and task.deadline <= now and not task.timed_out:
                task.timed_out = True
                self._executor_of(task).cancel(key)

    def _executor_of(self, task: LiveAttempt) -> Executor:
        return self.executors.get(self._place(task.planned.step)[0])

    # -- a task ended -------------------------------------------------------------------------
    def _exited(self, task: LiveAttempt, ended: Ended) -> None:
        """The attempt's process ended; its final record (not ``ended``) says how it went."""
        node = self.graph.steps[task.planned.step]
        timeout = self.policy.timeout(node) if task.timed_out else None
        status = ended.status
        record = final_record(
            self.store,
            self._spec(task),
            status,
            timeout=timeout,
            worker_lost=isinstance(ended, Lost),
            reason=ended.reason if isinstance(ended, Failed | Lost) else None,
        )
        if record.successful:
            self._succeeded[task.task_id] = record
            # @catch(print_exception=False): the caught line says so, without the exception
            shown = record.caught and task.catch is not None and task.catch.get("print")
            error = str(record.exception) if shown else None
            self._task_event(task, "caught" if record.caught else "succeeded", error=error)
            self._admit(self._after(task.task_id, task.planned, Outcome.of(record)))
            return
        error = str(record.exception) if record.exception else describe_status(status)
        lost = lost_caught_again(task, record)
        if lost is not None:  # the attempt that stores the failure was lost
            self._task_event(task, "retrying", error=error, exit_code=record.exit_code)
            self._ready.append(lost)
            return
        if task.catch is None and task.attempt < self.policy.retries(node, record):
            self._task_event(task, "retrying", error=error, exit_code=record.exit_code)
            again = time.monotonic() + self.policy.delay(node, task.attempt)
            self._ready.append(task.next(again))
            return
        catch = self.policy.catch(node)
        if catch is not None and task.catch is None:
            # Not a retry: one more attempt only stores the exception; it ends as "caught".
            self._ready.append(caught_attempt(task, record, catch.args, error))
            return
        self._task_event(task, "failed", error=error, exit_code=record.exit_code)
        self._failures.append(record)
        dead_letter(self.store, record, self._spec(task), self._alerts)
        if self.fail_fast:
            self._stop_launching = True

    def _final_record(self, task: LiveAttempt, status: int, *, killed: bool = False) -> TaskRecord:
        return final_record(self.store, self._spec(task), status, killed=killed)

    # -- the end ------------------------------------------------------------------------------
    def _finish(
        self, status: RunStatus, message: str | None = None, *, abort: bool = False
    ) -> RunResult:
        """Record the run's end; ``abort`` (or a cancel) first kills the running tasks."""
        if status == "cancelled" or abort:
            for key, task in list(self._running.items()):
                self._executor_of(task).cancel(key)
            deadline = time.monotonic() + CANCEL_GRACE
            while self._running and time.monotonic() < deadline:
                for executor in list(self.executors):
                    for message_ in executor.poll(0.05):
                        if isinstance(message_, Started) and message_.key in self._running:
                            self._running[message_.key].started = True  # it ran: record it
                        if isinstance(message_, Output | Started):
                            continue
                        task_ = self._running.pop(message_.key, None)
                        if task_ is not None and not self._never_started(task_):
                            self._final_record(task_, message_.status, killed=True)
                            self._task_event(task_, "killed", exit_code=message_.status)
            for task in self._running.values():
                if not self._never_started(task):
                    self._final_record(task, KILLED_STATUS, killed=True)
                    self._task_event(task, "killed", exit_code=KILLED_STATUS)
            self._running.clear()
            self._started.clear()
        message = message or self._message
        # each step past its SLA more than once is alerted on again now, with a count
        missed = self._sla.finish(self.clock()) if self._sla is not None else ()
        if self.admission.decisions:
            self.store.index.write_explanation(
                self.run.flow, self.run.run_id, self.admission.decisions
            )
        self.store.records.end_run(
            self.run.flow,
            self.run.run_id,
            status,
            message=message,
            known=self._succeeded.values(),
            sla_missed=missed,
        )
        # After an abort, the scheduler's failure is what the user must see first.
        failures = [] if abort else list(self._failures)
        failed = failures[0] if failures else None
        if self._alerts:
            self._alerts.emit(run_alert(self.store, self.run, status, failed, message))
            self._alerts.close()
        self.emit(
            RunFinished(
                self.run.flow,
                self.run.run_id,
                status,
                self.clock(),
                dict(self._counts),
                failure=(failed.exception.traceback or str(failed.exception))
                if failed and failed.exception
                else message,
                failed_pathspec=failed.pathspec if failed else None,
                resume_command=self.resume_hint()
                if self.resume_hint and status != "succeeded"
                else None,
            )
        )
        return RunResult(status, failures, message)

    # -- helpers ------------------------------------------------------------------------------
    def _never_started(self, task: LiveAttempt) -> bool:
        """Whether the attempt never began: no word of it from its executor, nor in the
        store (an executor may not report starts)."""
        spec = self._spec(task)
        return not task.started and (
            self.store.records.get_attempt(
                spec.flow, spec.run_id, spec.step, spec.task_id, spec.attempt
            )
            is None
        )

    def _spec(self, task: LiveAttempt) -> TaskSpec:
        """The attempt's spec (built once, when it was submitted)."""
        assert task.spec is not None, "a task's spec is built when it is submitted"
        return task.spec

    def _build_spec(self, task: LiveAttempt) -> TaskSpec:
        return task_spec(
            self.graph.steps[task.planned.step],
            store=self.store.url,
            flow=self.run.flow,
            run_id=self.run.run_id,
            task_id=task.task_id,
            attempt=task.attempt,
            code=self.code,
            inputs=tuple(self._input_ref(i) for i in task.planned.inputs),
            path=task.planned.path,
            max_num_splits=self.max_num_splits,
            parameters=self.parameters,
            origin_run_id=self.run.origin_run_id,
            user=self.run.user,
            tags=tuple(self.run.tags),
            system_tags=tuple(self.run.system_tags),
            cache_key=task.cache_key,
            catch=task.catch,
            client_namespace=self.client_namespace,
            hooks={name: dict(args) for name, args in self.hooks.items()},
            **spec_fields(self.policy, self.graph.steps[task.planned.step], task.attempt),
        )

    def _after(self, task_id: str, planned: PlannedTask, outcome: Outcome) -> list[PlannedTask]:
        """What becomes ready once a task succeeded with ``outcome``; stops the run on a bad
        fan-out."""
        try:
            ready = self.planner.after(task_id, planned, outcome)
        except TooManySplits as exc:
            self._message = exc.render()
            self._stop_launching = True
            return []
        if outcome.foreach_count is not None:  # the views count the body against this total
            for body in outcome.targets:
                self.emit(FanOut(planned.step, task_id, body, outcome.foreach_count, self.clock()))
        return ready

    def _admit(self, planned: list[PlannedTask]) -> None:
        """Queue ready tasks, or clone the earlier task that stands in for one (and go on)."""
        admit(planned, self._decide, self._queue_or_clone, self._after)

    def _decide(self, planned: PlannedTask) -> Admitted:
        return self.admission.decide(planned, [self._succeeded[i] for i in planned.inputs])

    def _queue_or_clone(self, admitted: Admitted) -> Placed:
        origin, step = admitted.decision.origin, admitted.planned.step
        if origin is None:
            task = LiveAttempt(
                self.store.records.new_task_id(), admitted.planned, cache_key=admitted.cache_key
            )
            self.admission.note(admitted, task.task_id)
            self._ready.append(task)
            return task.task_id, None
        clone = self.store.records.clone_task(origin, self.run.run_id, self._run_values)
        self._succeeded[clone.task_id] = clone
        self.admission.note(admitted, clone.task_id)
        self.emit(TaskEvent(step, clone.task_id, "cloned", 0, self.clock()))
        self._counts["cloned"] = self._counts.get("cloned", 0) + 1
        return clone.task_id, Outcome.of(clone)

    def _input_ref(self, task_id: str) -> str:
        record = self._succeeded[task_id]
        return f"{record.step}/{task_id}/{record.attempt}"

    def _task_event(
        self,
        task: LiveAttempt,
        status: TaskPhase,
        *,
        error: str | None = None,
        exit_code: int | None = None,
    ) -> None:
        if status in ("succeeded", "caught", "failed", "killed"):
            self._counts[status] = self._counts.get(status, 0) + 1
        now = self.clock()
        if self._sla is not None:
            self._sla.task_event(task.planned.step, task.task_id, status, now)
        self.emit(
            TaskEvent(task.planned.step, task.task_id, status, task.attempt, now, error, exit_code)
        )

    def emit(self, event: Event) -> None:
        self.sink.handle(event)


def scheduler_failure(exc: Exception) -> str:
    """Why the scheduler stopped, for the run's end record: a flowkit error as it reads, or,
    for anything else (a bug in flowkit), what was raised and where."""
    if isinstance(exc, FlowkitError):
        return f"the scheduler stopped: {exc.render()}"
    import traceback  # here: only a scheduler that failed needs it

    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return (
        f"the scheduler failed: {type(exc).__name__}: {exc}{where}. This is a bug in flowkit; "
        "please report it with this message. Finished tasks are recorded: resume the run"
    )
