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
from typing import TYPE_CHECKING, Any

from flowkit.authoring.decorators import timeout_seconds
from flowkit.export.shape import StepShape
from flowkit.fastdata import dataclass
from flowkit.graph.model import FlowGraph, StepNode

if TYPE_CHECKING:
    from flowkit.runtime.policy import FailurePolicy

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
    #: a time (Airflow queues the next run; it cannot skip it). Only a scheduled or
    #: triggered flow has one: a run started by hand runs whenever it is started.
    overlap: str = "skip"
    #: The key of the settings stored at export (see :func:`~flowkit.export.run_spec.run_settings`).
    settings: str = ""
    #: The DAG's params, one per flow parameter: (name, default or None, JSON schema type
    #: or None, whether a default is given, its help).
    params: tuple[tuple[str, Any, Any, bool, str], ...] = ()
    #: The DAG's start date, (year, month, day): a fixed one unless catchup needs one.
    start: tuple[int, int, int] = (2024, 1, 1)


def asset_uri(flow: str) -> str:
    """The Asset an exported DAG of ``flow`` emits when a run succeeds."""
    return f"flowkit://{flow}"


def render(
    graph: FlowGraph, shapes: dict[str, StepShape], options: DagOptions, policy: FailurePolicy
) -> str:
    """The DAG file's text; ``policy``: the steps' retries (their ``@retry``, else the
    ``retry`` setting)."""
    body = list(_tasks(graph, shapes, policy))
    return _HEAD.format(
        flow=graph.name,
        file=options.source,
        python=options.python,
        store=options.store,
        code=json.dumps(options.code, sort_keys=True),
        source=options.source,
        settings=options.settings,
        events={name: dict(mapping) for name, mapping in options.events},
    ) + _dag(graph, options, body)


def _dag(graph: FlowGraph, options: DagOptions, body: list[str]) -> str:
    scheduled = options.cron is not None or options.on_finish or options.events
    one_at_a_time = scheduled and options.overlap != "allow"
    lines = [
        "",
        "with DAG(",
        f"    dag_id={options.dag_id!r},",
        f"    description={(graph.doc.splitlines() or [f'flowkit flow {graph.name}'])[0]!r},",
        f"    schedule={_schedule(options)},",
        f"    start_date=datetime({', '.join(map(str, options.start))}, tzinfo=timezone.utc),",
        f"    catchup={options.catchup!r},",
        *(["    max_active_runs=1,"] if one_at_a_time else []),
        f"    params={_params(options)},",
        '    tags=["flowkit"],',
        ") as dag:",
        "    run = flowkit_start_run()",
        *(f"    {line}" for line in body),
        f"    done = flowkit_end_run.override(outlets=[flowkit_asset({graph.name!r})])("
        f'run, out["end"], {graph.name!r})',
        "    [*out.values(), *choices] >> done",
        "",
    ]
    return "\n".join(lines)


def _params(options: DagOptions) -> str:
    """The DAG's params (Airflow's trigger form shows them; a DAG run's conf is checked
    against them)."""
    made = []
    for name, default, kind, has_default, description in options.params:
        args = [repr(default)] if has_default else []
        if kind is not None:
            args.append(f"type={kind!r}")
        if description:
            args.append(f"description={description!r}")
        made.append(f"{name!r}: Param({', '.join(args)})")
    return "{" + ", ".join(made) + "}"


def _schedule(options: DagOptions) -> str:
    timetable = None
    if options.cron is not None:
        cron, zone = options.cron
        timetable = f"CronTriggerTimetable({cron!r}, timezone={zone or 'UTC'!r})"
    # any one upstream flow's successful run, or any one event, starts a run (as flowkit's
    # scheduler does: a run per upstream run or event)
    assets = " | ".join(
        [
            *(f"flowkit_asset({flow!r})" for flow in options.on_finish),
            *(f"flowkit_event_asset({name!r})" for name, _ in options.events),
        ]
    )
    if timetable and assets:
        return f"AssetOrTimeSchedule(timetable={timetable}, assets={assets})"
    return timetable or assets or "None"


def _tasks(graph: FlowGraph, shapes: dict[str, StepShape], policy: FailurePolicy) -> Iterator[str]:
    """One statement per step (and per switch, its branch task), parents first."""
    yield "out = {}"
    yield "choices = []"
    cases: dict[str, str] = {}  # case step -> its switch's branch task variable
    for name, shape in shapes.items():
        node = graph.steps[name]
        call = f"flowkit_step.override({_overrides(node, shape, policy)})"
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


def _overrides(node: StepNode, shape: StepShape, policy: FailurePolicy) -> str:
    """The Airflow task's settings from the step's decorators.

    Every step task may be retried at least once: an attempt that was *lost* (its process
    killed by a signal: out of memory, a lost machine) is retried even without ``@retry``,
    as locally. The task itself decides, from Airflow's try number and ``max_tries``,
    whether a failure is worth Airflow's retry (it exits for one only then) or is final
    (``@catch`` and the dead letter apply first)."""
    settings: list[str] = [f"task_id={node.name!r}"]
    if shape.converges:
        settings.append('trigger_rule="none_failed_min_one_success"')
    retry = policy.decorator(node, "retry")
    times = int(retry.args.get("times", 0)) if retry is not None else 0
    if retry is not None and times > 0:
        args = retry.args
        base = float(args.get("backoff", 1.0))
        if args.get("minutes_between_retries") is not None:
            base = 60.0 * float(args["minutes_between_retries"])
        settings += [
            f"retries={times}",
            f"retry_delay=timedelta(seconds={base:g})",
            "retry_exponential_backoff=2.0",
            f"max_retry_delay=timedelta(seconds={float(args.get('max_delay', 60.0)):g})",
        ]
    else:  # a lost attempt's one retry, at once
        settings += ["retries=1", "retry_delay=timedelta(seconds=0)"]
    timeout = policy.decorator(node, "timeout")
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

