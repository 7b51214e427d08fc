"""``python -m flowkit.export.airflow_task start|step|end ...``: what each task of a DAG that
``flowkit airflow create`` wrote runs (with the interpreter of a Python environment that has
flowkit and the flow's dependencies), one command per Airflow task. Each reads one JSON
document on its standard input (a foreach's join has one parent per item: far more than one
command-line argument holds):

- ``start STORE CODE SOURCE SETTINGS``: create the run (its record, settled parameters from
  the DAG run's ``conf``) from the code package CODE (a CodeRef as JSON) snapshotted at
  export, with the settings stored at export under the key SETTINGS ("": resolved here).
  Input: ``{"conf": {...}, "triggers": [...], "dag_id": ..., "dag_run_id": ...}``
  (triggers: the asset events that fired the DAG run, ``{"uri", "extra", "at"}`` each);
- ``step STORE RUN STEP INDEX TRY MAX_TRIES``: run the task of STEP that its parents make
  ready (INDEX: a foreach body's item, "" for none; TRY and MAX_TRIES: Airflow's try number
  and max_tries, which say whether Airflow runs the task again if this try fails). Input: the
  parents' descriptions, as their tasks printed them;
- ``end STORE RUN``: write the run's end record (succeeded if the ``end`` step's description,
  the input, names a successful task; else failed); an attempt still open is closed as killed.

A step exits 75 when its attempt failed and both its retries and Airflow allow another try
(Airflow retries), and 1 when it failed for good (``@catch`` and the dead letter applied);
any other error exits 2 after saying what is wrong. Each command prints one line
``flowkit-result: JSON`` last (what the DAG passes on as XCom).

SIGTERM (Airflow stopping its task), and the end of the process that started this one (the
Airflow task's, killed), kill a running attempt with everything below it and record it as
killed.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from flowkit.errors import FlowkitError, ParameterError

#: The line prefix the DAG reads the command's result from.
RESULT_PREFIX = "flowkit-result: "

#: How often the command checks that the Airflow task that started it is still there.
PARENT_CHECK_SECONDS = 0.5


def main(argv: list[str] | None = None, given: str | None = None) -> int:
    """Run one command; ``given`` is its JSON input (None: read standard input)."""
    args = list(sys.argv[1:] if argv is None else argv)
    commands: dict[str, tuple[Callable[..., tuple[Any, int]], int]] = {
        "start": (_start, 4),
        "step": (_step, 6),
        "end": (_end, 2),
    }
    if not args or args[0] not in commands or len(args) - 1 != commands[args[0]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    command, _ = commands[args[0]]
    try:
        text = sys.stdin.read() if given is None else given
        try:
            document = json.loads(text or "null")
        except ValueError as exc:
            raise FlowkitError(
                f"airflow_task {args[0]}: its input is not JSON ({exc})",
                "run it from the DAG that `flowkit airflow create` wrote",
            ) from None
        result, status = command(document, *args[1:])
    except FlowkitError as error:
        print(f"error: {error.render()}", file=sys.stderr, flush=True)
        return 2
    sys.stdout.flush()
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return status


def _terminated(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def watch_parent(every: float = PARENT_CHECK_SECONDS) -> threading.Thread:
    """Send this process SIGTERM once the process that started it is gone (re-parented):
    the Airflow task that runs this command was killed (SIGKILL, out of memory), and its
    attempt must not run on unwatched beside the attempt Airflow's next try starts."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, name="flowkit-parent-watch", daemon=True)
    thread.start()
    return thread


def _store(url: str) -> Any:
    from flowkit.store import UnsharedStoreError, open_store

    store = open_store(url or None)  # "": FLOWKIT_STORE, as settings resolve it
    if not store.shared:
        raise UnsharedStoreError(store.url)
    return store


