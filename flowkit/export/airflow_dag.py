"""The text of an Airflow 3 DAG that runs a flow: one Airflow task per step, each running
``python -m flowkit.export.airflow_task step ...`` (flowkit's task code, on the flow's code
package in the store), between a first task that creates the run and a last one that ends it.

How the flow's graph maps (:mod:`flowkit.export.shape` refuses what does not):

- a step is a ``@task``; its parents' results (XCom) say which flowkit tasks it follows;
- a foreach: its task pushes one entry per item (XCom), and each step of the body is a mapped task
  (dynamic task mapping: one per item); the foreach's join takes them all (fan-in);
- a static split's branches are parallel tasks; its join waits for them all;
- a switch: a branch task follows the case the step chose; the others are skipped, and the
  step where the cases meet runs when one ran and none failed;
- ``@retry`` -> ``retries`` with exponential backoff and ``max_retry_delay``; ``@timeout`` ->
  flowkit kills the task at its timeout, and ``execution_timeout`` (a minute later) is
  Airflow's backstop; ``@schedule`` -> the DAG's cron timetable in its time zone;
  ``@trigger_on_finish`` -> the Asset that the upstream flow's exported DAG emits when a run
  of it succeeds (every exported DAG emits ``flowkit://<FlowName>``); ``@trigger(event=NAME)``
  -> the Asset ``flowkit-event://NAME``, whose event's ``extra`` is the event's payload: the
  run's parameters are mapped from it as ``@trigger(event={"parameters": ...})`` says.

The DAG imports nothing of flowkit: Airflow's environment needs only Airflow, and the tasks
run the interpreter given at export (``--python``; ``$FLOWKIT_PYTHON`` overrides it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flowkit.authoring.decorators import timeout_seconds
from flowkit.export.shape import StepShape
from flowkit.graph.model import FlowGraph, StepNode

#: Seconds Airflow's ``execution_timeout`` allows past a step's ``@timeout``, for flowkit to
#: kill the task and record why first.
TIMEOUT_GRACE = 60


@dataclass(frozen=True)
class DagOptions:
    """What the DAG is made with besides the graph."""

    dag_id: str
    code: dict[str, Any]
    python: str
    #: The store URL baked in; "": ``$FLOWKIT_STORE`` where the tasks run.
    store: str
    #: The flow file the code package was made from (a resume's hint names it).
    source: str
    #: ``(cron, timezone)``; None: no schedule.
    cron: tuple[str, str | None] | None = None
    catchup: bool = False
    #: Upstream flows whose successful runs trigger this one.
    on_finish: tuple[str, ...] = ()
    #: ``@trigger``'s events: (name, ((flow parameter, payload field), ...)) each.
    events: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    #: flowkit's overlap policy: "allow" lets runs overlap; "skip" and "queue" run one at
    #: a time (Airflow queues the next run; it cannot skip it).
    overlap: str = "skip"


def asset_uri(flow: str) -> str:
    """The Asset an exported DAG of ``flow`` emits when a run succeeds."""
    return f"flowkit://{flow}"


def render(graph: FlowGraph, shapes: dict[str, StepShape], options: DagOptions) -> str:
    """The DAG file's text."""
    body = list(_tasks(graph, shapes))
    return _HEAD.format(
        flow=graph.name,
        file=options.source,
        python=options.python,
        store=options.store,
        code=json.dumps(options.code, sort_keys=True),
        source=options.source,
        events={name: dict(mapping) for name, mapping in options.events},
    ) + _dag(graph, options, body)


def _dag(graph: FlowGraph, options: DagOptions, body: list[str]) -> str:
    lines = [
        "",
        "with DAG(",
        f"    dag_id={options.dag_id!r},",
        f"    description={(graph.doc.splitlines() or [f'flowkit flow {graph.name}'])[0]!r},",
        f"    schedule={_schedule(options)},",
        f"    start_date=datetime({_today()}, tzinfo=timezone.utc),",
        f"    catchup={options.catchup!r},",
        f"    max_active_runs={16 if options.overlap == 'allow' else 1},",
        '    tags=["flowkit"],',
        ") as dag:",
        "    run = flowkit_start_run()",
        *(f"    {line}" for line in body),
        f"    done = flowkit_end_run.override(outlets=[flowkit_asset({graph.name!r})])("
        'run, out["end"])',
        "    [*out.values(), *choices] >> done",
        "",
    ]
    return "\n".join(lines)


