"""``export_dag``: a flow class as the text of an Airflow DAG, after checking that Airflow
can express its graph, its code snapshotted into the store."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

from flowkit.export.airflow_dag import DagOptions, render
from flowkit.export.shape import shapes

if TYPE_CHECKING:
    from flowkit.store import Store


def export_dag(
    flow_cls: type,
    store: Store,
    *,
    dag_id: str | None,
    python: str,
    bake_store: bool,
    source: str,
) -> str:
    """The DAG file's text for ``flow_cls``; raise :class:`UnsupportedShape` (a
    :class:`~flowkit.errors.FlowDefinitionError`) for what Airflow cannot express."""
    from flowkit.authoring.configure import configure
    from flowkit.authoring.scheduling import schedule_of, triggers_of
    from flowkit.lint.api import check
    from flowkit.store import UnsharedStoreError
    from flowkit.task.code import code_ref_for

    graph = check(configure(flow_cls, {}))
    steps = shapes(graph)
    triggers = triggers_of(flow_cls)
    if not store.shared:
        raise UnsharedStoreError(store.url)
    schedule = schedule_of(flow_cls)
    code = code_ref_for(flow_cls, store)
    options = DagOptions(
        dag_id=dag_id or graph.name,
        code=json.loads(json.dumps(asdict(code))),
        python=python,
        store=store.url if bake_store else "",
        source=source,
        cron=(schedule.cron, schedule.timezone) if schedule else None,
        catchup=schedule.catchup if schedule else False,
        on_finish=triggers.on_finish,
        events=tuple((e.name, tuple(e.parameters)) for e in triggers.events),
        overlap=schedule.overlap if schedule else "skip",
    )
    return render(graph, steps, options)