def _start(
    given: dict[str, Any] | None, store_url: str, code_json: str, source: str, settings_key: str
) -> tuple[Any, int]:
    from flowkit.export.run_spec import AirflowRun, load_code, run_settings
    from flowkit.lint.api import check
    from flowkit.runtime.settle import (
        configured_flow,
        create_run_record,
        project_tags,
        settle_parameters,
    )
    from flowkit.settings import Settings
    from flowkit.task.spec import CodeRef

    given = given or {}
    store = _store(store_url)
    code = CodeRef.from_json(json.loads(code_json))
    flow_cls = load_code(code, store)
    if settings_key and not store.values.has(settings_key):
        raise FlowkitError(
            f"the settings {code.flow}'s DAG was exported with ({settings_key[:12]}) are not "
            f"in the store at {store.url}",
            "export the DAG again with --store naming the store Airflow's workers use",
        )
    settings = (
        json.loads(store.get_spec(settings_key))["airflow_settings"]
        if settings_key
        else run_settings(Settings.resolve())
    )
    conf = given.get("conf") or {}
    if not isinstance(conf, dict):
        raise ParameterError(
            f"the DAG run's conf is {type(conf).__name__}, not a JSON object",
            "give the flow's parameters by name: airflow dags trigger DAG -c '{\"alpha\": 0.5}'",
        )
    try:
        configured, params = configured_flow(flow_cls, dict(conf), None, None)
        graph = check(configured)
        parameters, shown = settle_parameters(configured, store, params, None)
    except ParameterError as error:
        raise ParameterError(
            f"{error.message} (in the DAG run's conf)",
            "give the flow's parameters in the DAG run's conf by name, each as JSON of its "
            "type (the Trigger DAG form, or airflow dags trigger DAG -c '{\"name\": value}'); "
            + conf_hint(flow_cls, error),
            parameter=error.parameter,
        ) from None
    record = create_run_record(
        store,
        graph,
        parameters,
        shown,
        code_digest=code.target,
        tags=[],
        system_tags=(
            *project_tags(configured, None),
            *airflow_tags(given),
            *trigger_tags_of(given.get("triggers") or []),
        ),
        source=source or None,
    )
    run = AirflowRun(
        record.flow, record.run_id, json.loads(json.dumps(vars(code))), parameters, settings
    )
    try:
        key = store.put_spec(run.to_json())
        run.renew(store)
    except BaseException as exc:  # stopped (SIGTERM) before Airflow has the run's key
        from flowkit.runtime.drive import end_unstarted

        end_unstarted(store, record, exc)  # it reads failed, not running for an hour
        raise
    print(f"flowkit: run {record.flow}/{record.run_id} in the store at {store.url}", flush=True)
    return {"store": store.url, "run": key, "flow": record.flow, "run_id": record.run_id}, 0


def conf_hint(flow_cls: type, error: ParameterError) -> str:
    """What the flow's parameters are, for a conf that gives one wrongly: the command line's
    hint ("pass --n ...") names options a DAG run does not have."""
    from flowkit.authoring.parameters import parameters_of

    if error.hint.startswith("did you mean"):
        return error.hint
    kinds = {p.name: p.kind for p in parameters_of(flow_cls)}
    if error.parameter in kinds:
        return f"'{error.parameter}' takes a value of type {kinds[error.parameter]}"
    return "its parameters: " + (", ".join(f"{n} ({k})" for n, k in kinds.items()) or "none")


def airflow_tags(given: dict[str, Any]) -> tuple[str, ...]:
    """System tags naming the DAG and the DAG run that executed the run."""
    return tuple(
        f"airflow:{what}:{given[key]}"
        for what, key in (("dag", "dag_id"), ("dag_run", "dag_run_id"))
        if given.get(key)
    )


def trigger_tags_of(triggers: list[dict[str, Any]]) -> tuple[str, ...]:
    """``current.trigger``'s system tags for the asset events that fired the DAG run: an
    upstream flow's run (``flowkit://FLOW``, whose exported DAG names the run in the event's
    extra) or a flowkit event (``flowkit-event://NAME``)."""
    from flowkit.client.trigger import trigger_tags

    tags: list[str] = []
    for event in triggers:
        # Airflow normalizes a URI with no path to end in "/": flowkit://Flow/
        uri, extra = str(event.get("uri", "")).rstrip("/"), event.get("extra") or {}
        at = float(event.get("at") or 0.0)
        if uri.startswith("flowkit://") and extra.get("run_id"):
            tags.append(trigger_tags("run", f"{uri[len('flowkit://') :]}/{extra['run_id']}", at))
        elif uri.startswith("flowkit-event://"):
            ident = extra.get("id") or event.get("id") or "airflow"
            tags.append(trigger_tags("event", f"{uri[len('flowkit-event://') :]}/{ident}", at))
    return tuple(tags)


def _refuse_ended(store: Any, flow: str, run_id: str, source: str | None) -> None:
    """A run that has ended runs nothing more: clearing an Airflow task does not recover it."""
    from flowkit.client.objects import resume_hint

    ended = store.records.get_run_end(flow, run_id)
    if ended is not None:
        raise FlowkitError(
            f"run {flow}/{run_id} has ended ({ended.status}); none of its tasks runs again",
            f"recover it with flowkit: {resume_hint(flow, run_id, source)} (or start a new "
            "DAG run); clearing tasks in Airflow does not recover a flowkit run",
        )


