"""Run by the Airflow venv's Python (tests/export/test_airflow_runs.py): parse a folder of
exported DAGs as Airflow's DAG processor does, and map a @trigger event's payload to a run's
parameters through the exported DAG's own helper, with events built as Airflow builds them.
Prints JSON: import errors, each DAG's timetable, max_active_runs and params, the
parameters mapped, and what the DAG's start task passes on of the events that fired it."""

import importlib.util
import json
import sys

from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.execution_time.comms import AssetEventDagRunReferenceResult
from airflow.sdk.execution_time.context import TriggeringAssetEventsAccessor

folder, dag_file = sys.argv[1], sys.argv[2]
bag = DagBag(folder)
spec = importlib.util.spec_from_file_location("exported_dag", dag_file)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
asset = module.flowkit_event_asset("drift_detected")


def event(extra, at):
    return AssetEventDagRunReferenceResult.model_validate(
        {
            "asset": {"name": asset.name, "uri": asset.uri, "extra": {}},
            "extra": extra,
            "source_aliases": [],
            "source_task_id": None,
            "source_dag_id": None,
            "source_run_id": None,
            "source_map_index": -1,
            "timestamp": at,
        }
    )


fired = TriggeringAssetEventsAccessor.build(
    [
        event({"reason": "old"}, "2026-11-30T01:00:00Z"),
        event({"reason": "input mean moved", "other": 1}, "2026-11-30T02:00:00Z"),
    ]
)
print(
    json.dumps(
        {
            "errors": {k: v.splitlines()[-1] for k, v in bag.import_errors.items()},
            "dags": {d.dag_id: type(d.timetable).__name__ for d in bag.dags.values()},
            "max_active_runs": {d.dag_id: d.max_active_runs for d in bag.dags.values()},
            "params": {d.dag_id: d.params.dump() for d in bag.dags.values()},
            "triggers": module.flowkit_triggers(fired),
            "parameters": module.flowkit_event_parameters(fired),
            "none": module.flowkit_event_parameters({}),
        }
    )
)