from airflow.sdk import DAG, Asset, Param, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

PYTHON = os.environ.get("FLOWKIT_PYTHON") or {python!r}
#: The store the run's records land in ("": $FLOWKIT_STORE where the tasks run).
STORE = {store!r}
#: The flow's code package in the store, as flowkit's worker finds it.
CODE = {code!r}
SOURCE = {source!r}
#: The settings the run's tasks use (retry, alerts, ...), stored at export under this key.
SETTINGS = {settings!r}
RESULT = "flowkit-result: "
#: The exit status of a step that failed and that Airflow is to try again.
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


def flowkit_triggers(triggering):
    """The asset events that fired this run, for the run's current.trigger."""
    return [
        {{
            "uri": event.asset.uri,
            "extra": dict(event.extra or {{}}),
            "at": event.timestamp.timestamp(),
            "id": event.source_run_id,
        }}
        for asset in triggering
        for event in triggering[asset]
    ]


def flowkit(*args, given=None):
    """Run `python -m flowkit.export.airflow_task ARGS` with GIVEN as JSON on its standard
    input, and return the result it prints; its other output goes to this task's log. If
    Airflow stops this task, flowkit is told to stop (SIGTERM: it kills the step's processes
    and records the attempt as killed); if this task's process is killed, flowkit's notices
    that it is gone and does the same."""
    command = [PYTHON, "-m", "flowkit.export.airflow_task", *args]
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    result = None
    try:
        with contextlib.suppress(BrokenPipeError):
            process.stdin.write(json.dumps(given))
            process.stdin.close()
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
        raise RuntimeError(f"flowkit {{args[0]}} {{args[3]}} failed; Airflow tries it again")
    if status != 0:
        raise AirflowFailException(f"flowkit {{args[0]}} failed (exit status {{status}})")
    return result


def flowkit_max_map_length():
    """Airflow's core.max_map_length: the most items a task may be mapped over."""
    try:
        from airflow.sdk.configuration import conf

        return conf.getint("core", "max_map_length", fallback=1024)
    except ImportError:
        return int(os.environ.get("AIRFLOW__CORE__MAX_MAP_LENGTH") or 1024)


@task(task_id="flowkit-start-run")
def flowkit_start_run():
    """Create the flowkit run: its parameters by name from the DAG run's conf, else from the
    payload of the event that fired it."""
    context = get_current_context()
    triggering = context.get("triggering_asset_events") or {{}}
    conf = flowkit_event_parameters(triggering)
    conf.update(context["dag_run"].conf or {{}})
    given = {{
        "conf": conf,
        "triggers": flowkit_triggers(triggering),
        "dag_id": context["dag_run"].dag_id,
        "dag_run_id": context["dag_run"].run_id,
    }}
    store = os.environ.get("FLOWKIT_STORE", "") if not STORE else STORE
    return flowkit("start", store, CODE, SOURCE, SETTINGS, given=given)


@task
def flowkit_step(run, step, parents=(), parent=None):
    """Run the flowkit task of STEP that its parents' tasks made ready. A foreach step's
    result is one entry per item, {{"task": the foreach task, "index": the item}}: what the
    body's first step maps over (``parent``)."""
    found = [*parents, *([parent] if parent is not None else [])]
    index = ""
    if parent is not None and "index" in parent:
        found, index = [parent["task"]], str(parent["index"])
    ti = get_current_context()["ti"]
    tries = (str(ti.try_number), str(ti.max_tries))
    result = flowkit("step", run["store"], run["run"], step, index, *tries, given=list(found))
    if isinstance(result, list) and len(result) > flowkit_max_map_length():
        raise AirflowFailException(
            f"foreach step '{{step}}' of run {{run['flow']}}/{{run['run_id']}} made "
            f"{{len(result)}} items, more than Airflow maps a task over (core.max_map_length, "
            f"{{flowkit_max_map_length()}}): raise it (AIRFLOW__CORE__MAX_MAP_LENGTH) on "
            "Airflow's scheduler and workers, or split the items into fewer chunks"
        )
    return result


@task.branch
def flowkit_switch(described, follow):
    """Follow the case the switch step chose."""
    return follow[described["next"][0]]


@task(task_id="flowkit-end-run", trigger_rule="all_done")
def flowkit_end_run(run, end, flow):
    """Record the run's end: succeeded when its end step did. A successful run's asset
    event names the run (for current.trigger of the runs it fires)."""
    if run is None:
        raise AirflowFailException("the flowkit run was not created: see flowkit-start-run's log")
    result = flowkit("end", run["store"], run["run"], given=end)
    outlet = get_current_context()["outlet_events"][flowkit_asset(flow)]
    outlet.extra = {{"flow": run["flow"], "run_id": run["run_id"]}}
    return result

'''
