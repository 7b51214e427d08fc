"""``flowkit.run`` and ``flowkit.resume``, the in-process API and the recommended way to start
a run from Python (``Runner``/``NBRunner`` exist for code written for Metaflow): a run started
from Python reports to the view that fits where it runs (a live widget in a notebook, progress
lines in a terminal) unless given one."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, overload

from flowkit.plan.tasks import MAX_NUM_SPLITS
from flowkit.runtime.api import FlowLike, Preview, RunOptions, start
from flowkit.surfaces.default import default_view, in_notebook

if TYPE_CHECKING:
    from flowkit.client import Run
    from flowkit.runtime.events import ProgressSink
    from flowkit.store import Store


@overload
def run(flow: FlowLike, *, dry_run: Literal[True], **options: Any) -> Preview: ...


@overload
def run(flow: FlowLike, *, dry_run: Literal[False] = False, **options: Any) -> Run: ...


def run(
    flow: FlowLike,
    *,
    reuse: bool = False,
    dry_run: bool = False,
    store: str | Store | None = None,
    max_workers: int | None = None,
    max_num_splits: int = MAX_NUM_SPLITS,
    fail_fast: bool = False,
    quiet: bool = False,
    progress: ProgressSink | None = None,
    tags: Iterable[str] = (),
    with_decorators: Iterable[str] = (),
    detach: bool = False,
    run_id_file: str | os.PathLike[str] | None = None,
    runner_attribute_file: str | os.PathLike[str] | None = None,
    project_branch: str | None = None,
    project_production: bool = False,
    namespace: str | None = None,
    **params: Any,
) -> Run | Preview:
    """Run a flow (a FlowSpec class, or the path of a flow file) with ``params``: the
    recommended way to run one from Python (in a notebook too), over Metaflow's ``Runner``.

    With ``reuse``, any earlier successful task of the flow with the same code, inputs and
    parameters is reused instead of run. Returns the finished run's client ``Run``; raises
    :class:`~flowkit.errors.LintError` before anything runs if the flow has problems,
    :class:`~flowkit.errors.ParameterError` for a bad parameter, and :class:`RunFailed` when
    a task fails or the run is cancelled. ``dry_run`` returns a :class:`Preview` instead.
    ``with_decorators`` applies step decorators to every step that lacks them, as
    ``--with`` does: ``["retry", "timeout:seconds=60"]``. ``detach`` submits the run's
    scheduler as a job of its executor (``with_decorators=["slurm"]``) and returns the
    ``Run`` at once, while it goes. ``run_id_file`` gets the run's id as soon as it exists
    (``runner_attribute_file`` its id, flow and store as JSON), as ``--run-id-file`` does.
    A ``Config`` is given by its name like a parameter: a dict, a JSON text, or a
    ``pathlib.Path`` to read (``cfg=Path("cfg.json")``). ``project_branch`` and
    ``project_production`` choose a ``@project`` flow's branch, as ``--branch`` and
    ``--production`` before the command do (``project_branch="feat"``: ``test.feat``);
    ``branch=`` and ``production=`` are the flow's own parameters of those names, as in
    Metaflow, where a project's options and a run's are apart. ``namespace`` is the
    namespace the client reads runs in inside the steps, as ``--namespace`` (``""``: every
    run; by default ``user:<you>``); the run's tags stay as they are.
    """
    options = _options(
        progress,
        store,
        max_workers,
        max_num_splits,
        fail_fast,
        quiet,
        tags,
        with_decorators,
        detach,
    )
    options.run_id_file = _path(run_id_file)
    options.runner_attribute_file = _path(runner_attribute_file)
    options.branch, options.production = project_branch, project_production
    options.namespace = namespace
    return start(flow, params, options, reuse=reuse, dry_run=dry_run)


@overload
def resume(
    flow: FlowLike, step: str | None = None, *, dry_run: Literal[True], **options: Any
) -> Preview: ...


@overload
def resume(
    flow: FlowLike, step: str | None = None, *, dry_run: Literal[False] = False, **options: Any
) -> Run: ...


def resume(
    flow: FlowLike,
    step: str | None = None,
    *,
    origin_run_id: str | None = None,
    run_id: str | None = None,
    reuse: bool = False,
    dry_run: bool = False,
    store: str | Store | None = None,
    max_workers: int | None = None,
    max_num_splits: int = MAX_NUM_SPLITS,
    fail_fast: bool = False,
    quiet: bool = False,
    progress: ProgressSink | None = None,
    tags: Iterable[str] = (),
    with_decorators: Iterable[str] = (),
    detach: bool = False,
    run_id_file: str | os.PathLike[str] | None = None,
    runner_attribute_file: str | os.PathLike[str] | None = None,
    project_branch: str | None = None,
    project_production: bool = False,
    namespace: str | None = None,
    **params: Any,
) -> Run | Preview:
    """Resume a run of ``flow``: the most recent one, or ``origin_run_id``; the recommended
    way to resume from Python.

    Without ``step``, tasks that failed or never ran run again, and so do tasks that read a
    parameter given a new value; every other task is cloned (its record copied, never its
    data). ``reuse`` also runs again tasks whose code changed. With ``step``, that step and
    everything after it run again. Parameters default to the origin's. ``run_id`` names the
    new run (refused if a run has it or if it reads as a time-sorted id; by default a new
    time-sorted id). ``detach``, ``run_id_file`` and
    ``runner_attribute_file``, ``project_branch``, ``project_production`` and ``namespace``
    as for :func:`run`.
    """
    options = _options(
        progress,
        store,
        max_workers,
        max_num_splits,
        fail_fast,
        quiet,
        tags,
        with_decorators,
        detach,
    )
    options.run_id = run_id
    options.run_id_file = _path(run_id_file)
    options.runner_attribute_file = _path(runner_attribute_file)
    options.branch, options.production = project_branch, project_production
    options.namespace = namespace
    return start(
        flow,
        params,
        options,
        reuse=reuse,
        resume_from=origin_run_id or "",
        restart_step=step,
        dry_run=dry_run,
    )


def _path(path: str | os.PathLike[str] | None) -> str | None:
    return None if path is None else os.fspath(path)


def _options(
    progress: ProgressSink | None,
    store: str | Store | None,
    max_workers: int | None,
    max_num_splits: int,
    fail_fast: bool,
    quiet: bool,
    tags: Iterable[str],
    with_decorators: Iterable[str],
    detach: bool,
) -> RunOptions:
    return RunOptions(
        (lambda: progress) if progress is not None else (lambda: default_view(quiet)),
        store,
        max_workers,
        max_num_splits,
        fail_fast,
        quiet,
        tags,
        with_decorators,
        notebook=in_notebook(),
        detach=detach,
    )
