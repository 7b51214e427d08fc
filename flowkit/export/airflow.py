"""``export_dag``: a flow class as the text of an Airflow DAG, after checking that Airflow
can express its graph, its code snapshotted into the store and the settings its runs use
(resolved here, in the flow's project) stored beside it; and what does not work under
Airflow, said as warnings."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flowkit.export.airflow_dag import DagOptions, render
from flowkit.export.shape import shapes
from flowkit.fastdata import asdict, dataclass

if TYPE_CHECKING:
    from flowkit.authoring.parameters import Parameter
    from flowkit.graph.model import FlowGraph
    from flowkit.settings import Settings
    from flowkit.store import Store

#: A parameter's kind as the JSON schema type of the DAG's Param.
_PARAM_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}


@dataclass(frozen=True)
class Exported:
    """The DAG file's text, and what of the flow does not work under Airflow."""

    text: str
    warnings: tuple[str, ...] = ()


def export_dag(
    flow_cls: type,
    store: Store,
    *,
    dag_id: str | None,
    python: str,
    bake_store: bool,
    source: str,
    settings: Settings | None = None,
) -> Exported:
    """The DAG file for ``flow_cls``; raise :class:`UnsupportedShape` (a
    :class:`~flowkit.errors.FlowDefinitionError`) for what Airflow cannot express.
    ``settings``: those of the flow's project (default: resolved from here)."""
    from flowkit.authoring.configure import configure
    from flowkit.authoring.parameters import parameters_of
    from flowkit.authoring.scheduling import overlap_of, schedule_of, triggers_of
    from flowkit.export.run_spec import run_settings
    from flowkit.lint.api import check
    from flowkit.runtime.policy import FailurePolicy, parse_with
    from flowkit.settings import Settings
    from flowkit.store import UnsharedStoreError
    from flowkit.task.code import code_ref_for

    graph = check(configure(flow_cls, {}))
    steps = shapes(graph)
    triggers = triggers_of(flow_cls)
    if not store.shared:
        raise UnsharedStoreError(store.url)
    resolved = settings if settings is not None else Settings.resolve()
    schedule = schedule_of(flow_cls)
    code = code_ref_for(flow_cls, store)
    kept = run_settings(resolved)
    catchup = schedule.catchup if schedule else False
    now = datetime.now(UTC)
    options = DagOptions(
        dag_id=dag_id or graph.name,
        code=json.loads(json.dumps(asdict(code))),
        python=python,
        store=store.url if bake_store else "",
        source=source,
        cron=(schedule.cron, schedule.timezone) if schedule else None,
        catchup=catchup,
        on_finish=triggers.on_finish,
        events=tuple((e.name, tuple(e.parameters)) for e in triggers.events),
        overlap=overlap_of(flow_cls),
        settings=store.put_spec(json.dumps({"airflow_settings": kept}, sort_keys=True)),
        params=tuple(_param(p) for p in parameters_of(flow_cls)),
        # catchup runs every slot since the start date: the export's day, not a fixed past
        start=(now.year, now.month, now.day) if catchup else DagOptions.start,
    )
    policy = FailurePolicy(parse_with((), retry_setting=resolved.retry))
    return Exported(render(graph, steps, options, policy), _warnings(flow_cls, graph, resolved))


def _param(parameter: Parameter) -> tuple[str, Any, Any, bool, str]:
    """The DAG's Param for a flow parameter: its default when it is plain JSON (not a
    function or a config expression, which flowkit works out when the run starts)."""
    default = parameter.default
    plain = default is None or isinstance(default, str | int | float | bool | list | dict)
    if plain:
        try:
            json.dumps(default)
        except (TypeError, ValueError):
            plain = False
    kind: Any = _PARAM_TYPES.get(parameter.kind)
    if parameter.required and default is None:  # the trigger form asks for it
        return parameter.name, None, kind, False, parameter.help
    if kind is not None and (not plain or default is None):
        kind = [kind, "null"]  # flowkit settles it when the run starts
    return parameter.name, default if plain else None, kind, True, parameter.help


def _warnings(flow_cls: type, graph: FlowGraph, settings: Settings) -> tuple[str, ...]:
    """What of the flow does not work when Airflow runs it (see docs/airflow.md)."""
    from flowkit.authoring.project import project_of
    from flowkit.authoring.sla import flow_sla
    from flowkit.runtime.hooks import enabled_hooks

    said: list[str] = []
    slas = [n.name for n in graph.ordered() if n.decorator("sla") is not None]
    if flow_sla(flow_cls) is not None or slas:
        where = "the flow's" if flow_sla(flow_cls) is not None else ""
        where += (" and " if where else "") + ("steps " + ", ".join(slas) if slas else "")
        said.append(
            f"@sla on {where} raises no sla_missed alert under Airflow (nor does the learned "
            "SLA): flowkit's scheduler watches durations, and Airflow runs this flow; use "
            "Airflow's own deadline alerts, or run the flow with flowkit"
        )
    hooks = enabled_hooks(flow_cls, settings.hooks, {})
    if hooks:
        said.append(
            f"run hooks ({', '.join(sorted(hooks))}) are not called under Airflow: a run it "
            "executes is not tracked by them (sync it afterwards where the hook offers that)"
        )
    if project_of(flow_cls, user="airflow") is not None:
        said.append(
            "@project: runs under Airflow are on the user branch of the user Airflow's "
            "workers run as (--branch and --production are not available)"
        )
    return tuple(said)