def _today() -> str:
    now = datetime.now(UTC)
    return f"{now.year}, {now.month}, {now.day}"


def _schedule(options: DagOptions) -> str:
    timetable = None
    if options.cron is not None:
        cron, zone = options.cron
        timetable = f"CronTriggerTimetable({cron!r}, timezone={zone or 'UTC'!r})"
    groups = [
        " & ".join(f"flowkit_asset({flow!r})" for flow in options.on_finish),
        " & ".join(f"flowkit_event_asset({name!r})" for name, _ in options.events),
    ]
    # the upstream flows all finished, or the events all happened: either starts a run
    assets = " | ".join(f"({g})" if "&" in g else g for g in groups if g)
    if timetable and assets:
        return f"AssetOrTimeSchedule(timetable={timetable}, assets={assets})"
    return timetable or assets or "None"


def _tasks(graph: FlowGraph, shapes: dict[str, StepShape]) -> Iterator[str]:
    """One statement per step (and per switch, its branch task), parents first."""
    yield "out = {}"
    yield "choices = []"
    cases: dict[str, str] = {}  # case step -> its switch's branch task variable
    for name, shape in shapes.items():
        node = graph.steps[name]
        call = f"flowkit_step.override({_overrides(node, shape)})"
        parents = [p for p in node.parents if p in shapes]
        if shape.mapped:
            (parent,) = parents
            made = f"{call}.partial(run=run, step={name!r}).expand(parent=out[{parent!r}])"
        elif shape.fan_in:
            (parent,) = parents
            made = f"{call}(run, {name!r}, parents=out[{parent!r}])"
        else:
            made = f"{call}(run, {name!r}, parents=[{', '.join(f'out[{p!r}]' for p in parents)}])"
        yield f"out[{name!r}] = {made}"
        if name in cases:
            yield f"{cases[name]} >> out[{name!r}]"
        if node.transition == "switch":
            variable = f"choose_{name}"
            follow = {t: _followed(graph, node, t) for t in node.targets}
            yield (
                f"{variable} = flowkit_switch.override(task_id={'choose-' + name!r})"
                f"(out[{name!r}], {follow!r})"
            )
            yield f"choices.append({variable})"
            for target in node.targets:
                cases[target] = variable


def _followed(graph: FlowGraph, switch: StepNode, case: str) -> list[str]:
    """The tasks a switch's branch follows for ``case``: the case, and any other case the
    case leads to (where the cases meet again must not be skipped)."""
    seen: set[str] = set()
    todo = [case]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += graph.steps[name].targets
    return [case, *(t for t in switch.targets if t != case and t in seen)]


def _overrides(node: StepNode, shape: StepShape) -> str:
    """The Airflow task's settings from the step's decorators."""
    settings: list[str] = [f"task_id={node.name!r}"]
    if shape.converges:
        settings.append('trigger_rule="none_failed_min_one_success"')
    retry = node.decorator("retry")
    if retry is not None and int(retry.args.get("times", 0)) > 0:
        args = retry.args
        base = float(args.get("backoff", 1.0))
        if args.get("minutes_between_retries") is not None:
            base = 60.0 * float(args["minutes_between_retries"])
        settings += [
            f"retries={int(args['times'])}",
            f"retry_delay=timedelta(seconds={base:g})",
            "retry_exponential_backoff=2.0",
            f"max_retry_delay=timedelta(seconds={float(args.get('max_delay', 60.0)):g})",
        ]
    timeout = node.decorator("timeout")
    if timeout is not None:
        seconds = timeout_seconds(timeout) + TIMEOUT_GRACE
        settings.append(f"execution_timeout=timedelta(seconds={seconds:g})")
    return ", ".join(settings)


