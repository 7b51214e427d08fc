"""One flowkit task run by one Airflow task: plan it from its parents' final records, run
it through ``python -m flowkit.worker`` (the path every remote executor takes), and apply
its step's ``@timeout``, ``@retry`` bookkeeping, ``@catch`` and dead letter as the local
scheduler does, so its records are those a local run writes.

Airflow passes each task its parents' *descriptions* (:func:`describe`: step, task id, input
tasks, open splits); the plan (:class:`~flowkit.plan.tasks.Planner`) turns them, with the
parents' records, into this task's inputs and path. Airflow retries a failed task (the
step's ``@retry``); each retry is the task's next attempt, found in the store, so the
attempt numbers are flowkit's whatever Airflow's try number says, and a task that already
succeeded is not run again when Airflow runs its task a second time. An earlier try's attempt
that never ended (its task's process killed) is killed and recorded as lost before the next
attempt starts; a task that failed for good starts no attempt after it.
"""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING, Any

from flowkit.errors import FlowkitError
from flowkit.fastdata import dataclass
from flowkit.plan.tasks import Branch, Outcome, PlannedTask, Planner

if TYPE_CHECKING:
    from flowkit.export.run_spec import AirflowRun
    from flowkit.graph.model import FlowGraph
    from flowkit.runtime.alerts import Alerts
    from flowkit.runtime.policy import FailurePolicy
    from flowkit.store import Store, TaskRecord
    from flowkit.task.spec import TaskSpec

#: Exit statuses of ``airflow_task step``: Airflow may retry the first, never the second.
RETRY_STATUS = 75
FAILED_STATUS = 1


@dataclass(frozen=True)
class StepResult:
    """How one Airflow task of a step ended: its flowkit task's final record, and whether
    Airflow should try again (the step's ``@retry`` has attempts left)."""

    record: TaskRecord
    planned: PlannedTask
    retry: bool = False

    def describe(self) -> dict[str, Any]:
        return describe(self.planned, self.record)


def describe(planned: PlannedTask, record: TaskRecord) -> dict[str, Any]:
    """What a child's Airflow task needs of this task (JSON, passed as XCom)."""
    return {
        "step": planned.step,
        "task_id": record.task_id,
        "attempt": record.attempt,
        "inputs": list(planned.inputs),
        "path": [b.to_json() for b in planned.path],
        "next": list(record.next_steps),
        "count": record.foreach_count,
    }


def plan(
    graph: FlowGraph,
    store: Store,
    run: AirflowRun,
    step: str,
    parents: list[dict[str, Any]],
    index: int | None,
) -> tuple[PlannedTask, list[TaskRecord]]:
    """The task of ``step`` that ``parents`` (the descriptions of the parent tasks that ran;
    for a foreach body's first step, the foreach task and ``index``, the item) make ready,
    and its input tasks' final records."""
    planner = Planner(graph)
    ready: list[PlannedTask] = [planner.first()] if step == "start" and not parents else []
    records: dict[str, TaskRecord] = {}
    # one read per parent, by its keys (overlapped on a remote store): a foreach's join
    # has one parent per item
    found = store.records.get_attempts(
        run.flow, run.run_id, [(p["step"], p["task_id"], int(p["attempt"])) for p in parents]
    )
    for parent, record in zip(parents, found, strict=True):
        record = _successful(record, parent)
        records[record.task_id] = record
        planned = PlannedTask(
            parent["step"],
            tuple(parent["inputs"]),
            tuple(Branch.from_json(b) for b in parent["path"]),
        )
        ready += [
            p for p in planner.after(record.task_id, planned, Outcome.of(record)) if p.step == step
        ]
    if index is not None:
        ready = ready[index : index + 1]
    if len(ready) != 1:
        raise FlowkitError(
            f"step '{step}' of {run.flow}/{run.run_id}: its parents "
            f"({', '.join(p['step'] + '/' + p['task_id'] for p in parents) or 'none'}) make "
            f"{len(ready)} tasks of it ready, not one",
            "run the DAG that `flowkit airflow create` wrote for this flow, unchanged",
        )
    return ready[0], [records[i] for i in ready[0].inputs]


