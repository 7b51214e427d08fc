"""``python -m flowkit.export.airflow_task start|step|end ...``: what each task of a DAG that
``flowkit airflow create`` wrote runs (with the interpreter of a Python environment that has
flowkit and the flow's dependencies), one command per Airflow task:

- ``start STORE CODE SOURCE CONF``: create the run (its record, settled parameters from the
  DAG run's ``conf``) from the code package CODE (a CodeRef as JSON) snapshotted at export;
- ``step STORE RUN STEP PARENTS [INDEX [TRY]]``: run the task of STEP that its PARENTS (JSON:
  the descriptions their tasks printed) make ready (INDEX: a foreach body's item, "" for
  none; TRY: Airflow's try number, "1" saying no earlier attempt of it exists);
- ``end STORE RUN END``: write the run's end record (succeeded if END, the ``end`` step's
  description, names a successful task; else failed).

SIGTERM kills a running attempt's process group and records it as killed. Each prints one
line ``flowkit-result: JSON`` last (what the DAG passes on as XCom) and exits
0; a step that failed exits 75 when its ``@retry`` allows another attempt (Airflow retries)
and 1 when not; any other error exits 2 after saying what is wrong.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable
from typing import Any

from flowkit.errors import FlowkitError

#: The line prefix the DAG reads the command's result from.
RESULT_PREFIX = "flowkit-result: "


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    commands: dict[str, tuple[Callable[..., tuple[Any, int]], int]] = {
        "start": (_start, 4),
        "step": (_step, 4),
        "end": (_end, 3),
    }
    if not args or args[0] not in commands or len(args) - 1 < commands[args[0]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    command, _ = commands[args[0]]
    try:
        result, status = command(*args[1:])
    except FlowkitError as error:
        print(f"error: {error.render()}", file=sys.stderr, flush=True)
        return 2
    sys.stdout.flush()
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return status


def _terminated(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _store(url: str) -> Any:
    from flowkit.store import UnsharedStoreError, open_store

    store = open_store(url or None)  # "": FLOWKIT_STORE, as settings resolve it
    if not store.shared:
        raise UnsharedStoreError(store.url)
    return store


def _start(store_url: str, code_json: str, source: str, conf: str) -> tuple[Any, int]:
    from flowkit.export.run_spec import AirflowRun
    from flowkit.lint.api import check
    from flowkit.runtime.settle import configured_flow, settle_parameters
    from flowkit.task.code import load_flow_class
    from flowkit.task.spec import CodeRef

    store = _store(store_url)
    code = CodeRef.from_json(json.loads(code_json))
    if code.kind == "package" and not store.values.has(code.target):
        raise FlowkitError(
            f"the code package of {code.flow} ({code.target[:12]}) is not in the store at "
            f"{store.url}",
            "export the DAG again with --store naming the store Airflow's workers use (the "
            "package is stored there at export)",
        )
    flow_cls = load_flow_class(code, store)
    params = json.loads(conf or "{}") or {}
    configured, params = configured_flow(flow_cls, params, None, None)
    graph = check(configured)
    parameters, shown = settle_parameters(configured, store, params, None)
    record = store.records.create_run(
        graph.name,
        parameters=shown,
        code_digest=code.target,
        tags=[],
        steps=[s.name for s in graph.ordered()],
        step_code={s.name: s.code for s in graph.steps.values()},
        graph={s.name: list(s.targets) for s in graph.steps.values()},
        source=source or None,
        parameter_digests={attr: digest for attr, (digest, _, _) in parameters.items()},
        system_tags=_project_tags(configured),
    )
    run = AirflowRun(record.flow, record.run_id, json.loads(json.dumps(vars(code))), parameters)
    key = store.put_spec(run.to_json())
    run.renew(store)
    print(f"flowkit: run {record.flow}/{record.run_id} in the store at {store.url}", flush=True)
    return {"store": store.url, "run": key, "flow": record.flow, "run_id": record.run_id}, 0


def _project_tags(flow_cls: type) -> tuple[str, ...]:
    """``@project``'s system tags of the run (its user branch: the Airflow worker's user)."""
    from flowkit.authoring.project import project_of
    from flowkit.settings import current_user

    info = project_of(flow_cls, user=current_user())
    return () if info is None else info.system_tags


def _step(
    store_url: str, run_key: str, step: str, parents_json: str, index: str = "", tries: str = ""
) -> tuple[Any, int]:
    from flowkit.export.airflow_step import FAILED_STATUS, RETRY_STATUS, plan, run_step
    from flowkit.export.run_spec import AirflowRun, flow_of
    from flowkit.runtime.alerts import alerts_for
    from flowkit.settings import Settings

    store = _store(store_url)
    run = AirflowRun.load(store, run_key)
    record = store.records.get_run(run.flow, run.run_id)
    flow_cls, graph = flow_of(run.code_ref, store, dict(record.parameter_digests))
    if step not in graph.steps:
        raise FlowkitError(
            f"{run.flow} has no step '{step}'", "export the DAG again from the flow's file"
        )
    parents = [p for p in json.loads(parents_json) if p is not None]
    planned, inputs = plan(graph, store, run, step, parents, int(index) if index else None)
    run.renew(store)
    alerts = alerts_for(flow_cls, Settings.resolve().alerts)
    result = run_step(graph, store, run, planned, inputs, alerts, first_try=tries == "1")
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


def _end(store_url: str, run_key: str, end_json: str) -> tuple[Any, int]:
    from flowkit.client.objects import resume_hint
    from flowkit.export.run_spec import AirflowRun, flow_of
    from flowkit.runtime.alerts import alerts_for
    from flowkit.runtime.deadletter import run_alert
    from flowkit.settings import Settings

    store = _store(store_url)
    run = AirflowRun.load(store, run_key)
    record = store.records.get_run(run.flow, run.run_id)
    ended = store.records.get_run_end(run.flow, run.run_id)
    if ended is None:
        end = json.loads(end_json or "null")
        succeeded = (
            end is not None
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
        alerts = alerts_for(flow_cls, Settings.resolve().alerts)
        if alerts:
            alerts.emit(run_alert(store, record, ended.status, failed, message))
    print(f"flowkit: run {run.flow}/{run.run_id} {ended.status}", flush=True)
    if ended.message:
        print(f"flowkit: {ended.message}", file=sys.stderr, flush=True)
    return {"flow": run.flow, "run_id": run.run_id, "status": ended.status}, (
        0 if ended.status == "succeeded" else 1
    )


def _first_failure(store: Any, flow: str, run_id: str) -> Any:
    """The first task of the run whose latest attempt failed, if any did."""
    for step in store.records.list_steps(flow, run_id):
        for task in store.records.list_tasks(flow, run_id, step):
            if task.final and not task.successful:
                return task
    return None


if __name__ == "__main__":
    # Airflow stopping its task (its timeout, a cancel) sends SIGTERM: a step's running
    # attempt is then killed whole and recorded as killed before this exits
    signal.signal(signal.SIGTERM, _terminated)
    sys.exit(main())
