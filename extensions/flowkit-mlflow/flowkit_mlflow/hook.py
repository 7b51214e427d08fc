"""The ``mlflow`` run hook: logs a run to MLflow as it goes (see :mod:`flowkit_mlflow.sync`).

A tracking server that is down, or refuses a call, never fails the run: the first error is
raised to the hook runner, which shows it; the hook then stops calling MLflow for this run and
tags it ``mlflow:unsynced`` (and ``mlflow_error:`` with the error's first line) in the store,
and ``flowkit mlflow sync FLOW/RUN`` logs it later. What MLflow refuses of one task (a metric
stored before flowkit checked names) is noted on that task's MLflow run; the run goes on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowkit.errors import FlowkitError
from flowkit.runtime.events import RunFinished, RunStarted, TaskEvent
from flowkit_mlflow.connect import PROBE, client, problem, quick
from flowkit_mlflow.connect import tracking_uri as tracking_uri_of
from flowkit_mlflow.sync import Syncer

if TYPE_CHECKING:
    from flowkit.runtime.events import Event
    from flowkit.store import RunRecord, Store

#: What the hook takes (``@track``, ``--with mlflow:ARG=VALUE``, the ``hooks`` setting).
ARGUMENTS = "experiment (a name), tracking_uri (a URI), values (true or false)"


def check_arguments(
    experiment: Any = None, tracking_uri: Any = None, values: Any = False
) -> dict[str, Any]:
    """The hook's arguments, checked (before the run is made): each of the type it is, an
    experiment or URI not empty."""
    for name, value in (("experiment", experiment), ("tracking_uri", tracking_uri)):
        if value is not None and (not isinstance(value, str) or not value):
            raise FlowkitError(
                f"the run hook 'mlflow' takes {name} as a non-empty string, not {value!r}",
                f"it takes {ARGUMENTS}; e.g. --with mlflow:experiment=ranking",
            )
    if not isinstance(values, bool):
        raise FlowkitError(
            f"the run hook 'mlflow' takes values as true or false, not {values!r}",
            f"it takes {ARGUMENTS}; e.g. --with mlflow:values=true",
        )
    return {"experiment": experiment, "tracking_uri": tracking_uri, "values": values}


class MlflowHook:
    """Made by flowkit for each run that enables ``mlflow``, with the arguments it was given."""

    #: Checked before the run exists (see :func:`flowkit.runtime.hooks.load_hooks`).
    check = staticmethod(check_arguments)

    def __init__(
        self,
        store: Store,
        run: RunRecord,
        *,
        experiment: str | None = None,
        tracking_uri: str | None = None,
        values: bool = False,
    ) -> None:
        check_arguments(experiment, tracking_uri, values)
        self.store = store
        self.run = run
        self.uri = tracking_uri_of(tracking_uri)
        self.syncer = Syncer(store, run, client(self.uri), experiment or run.flow, values)
        self.failed: str | None = None

    def handle(self, event: Event) -> None:
        if self.failed is not None:
            return
        try:
            # the first call asks once, briefly: a server that is down or hung costs the run
            # (whose end waits for the hook) seconds, not MLflow's minutes of retries
            with quick(PROBE if isinstance(event, RunStarted) else None):
                self._log(event)
        except Exception as exc:  # MLflow raises many kinds (HTTP, REST, SQL): all are recorded
            where = self.uri or "MLflow's default tracking URI"
            then = f"log it with: flowkit mlflow sync {self.syncer.pathspec}"
            said, hint = problem(exc, where, then)
            self.failed = said
            self.syncer.link(failed=True, error=said)
            raise FlowkitError(
                f"logging {self.syncer.pathspec} to MLflow at {where} failed ({said}); "
                "the run goes on without it",
                hint,
            ) from exc

    def _log(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.syncer.run_id()
        elif isinstance(event, TaskEvent):
            record = self.store.records.get_attempt(
                self.run.flow, self.run.run_id, event.step, event.task_id, event.attempt
            )
            if record is not None and record.final:
                self.syncer.task(record)
        elif isinstance(event, RunFinished):
            end = self.store.records.get_run_end(self.run.flow, self.run.run_id)
            if end is not None:
                self.syncer.finish(end)
            self.syncer.link(failed=False)