def _successful(record: TaskRecord | None, parent: dict[str, Any]) -> TaskRecord:
    if record is None:
        raise FlowkitError(
            f"task {parent['step']}/{parent['task_id']} attempt {parent['attempt']} has no "
            "record in the store",
            "every task of the DAG must reach the store its first task used",
        )
    if not record.successful:
        raise FlowkitError(
            f"task {record.pathspec} did not succeed ({record.status}); its children cannot run",
            "look at it with: flowkit show " + record.pathspec,
        )
    return record


def run_step(
    graph: FlowGraph,
    store: Store,
    run: AirflowRun,
    planned: PlannedTask,
    inputs: list[TaskRecord],
    alerts: Alerts | None,
    *,
    policy: FailurePolicy,
    airflow_retries: bool,
    first_try: bool = False,
) -> StepResult:
    """Run the next attempt of ``planned``'s task (an earlier one that succeeded stands).

    ``airflow_retries``: Airflow runs this task again if this try fails (its try number is
    within its ``max_tries``); only then does a failure that ``policy`` would retry exit for
    Airflow to retry it; otherwise ``@catch`` and the dead letter apply now, as locally
    after the last retry. ``first_try``: Airflow says this is its task's first try, so no
    earlier attempt exists to look for (a retry, or a task cleared to run again, looks in
    the store)."""
    from flowkit.plan.admit import Admission
    from flowkit.runtime.attempts import LiveAttempt, caught_attempt
    from flowkit.runtime.deadletter import dead_letter

    node = graph.steps[planned.step]
    key = Admission(graph, run.parameters).decide(planned, inputs).cache_key
    earlier = None if first_try else _earlier(store, run, planned, inputs)
    if earlier is not None and earlier.successful:
        return StepResult(earlier, planned)
    if earlier is not None and not earlier.final:
        # an earlier Airflow try's attempt that never ended: its task's process was killed
        # (SIGKILL, a lost worker) before it could stop the attempt. It must not run beside
        # the next one: killed if it still runs here, and recorded as lost
        stale = LiveAttempt(earlier.task_id, planned, attempt=earlier.attempt, cache_key=key)
        earlier = close_stale(store, earlier, _spec(graph, store, run, stale, inputs, policy))
    if earlier is not None and earlier.final and not _may_follow(policy, node, earlier):
        raise FlowkitError(
            f"task {earlier.pathspec} failed for good at attempt {earlier.attempt} "
            f"({earlier.status}); its @retry has no attempt left, so it does not run again",
            "recover the run with flowkit: python FLOW_FILE resume --origin-run-id "
            f"{run.run_id} (or start a new DAG run); clearing the task in Airflow does not",
        )
    task = LiveAttempt(
        earlier.task_id if earlier else store.records.new_task_id(),
        planned,
        attempt=earlier.attempt + 1 if earlier else 0,
        cache_key=key,
    )
    spec = _spec(graph, store, run, task, inputs, policy)
    record = _attempt(store, spec, policy.timeout(node))
    if record.successful:
        return StepResult(record, planned)
    if airflow_retries and task.attempt < policy.retries(node, record):
        return StepResult(record, planned, retry=True)
    catch = policy.catch(node)
    if catch is not None:  # not a retry: one more attempt only stores the exception
        error = str(record.exception) if record.exception else record.status
        caught = caught_attempt(task, record, catch.args, error)
        caught_spec = _spec(graph, store, run, caught, inputs, policy)
        record = _attempt(store, caught_spec, None)
        if record.successful:
            return StepResult(record, planned)
        spec = caught_spec
    dead_letter(store, record, spec, alerts)
    return StepResult(record, planned)


def _may_follow(policy: FailurePolicy, node: Any, earlier: TaskRecord) -> bool:
    """Whether a new attempt may follow the failed final attempt ``earlier``: Airflow
    stopped it (killed: a timeout, a cancel, its task's process gone), or its step's retries
    (``@retry``, the retry setting, the one retry of a lost attempt) allow one more."""
    return earlier.status == "killed" or earlier.attempt < policy.retries(node, earlier)


def close_stale(store: Store, record: TaskRecord, spec: TaskSpec) -> TaskRecord:
    """End the attempt ``record`` that no Airflow task watches any more: its final record
    written as lost, unless it wrote its own meanwhile, then its process (and everything
    below it) killed if it still runs on this machine."""
    from flowkit.task.outcome import final_record

    # Recorded before it is killed: killed first, the flowkit.worker still running it would
    # record the kill as the attempt's own crash.
    closed = final_record(
        store,
        spec,
        -9,
        worker_lost=True,
        reason="the Airflow task running this attempt ended without ending it (its process "
        "was killed); a later Airflow try found it unfinished",
    )
    kill_attempt(record)
    return closed