def _step(
    given: list[dict[str, Any]] | None,
    store_url: str,
    run_key: str,
    step: str,
    index: str,
    tries: str,
    max_tries: str,
) -> tuple[Any, int]:
    from flowkit.export.airflow_step import FAILED_STATUS, RETRY_STATUS, plan, run_step
    from flowkit.export.run_spec import AirflowRun, flow_of

    store = _store(store_url)
    run = AirflowRun.load(store, run_key)
    record = store.records.get_run(run.flow, run.run_id)
    _refuse_ended(store, run.flow, run.run_id, record.source)
    flow_cls, graph = flow_of(run.code_ref, store, dict(record.parameter_digests))
    if step not in graph.steps:
        raise FlowkitError(
            f"{run.flow} has no step '{step}'", "export the DAG again from the flow's file"
        )
    parents = [p for p in (given or []) if p is not None]
    planned, inputs = plan(graph, store, run, step, parents, int(index) if index else None)
    run.renew(store)
    try_number, most = int(tries or 0), int(max_tries or 0)
    result = run_step(
        graph,
        store,
        run,
        planned,
        inputs,
        run.alerts(flow_cls),
        policy=run.policy,
        airflow_retries=most != 0 and try_number <= most,
        first_try=try_number == 1,
    )
    run.renew(store)
    described = result.describe()
    if result.record.successful:
        if graph.steps[step].transition == "foreach":
            return [{"task": described, "index": i} for i in range(described["count"] or 0)], 0
        return described, 0
    print(
        f"flowkit: task {result.record.pathspec} attempt {result.record.attempt} "
        f"{result.record.status}: {result.record.exception or ''}",
        file=sys.stderr,
        flush=True,
    )
    return described, RETRY_STATUS if result.retry else FAILED_STATUS


def _end(given: dict[str, Any] | None, store_url: str, run_key: str) -> tuple[Any, int]:
    from flowkit.client.objects import resume_hint
    from flowkit.export.run_spec import AirflowRun, flow_of
    from flowkit.runtime.deadletter import run_alert

    store = _store(store_url)
    run = AirflowRun.load(store, run_key)
    record = store.records.get_run(run.flow, run.run_id)
    ended = store.records.get_run_end(run.flow, run.run_id)
    if ended is None:
        closed = _close_open_attempts(store, run.flow, run.run_id)
        end = given
        succeeded = (
            not closed
            and end is not None
            and store.records.get_task(run.flow, run.run_id, "end", end["task_id"]).successful
        )
        failed = None if succeeded else _first_failure(store, run.flow, run.run_id)
        message = None
        if not succeeded:
            message = (
                f"task {failed.pathspec} failed" if failed else "a task of the run did not run"
            ) + f"; resume it: {resume_hint(record.flow, record.run_id, record.source)}"
        ended = store.records.end_run(
            run.flow, run.run_id, "succeeded" if succeeded else "failed", message=message
        )
        flow_cls, _ = flow_of(run.code_ref, store, dict(record.parameter_digests))
        alerts = run.alerts(flow_cls)
        if alerts:
            alerts.emit(run_alert(store, record, ended.status, failed, message))
    print(f"flowkit: run {run.flow}/{run.run_id} {ended.status}", flush=True)
    if ended.message:
        print(f"flowkit: {ended.message}", file=sys.stderr, flush=True)
    return {"flow": run.flow, "run_id": run.run_id, "status": ended.status}, (
        0 if ended.status == "succeeded" else 1
    )


def _close_open_attempts(store: Any, flow: str, run_id: str) -> list[Any]:
    """Close every attempt of the run that is still open (its Airflow task's process was
    killed, and nothing tried it again) as killed, its process killed if it runs here: the
    run ends with nothing of it running. The attempts closed."""
    from flowkit.export.airflow_step import kill_attempt
    from flowkit.store import RecordExistsError
    from flowkit.store.records import ExceptionInfo
    from flowkit.task.caught import qualified_name
    from flowkit.task.outcome import TaskKilled

    closed = []
    for step in store.records.list_steps(flow, run_id):
        for task in store.records.list_tasks(flow, run_id, step):
            if task.final:
                continue
            info = ExceptionInfo(
                TaskKilled.__name__,
                "the task was killed: its run ended while the attempt was unfinished (the "
                "Airflow task running it was killed)",
                "",
                qualified_name(TaskKilled),
            )
            # Recorded before it is killed: what runs the attempt (a worker left running
            # when its Airflow task was killed) would else record the kill as its failure.
            try:
                store.records.finish_task(task.finished("killed", exception=info))
            except RecordExistsError:  # it wrote its own final record meanwhile
                pass
            else:
                closed.append(task)
            kill_attempt(task)  # either way: the run ends with nothing of it running
    return closed


def _first_failure(store: Any, flow: str, run_id: str) -> Any:
    """The first task of the run whose latest attempt failed, if any did."""
    for step in store.records.list_steps(flow, run_id):
        for task in store.records.list_tasks(flow, run_id, step):
            if task.final and not task.successful:
                return task
    return None


if __name__ == "__main__":
    # Airflow stopping its task (its timeout, a cancel) sends SIGTERM: a step's running
    # attempt is then killed whole and recorded as killed before this exits. So does the
    # Airflow task's own end (it was killed): this must not outlive it
    signal.signal(signal.SIGTERM, _terminated)
    watch_parent()
    sys.exit(main())