_HEAD = '''"""Airflow DAG of the flowkit flow {flow}, written by `flowkit airflow create` from
{file}: edit the flow and export it again rather than this file.

Each task runs flowkit's task code with the Python below (it needs flowkit and the flow's
dependencies; $FLOWKIT_PYTHON overrides it) on the flow's code package, snapshotted into the
store at export; the run's records land in that store, for flowkit's client, UI and resume.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, Asset, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

PYTHON = os.environ.get("FLOWKIT_PYTHON") or {python!r}
#: The store the run's records land in ("": $FLOWKIT_STORE where the tasks run).
STORE = {store!r}
#: The flow's code package in the store, as flowkit's worker finds it.
CODE = {code!r}
SOURCE = {source!r}
RESULT = "flowkit-result: "
#: The exit status of a step that failed and may be retried (its @retry has attempts left).
RETRY = 75


#: @trigger's events: name -> {{flow parameter: payload field}}.
EVENTS = {events!r}


def flowkit_asset(flow):
    """What an exported DAG of FLOW emits when a run of it succeeds."""
    return Asset(name="flowkit." + flow, uri="flowkit://" + flow)


def flowkit_event_asset(event):
    """The flowkit event EVENT as an Asset: emit it (with the payload as its extra) to fire."""
    return Asset(name="flowkit.event." + event, uri="flowkit-event://" + event)


def flowkit_event_parameters(triggering):
    """Parameters from the payloads (extra) of the latest asset events that fired this run."""
    given = {{}}
    for event, mapping in EVENTS.items():
        fired = triggering.get(flowkit_event_asset(event)) or []
        payload = (fired[-1].extra or {{}}) if fired else {{}}
        given.update({{p: payload[f] for p, f in mapping.items() if f in payload}})
    return given


def flowkit(*args):
    """Run `python -m flowkit.export.airflow_task ARGS` and return the result it prints; its
    other output goes to this task's log. If Airflow stops this task, flowkit is told to stop
    (SIGTERM: it kills the step's process group and records the attempt as killed)."""
    command = [PYTHON, "-m", "flowkit.export.airflow_task", *args]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    result = None
    try:
        for line in process.stdout:
            if line.startswith(RESULT):
                result = json.loads(line[len(RESULT) :])
            else:
                print(line, end="", flush=True)
        status = process.wait()
    except BaseException:  # Airflow stops this task: flowkit kills its own and records it
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        raise
    if status == RETRY:
        raise RuntimeError(f"flowkit {{args[0]}} {{args[3]}} failed; its @retry tries again")
    if status != 0:
        raise AirflowFailException(f"flowkit {{args[0]}} failed (exit status {{status}})")
    return result


@task(task_id="flowkit-start-run")
def flowkit_start_run():
    """Create the flowkit run: its parameters by name from the DAG run's conf, else from the
    payload of the event that fired it."""
    context = get_current_context()
    given = flowkit_event_parameters(context.get("triggering_asset_events") or {{}})
    given.update(context["dag_run"].conf or {{}})
    return flowkit("start", os.environ.get("FLOWKIT_STORE", "") if not STORE else STORE,
                   CODE, SOURCE, json.dumps(given))


@task
def flowkit_step(run, step, parents=(), parent=None):
    """Run the flowkit task of STEP that its parents' tasks made ready. A foreach step's
    result is one entry per item, {{"task": the foreach task, "index": the item}}: what the
    body's first step maps over (``parent``)."""
    found = [*parents, *([parent] if parent is not None else [])]
    index = ""
    if parent is not None and "index" in parent:
        found, index = [parent["task"]], str(parent["index"])
    tries = str(get_current_context()["ti"].try_number)
    return flowkit("step", run["store"], run["run"], step, json.dumps(list(found)), index, tries)


@task.branch
def flowkit_switch(described, follow):
    """Follow the case the switch step chose."""
    return follow[described["next"][0]]


@task(task_id="flowkit-end-run", trigger_rule="all_done")
def flowkit_end_run(run, end):
    """Record the run's end: succeeded when its end step did."""
    if run is None:
        raise AirflowFailException("the flowkit run was not created: see flowkit-start-run's log")
    return flowkit("end", run["store"], run["run"], json.dumps(end))

'''