def kill_attempt(record: TaskRecord) -> None:
    """Kill the process tree of the running attempt ``record`` if it runs on this machine,
    and only if the process with its pid started before the attempt did (not a reused pid)."""
    import os
    import time

    from flowkit.executor.reaper import kill_tree, start_time
    from flowkit.store.runs import host

    if record.pid is None or record.host != host():
        return
    started = start_time(record.pid)
    if started is None:
        return
    try:
        boot = next(
            float(line.split()[1])
            for line in open("/proc/stat").read().splitlines()  # noqa: SIM115
            if line.startswith("btime ")
        )
    except (OSError, StopIteration, ValueError):
        return
    began = boot + started / os.sysconf("SC_CLK_TCK")
    if began <= record.started_at + 1.0 and began <= time.time():
        kill_tree(record.pid, start=started)


def _earlier(
    store: Store, run: AirflowRun, planned: PlannedTask, inputs: list[TaskRecord]
) -> TaskRecord | None:
    """The latest attempt of this very task, if an earlier Airflow try ran it: the task of
    the step with the same parents and foreach position."""
    parents = tuple(f"{r.flow}/{r.run_id}/{r.step}/{r.task_id}" for r in inputs)
    foreach = tuple(b.index for b in planned.path if b.kind == "foreach")
    if planned.step not in store.records.list_steps(run.flow, run.run_id):
        return None
    for record in store.records.list_tasks(run.flow, run.run_id, planned.step):
        if tuple(record.parents) == parents and tuple(record.foreach) == foreach:
            return record
    return None


def _spec(
    graph: FlowGraph,
    store: Store,
    run: AirflowRun,
    task: Any,
    inputs: list[TaskRecord],
    policy: FailurePolicy,
) -> TaskSpec:
    from flowkit.runtime.attempts import spec_fields
    from flowkit.task.spec import task_spec

    record = store.records.get_run(run.flow, run.run_id)
    node = graph.steps[task.planned.step]
    return task_spec(
        node,
        store=store.url,
        flow=run.flow,
        run_id=run.run_id,
        task_id=task.task_id,
        attempt=task.attempt,
        code=run.code_ref,
        inputs=tuple(f"{r.step}/{r.task_id}/{r.attempt}" for r in inputs),
        path=task.planned.path,
        parameters=run.parameters,
        origin_run_id=record.origin_run_id,
        user=record.user,
        tags=tuple(record.tags),
        system_tags=tuple(record.system_tags),
        cache_key=task.cache_key,
        catch=task.catch,
        **spec_fields(policy, node, task.attempt),
    )


def _attempt(store: Store, spec: TaskSpec, timeout: float | None) -> TaskRecord:
    """Run one attempt as ``python -m flowkit.worker STORE KEY``, killed with everything it
    started at ``timeout`` (the step's ``@timeout``); its final record."""
    from flowkit.runtime.heartbeat import Heartbeat
    from flowkit.task.outcome import final_record

    key = store.put_spec(spec.to_json())
    command = [sys.executable, "-m", "flowkit.worker", store.url, key]
    # the run lives while its task runs, however long (the caller renews the run's longer
    # lease, for the wait in Airflow's queue before the next task, once it ends)
    heartbeat = Heartbeat(store, spec.flow, spec.run_id).start()
    process = subprocess.Popen(command, start_new_session=True)
    timed_out = False
    try:
        status = process.wait(timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        status = _kill(process)
    except BaseException:  # Airflow stopped its task (SIGTERM, see airflow_task): so does this
        final_record(store, spec, _kill(process), killed=True)
        raise
    finally:
        heartbeat.stop()
    return final_record(store, spec, status, timeout=timeout if timed_out else None)


def _kill(process: subprocess.Popen[bytes]) -> int:
    """Kill the worker and every process below it: the task runs in a session of its own
    (the fork server's shepherd), which killing the worker's process group would spare."""
    from flowkit.executor.reaper import kill_tree

    kill_tree(process.pid)
    return process.wait()
