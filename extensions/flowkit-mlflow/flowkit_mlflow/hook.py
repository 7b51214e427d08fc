"""The ``mlflow`` run hook: logs a run to MLflow as it goes (see :mod:`flowkit_mlflow.sync`).

A tracking server that is down, or refuses a call, never fails the run: the first error is
raised to the hook runner, which shows it; the hook then stops calling MLflow for this run and
tags it ``mlflow:unsynced`` in the store, and ``flowkit mlflow sync FLOW/RUN`` logs it later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowkit.errors import FlowkitError
from flowkit.runtime.events import RunFinished, RunStarted, TaskEvent
from flowkit_mlflow.connect import client, quick
from flowkit_mlflow.connect import tracking_uri as tracking_uri_of
from flowkit_mlflow.sync import Syncer

if TYPE_CHECKING:
    from flowkit.runtime.events import Event
    from flowkit.store import RunRecord, Store


class MlflowHook:
    """Made by flowkit for each run that enables ``mlflow``, with the arguments it was given."""

    def __init__(
        self,
        store: Store,
        run: RunRecord,
        *,
        experiment: str | None = None,
        tracking_uri: str | None = None,
        values: bool = False,
    ) -> None:
        self.store = store
        self.run = run
        self.uri = tracking_uri_of(tracking_uri)
        self.syncer = Syncer(store, run, client(self.uri), experiment or run.flow, values)
        self.failed: str | None = None

    def handle(self, event: Event) -> None:
        if self.failed is not None:
            return
        try:
            with quick():
                self._log(event)
        except Exception as exc:  # MLflow raises many kinds (HTTP, REST, SQL): all are recorded
            self.failed = f"{type(exc).__name__}: {exc}"
            self.syncer.link(failed=True)
            where = self.uri or "MLflow's default tracking URI"
            raise FlowkitError(
                f"logging {self.syncer.pathspec} to MLflow at {where} failed "
                f"({self.failed.splitlines()[0][:300]}); the run goes on without it",
                f"once MLflow is reachable, log it with: flowkit mlflow sync {self.syncer.pathspec}",
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
