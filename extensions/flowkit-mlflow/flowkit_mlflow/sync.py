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

from flowkit.authoring.metrics import METRICS_ARTIFACT, refusal
from flowkit.errors import FlowkitError

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
#: The first line of the last error logging the run met (the hook's, a sync's); gone once synced.
ERROR_PREFIX = "mlflow_error:"
_ERROR_CHARS = 200
#: On a task's MLflow run: metrics its record holds that MLflow would not take (logged before
#: flowkit checked names), and what MLflow refused of the task (the rest is logged all the same).
TAG_DROPPED = "flowkit.metrics_dropped"
TAG_REFUSED = "flowkit.refused"

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
    #: Log the run in ``experiment`` even though its tags link it to a run in another.
    copy: bool = False
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

        linked = self._linked()
        if linked is not None:
            self._experiment = str(linked.info.experiment_id)
            self._run_id = str(linked.info.run_id)
            return self._run_id
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
            if found.data.tags.get("mlflow.parentRunId") != parent:
                self.client.set_tag(found.info.run_id, "mlflow.parentRunId", parent)
            if found.info.status != status:
                self.client.set_terminated(found.info.run_id, status, end_time=end)
            return str(found.info.run_id)
        tags: list[Any] = []
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
            if found.data.tags.get("mlflow.parentRunId") != parent:  # made before its parent
                tags.append(RunTag("mlflow.parentRunId", parent))
            if self.run.user and "mlflow.user" not in found.data.tags:
                tags.append(RunTag("mlflow.user", self.run.user))
        tags += [
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
                tags.append(RunTag(f"flowkit.value.{name}", self._value(ref)))
        metrics = [] if record.origin_pathspec else _metrics(self.store, record)
        kept = [m for m in metrics if refusal(m[0], m[2]) is None]
        if len(kept) < len(metrics):  # stored before flowkit checked them: MLflow refuses them
            first = next(refusal(m[0], m[2]) for m in metrics if refusal(m[0], m[2]))
            tags.append(RunTag(TAG_DROPPED, f"{len(metrics) - len(kept)}: {first}"[:_VALUE_CHARS]))
        batch = [Metric(name, value, stamp, step) for name, value, step, stamp in kept]
        chunks = [batch[start : start + _BATCH] for start in range(0, len(batch), _BATCH)] or [[]]
        refused: list[str] = []
        for number, chunk in enumerate(chunks):
            self._send(run_id, chunk, tags if number == 0 else [], refused)
        if refused:  # said on the task's run; the rest is in, and sending it again changes nothing
            self._send(run_id, [], [RunTag(TAG_REFUSED, refused[0][:_VALUE_CHARS])], [])
        # the mark that the metrics are in goes alone, after every one of them: MLflow splits a
        # batch into requests, and a sync stopped before the mark sends them all again
        self.client.log_batch(run_id, tags=[RunTag(TAG_METRICS, str(len(batch)))])
        self.client.set_terminated(run_id, status, end_time=end)
        return run_id

    def _send(self, run_id: str, metrics: list[Any], tags: list[Any], refused: list[str]) -> None:
        """One log_batch; what MLflow refuses (a 4xx) is kept in ``refused``, not raised: it
        would refuse it again at every sync, and the task's other records are worth logging."""
        from flowkit_mlflow.connect import refused as refusal_code

        try:
            self.client.log_batch(run_id, metrics=metrics, tags=tags)
        except Exception as exc:
            code = refusal_code(exc)
            if code is None:
                raise
            refused.append(f"{code}: {str(exc).splitlines()[0] if str(exc) else ''}")

    def _value(self, ref: Any) -> str:
        """An artifact's value as text; one that does not load in this process (a class of
        the flow's module, a package not installed here) says so instead."""
        try:
            return _text(self.store.values.load_artifact(ref), _VALUE_CHARS)
        except Exception as exc:  # unpickling runs arbitrary imports: any error, one artifact
            return _text(f"(not loadable here: {type(exc).__name__}: {exc})", _VALUE_CHARS)

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

    def link(self, *, failed: bool, error: str | None = None) -> None:
        """Tag the flowkit run with its MLflow run and experiment (replacing tags naming
        others), or, ``failed``, as not (fully) logged there yet with the first line of
        ``error``; a run a sync already linked stays linked when a later one fails."""
        tags = self.store.tags.user_tags(self.run)
        linked = any(t.startswith(LINK_PREFIX) for t in tags)
        wanted: set[str] = set()
        if failed and error:
            wanted.add(ERROR_PREFIX + " ".join(error.split())[:_ERROR_CHARS])
        if failed and not linked:
            wanted |= {UNSYNCED, f"{EXPERIMENT_PREFIX}{self.experiment}"}
        elif not failed:
            wanted.add(f"{EXPERIMENT_PREFIX}{self.experiment}")
            if self._run_id:
                wanted.add(f"{LINK_PREFIX}{self._run_id}")
        replaced = [ERROR_PREFIX] + ([] if failed else [LINK_PREFIX, EXPERIMENT_PREFIX, UNSYNCED])
        removed = {t for t in tags if t.startswith(tuple(replaced)) and t not in wanted}
        added = wanted - tags
        if added or removed:
            self.store.tags.change(self.run, added=sorted(added), removed=sorted(removed))

    def _linked(self) -> Any | None:
        """The MLflow run the flowkit run's tags name (in whatever experiment it is), if it
        is still there; with an experiment that is not its own, a refusal."""
        ids = [
            t[len(LINK_PREFIX) :]
            for t in self.store.tags.user_tags(self.run)
            if t.startswith(LINK_PREFIX)
        ]
        if not ids:
            return None
        from mlflow.exceptions import MlflowException

        try:
            found = self.client.get_run(sorted(ids)[0])
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        if found.info.lifecycle_stage == "deleted":
            return None
        theirs = self.client.get_experiment(found.info.experiment_id).name
        if theirs != self.experiment and not self.copy:
            raise FlowkitError(
                f"{self.pathspec} is in MLflow already, as run {found.info.run_id} of the "
                f"experiment '{theirs}', not '{self.experiment}'",
                f"sync it there (leave --experiment out), or log a second copy in "
                f"'{self.experiment}' with --copy",
            )
        return None if theirs != self.experiment else found

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


def experiment_of(
    store: Store, run: RunRecord, given: str | None, default: str | None = None
) -> str:
    """The experiment to log ``run`` in: ``given``, else the one its tags name (where it is
    logged), else ``default`` (the setting's), else its flow's name."""
    if given:
        return given
    for tag in store.tags.user_tags(run):
        if tag.startswith(EXPERIMENT_PREFIX):
            return tag[len(EXPERIMENT_PREFIX) :]
    return default or run.flow
