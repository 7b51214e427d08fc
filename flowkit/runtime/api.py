"""``flowkit.run``: lint, validate parameters, start the run, drive it, return the client Run."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowkit.errors import FlowkitError

if TYPE_CHECKING:
    from flowkit.client import Run
    from flowkit.runtime.events import ProgressSink
    from flowkit.store import Store


class RunFailed(FlowkitError):
    """A run ended without succeeding; ``run`` is its client view, ``task`` the failed task's
    pathspec (if a task failed) and the message carries the task's own traceback."""

    def __init__(
        self, message: str, hint: str, run: Run, task: str | None, *, cancelled: bool = False
    ) -> None:
        super().__init__(message, hint)
        self.run = run
        self.task = task
        self.cancelled = cancelled


def run(
    flow: type | str | os.PathLike[str],
    *,
    store: str | Store | None = None,
    max_workers: int | None = None,
    max_num_splits: int = 10_000,
    fail_fast: bool = False,
    quiet: bool = False,
    progress: ProgressSink | None = None,
    tags: Iterable[str] = (),
    **params: Any,
) -> Run:
    """Run a flow (a FlowSpec class, or the path of a flow file) with ``params``.

    Returns the finished run's client :class:`~flowkit.client.Run`; raises
    :class:`~flowkit.errors.LintError` before anything runs if the flow has problems,
    :class:`~flowkit.errors.ParameterError` for a bad parameter, and :class:`RunFailed`
    when a task fails or the run is cancelled.
    """
    from flowkit.authoring.loader import load_flow_file
    from flowkit.authoring.parameters import parameters_of, resolve_parameters
    from flowkit.client import Run
    from flowkit.executor.local import LocalExecutor
    from flowkit.graph.api import check
    from flowkit.runtime.resources import ResourcePool, visible_gpus
    from flowkit.runtime.scheduler import Scheduler
    from flowkit.settings import Settings
    from flowkit.store import open_store
    from flowkit.task.code import code_ref_for

    flow_cls = flow if isinstance(flow, type) else load_flow_file(Path(flow))
    graph = check(flow_cls)
    values = resolve_parameters(flow_cls, params)
    settings = Settings.resolve(
        {"store": store if isinstance(store, str) else None, "max_workers": max_workers}
    )
    the_store = store if store is not None and not isinstance(store, str) else open_store(settings)
    shown = {str(p.attr): _shown(values[str(p.attr)]) for p in parameters_of(flow_cls)}
    record = the_store.create_run(
        graph.name,
        parameters=shown,
        user=_user(),
        tags=tags,
        steps=[s.name for s in graph.ordered()],
    )
    parameters = {}
    for attr, value in values.items():
        ref = the_store.put_value(value, name=attr, step="<parameters>")
        parameters[attr] = (ref.digest, ref.size, ref.type)
    sink = progress if progress is not None else _default_sink(quiet)
    code = code_ref_for(flow_cls, the_store)
    executor = LocalExecutor(the_store.url, code, echo=not quiet)
    origin = f"--origin-run-id {record.run_id}"
    scheduler = Scheduler(
        graph=graph,
        store=the_store,
        executor=executor,
        run=record,
        code=code,
        parameters=parameters,
        sink=sink,
        max_workers=settings.max_workers,
        max_num_splits=max_num_splits,
        fail_fast=fail_fast,
        resources=ResourcePool(float(os.cpu_count() or 1), visible_gpus()),
        resume_hint=lambda: f"python {_script(flow_cls)} resume {origin}",
    )
    try:
        result = scheduler.execute()
    finally:
        executor.close()
        sink.close()
    client_run = Run(f"{record.flow}/{record.run_id}", store=the_store)
    if result.status == "succeeded":
        return client_run
    failed = result.failures[0] if result.failures else None
    if result.status == "cancelled":
        message = f"run {client_run.pathspec} was cancelled"
    elif failed is not None and failed.exception is not None:
        message = (
            f"run {client_run.pathspec} failed: task {failed.pathspec} raised "
            f"{failed.exception}\n{failed.exception.traceback}".rstrip()
        )
    else:
        message = f"run {client_run.pathspec} failed: {result.message}"
    raise RunFailed(
        message,
        f"fix the cause, then resume: python {_script(flow_cls)} resume {origin}",
        client_run,
        failed.pathspec if failed else None,
        cancelled=result.status == "cancelled",
    )


def _shown(value: Any) -> Any:
    """A parameter value as the run record shows it (JSON); bytes are summarized."""
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def _user() -> str | None:
    try:
        return os.environ.get("FLOWKIT_USER") or getpass.getuser()
    except (KeyError, OSError):
        return None


def _script(flow_cls: type) -> str:
    import sys

    module = sys.modules.get(flow_cls.__module__)
    file = getattr(module, "__file__", None)
    if not file:
        return "<flow file>"
    relative = os.path.relpath(file)
    return str(file) if relative.startswith("..") else relative


def _default_sink(quiet: bool) -> ProgressSink:
    from flowkit.surfaces.terminal import TerminalView

    return TerminalView(quiet=quiet)
