"""A flowkit run, logged to MLflow from what the store holds: the run hook does it piece by piece
as the run goes, ``flowkit mlflow sync`` does it whole afterwards. Every step finds what an
earlier one logged by its tags (``flowkit.pathspec``) and logs nothing twice, so it may be
repeated at will.

One MLflow run per flowkit run (named by its id, the flow's parameters as params), a nested
run per task (named ``step/task_id``) with its metrics (``current.log_metric``), its artifacts'
names, types and sizes as tags, and its status. A task cloned by a resume is logged as a clone
(``flowkit.clone_of`` names its origin) without metrics: they are its origin's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowkit.authoring.metrics import METRICS_ARTIFACT

if TYPE_CHECKING:
    from flowkit.store import RunRecord, Store, TaskRecord
    from flowkit.store.records import RunEndRecord

TAG_PATHSPEC = "flowkit.pathspec"
TAG_CLONE = "flowkit.clone_of"
#: Set on a task's MLflow run once its metrics are logged: a later sync does not log them again.
TAG_METRICS = "flowkit.metrics_logged"
#: The flowkit run's tags that link it to MLflow, or say it is not (yet) logged there.
LINK_PREFIX = "mlflow_run_id:"
EXPERIMENT_PREFIX = "mlflow_experiment:"
UNSYNCED = "mlflow:unsynced"

_TASK_STATUS = {
    "succeeded": "FINISHED",
    "caught": "FINISHED",
    "failed": "FAILED",
    "killed": "KILLED",
}
_RUN_STATUS = {"succeeded": "FINISHED", "failed": "FAILED", "cancelled": "KILLED"}
#: MLflow takes at most 1,000 metrics in one log_batch call.
_BATCH = 1000
_VALUE_CHARS = 500


@dataclass
class Syncer:
    """Logs one flowkit run to MLflow through ``client`` (an ``MlflowClient``)."""

    store: Store
    run: RunRecord
    client: Any
    experiment: str
    values: bool = False
    _run_id: str | None = None
    _experiment: str | None = None

    @property
    def pathspec(self) -> str:
        return f"{self.run.flow}/{self.run.run_id}"

    def run_id(self) -> str:
        """The MLflow run of this flowkit run: found by its tag, or created with its params."""
        if self._run_id is not None:
            return self._run_id
        from mlflow.entities import Param

        experiment_id = self._experiment_id()
        found = self._find(experiment_id, self.pathspec)
        if found is not None:
            self._run_id = str(found.info.run_id)
            return self._run_id
        created = self.client.create_run(
            experiment_id,
            start_time=int(self.run.created_at * 1000),
            tags={
                TAG_PATHSPEC: self.pathspec,
                "flowkit.flow": self.run.flow,
                "flowkit.run_id": self.run.run_id,
                **(
                    {"flowkit.origin_run_id": self.run.origin_run_id}
                    if self.run.origin_run_id
                    else {}
                ),
                **({"mlflow.user": self.run.user} if self.run.user else {}),
            },
            run_name=self.run.run_id,
        )
        self._run_id = str(created.info.run_id)
        params = [Param(k, _text(v, 6000)) for k, v in sorted(self.run.parameters.items())]
        for start in range(0, len(params), 100):  # MLflow's limit of params per call
            self.client.log_batch(self._run_id, params=params[start : start + 100])
        return self._run_id

    def task(self, record: TaskRecord) -> str:
        """Log one task's final record (once); the id of its nested MLflow run."""
        from mlflow.entities import Metric, RunTag

        parent = self.run_id()
        pathspec = record.pathspec
        found = self._find(self._experiment_id(), pathspec)
        status = _TASK_STATUS.get(record.status, "FINISHED")
        end = int((record.finished_at or record.started_at) * 1000)
        if found is not None and TAG_METRICS in found.data.tags:  # logged: at most, end it
            if found.info.status != status:
                self.client.set_terminated(found.info.run_id, status, end_time=end)
            return str(found.info.run_id)
        if found is None:
            run_id = str(
                self.client.create_run(
                    self._experiment_id(),
                    start_time=int(record.started_at * 1000),
                    tags={
                        "mlflow.parentRunId": parent,
                        TAG_PATHSPEC: pathspec,
                        **({"mlflow.user": self.run.user} if self.run.user else {}),
                    },
                    run_name=f"{record.step}/{record.task_id}",
                ).info.run_id
            )
        else:  # made by log_model in the task, or by a sync that stopped halfway
            run_id = str(found.info.run_id)
        tags = [
            RunTag("flowkit.step", record.step),
            RunTag("flowkit.task_id", record.task_id),
            RunTag("flowkit.attempt", str(record.attempt)),
            RunTag("flowkit.status", record.status),
        ]
        if record.origin_pathspec:
            tags.append(RunTag(TAG_CLONE, record.origin_pathspec))
        if record.foreach:
            tags.append(RunTag("flowkit.foreach_index", str(record.foreach[-1])))
        for name, ref in sorted(record.artifacts.items()):
            if name.startswith("_") or name in self.run.parameters:
                continue
            tags.append(RunTag(f"flowkit.artifact.{name}", f"{ref.type}, {ref.size} B"))
            if self.values:
                value = self.store.values.load_artifact(ref)
                tags.append(RunTag(f"flowkit.value.{name}", _text(value, _VALUE_CHARS)))
        metrics = [] if record.origin_pathspec else _metrics(self.store, record)
        batch = [Metric(name, value, stamp, step) for name, value, step, stamp in metrics]
        # the mark that the metrics are in goes with the last of them (one call for a task's
        # tags and up to 1,000 metrics): a sync stopped before it sends them again
        chunks = [batch[start : start + _BATCH] for start in range(0, len(batch), _BATCH)] or [[]]
        for number, chunk in enumerate(chunks, 1):
            last = number == len(chunks)
            marks = [*tags, RunTag(TAG_METRICS, str(len(batch)))] if last else []
            self.client.log_batch(run_id, metrics=chunk, tags=marks)
        self.client.set_terminated(run_id, status, end_time=end)
        return run_id

    def finish(self, end: RunEndRecord) -> None:
        """The MLflow run ends as the flowkit run did."""
        status = _RUN_STATUS.get(end.status, "FAILED")
        self.client.set_terminated(self.run_id(), status, end_time=int(end.finished_at * 1000))

    def everything(self) -> int:
        """Log the whole run as the store holds it; the number of tasks it holds."""
        self.run_id()
        count = 0
        for step in self.run.steps or self.store.records.list_steps(self.run.flow, self.run.run_id):
            for record in self.store.records.list_tasks(self.run.flow, self.run.run_id, step):
                if record.final:
                    self.task(record)
                    count += 1
        end = self.store.records.get_run_end(self.run.flow, self.run.run_id)
        if end is not None:
            self.finish(end)
        return count

    def link(self, *, failed: bool) -> None:
        """Tag the flowkit run with its MLflow run (or as not logged there yet, ``failed``)."""
        tags = self.store.tags.user_tags(self.run)
        link = f"{LINK_PREFIX}{self._run_id}" if self._run_id and not failed else None
        wanted = {f"{EXPERIMENT_PREFIX}{self.experiment}"}
        wanted |= {UNSYNCED} if failed else {link} if link else set()
        removed = set() if failed else {UNSYNCED} & tags
        added = wanted - tags
        if added or removed:
            self.store.tags.change(self.run, added=sorted(added), removed=sorted(removed))

    def _experiment_id(self) -> str:
        if self._experiment is None:
            found = self.client.get_experiment_by_name(self.experiment)
            if found is not None:
                self._experiment = str(found.experiment_id)
            else:
                self._experiment = str(self.client.create_experiment(self.experiment))
        return self._experiment

    def _find(self, experiment_id: str, pathspec: str) -> Any | None:
        runs = self.client.search_runs(
            [experiment_id], filter_string=f"tags.`{TAG_PATHSPEC}` = '{pathspec}'", max_results=1
        )
        return runs[0] if runs else None


def _metrics(store: Store, record: TaskRecord) -> list[tuple[str, float, int, int]]:
    ref = record.artifacts.get(METRICS_ARTIFACT)
    if ref is None:
        return []
    logged: list[tuple[str, float, int, int]] = store.values.load_artifact(ref)
    return logged


def _text(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def experiment_of(store: Store, run: RunRecord, given: str | None) -> str:
    """The experiment to log ``run`` in: ``given``, else the one its tags name, else its
    flow's name."""
    if given:
        return given
    for tag in store.tags.user_tags(run):
        if tag.startswith(EXPERIMENT_PREFIX):
            return tag[len(EXPERIMENT_PREFIX) :]
    return run.flow
