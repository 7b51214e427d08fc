"""A task attempt that failed, and the attempt ``@catch`` adds after the last failure.

A failed attempt's record keeps the exception (type, message, the user's frames), what the
step had set before it raised, and how it ended; ``@catch``'s attempt runs no user code: it
stores that failure in ``var`` and takes the step's normal transition.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING

from flowkit.errors import FlowDefinitionError
from flowkit.fastdata import replace
from flowkit.task.caught import CaughtFailure, qualified_name
from flowkit.task.outcome import EXIT_FAILED, EXIT_OK
from flowkit.task.persist import persist
from flowkit.task.timeout import TaskTimedOut

if TYPE_CHECKING:
    from flowkit.authoring.flowspec import FlowSpecBase
    from flowkit.store import Store, TaskRecord
    from flowkit.store.records import ArtifactRef, ExceptionInfo
    from flowkit.task.spec import TaskSpec

_FLOWKIT_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))


def failed_record(
    spec: TaskSpec,
    store: Store,
    flow: FlowSpecBase | None,
    record: TaskRecord,
    exc: BaseException,
) -> TaskRecord:
    """The final record of an attempt that raised ``exc``: its traceback is echoed to the
    task's stderr (unless ``@catch(print_exception=False)`` will catch it, as Metaflow keeps
    quiet then; the record still holds it), and what the step set before it raised is kept
    (Metaflow keeps it: ``@catch`` passes it on)."""
    main = type(flow).__module__ if flow is not None else None
    info = exception_info(exc, main)
    if spec.print_exception:
        sys.stderr.write(info.traceback)
    kept = _kept(flow, store, spec) if flow is not None and isinstance(exc, Exception) else {}
    return record.finished(
        "failed",
        exception=info,
        exit_code=EXIT_FAILED,
        path=tuple(tuple(b.to_json()) for b in spec.path),
        failure="timeout" if isinstance(exc, TaskTimedOut) else "error",
        artifacts=kept,
    )


def caught_attempt(
    spec: TaskSpec, store: Store, flow: FlowSpecBase, parents: list[TaskRecord], record: TaskRecord
) -> TaskRecord:
    """The attempt ``@catch`` adds: no user code runs; the failure goes into ``var``, what
    the failed attempt had set passes on (as Metaflow keeps it; what the step inherited when
    that attempt died without storing anything, and a join inherits nothing), so do the
    cards it had filled (Metaflow catches in the same attempt), and the flow takes the
    step's normal transition."""
    from flowkit.store.records import ExceptionInfo

    assert spec.catch is not None
    info = ExceptionInfo(
        str(spec.catch["type"]),
        str(spec.catch["message"]),
        str(spec.catch.get("traceback") or ""),
        str(spec.catch.get("qualified_type") or ""),
    )
    caught = caught_failure(info, spec.catch.get("failure"))
    failed = _failed_attempt(spec, store)
    if failed is not None and failed.artifacts:
        flow._flowkit_inherit(store.values.artifact_source(failed))
    elif not spec.contract.takes_inputs:
        for parent in parents:
            flow._flowkit_inherit(store.values.artifact_source(parent))
    var = spec.catch.get("var")  # without one, the failure is not stored (as in Metaflow)
    if spec.catch.get("print") == "yes":
        what = f"stored in '{var}'" if var else "caught"
        sys.stderr.write(f"@catch {what}: {caught.type}: {caught.message}\n")
    if var:
        flow.__dict__[var] = caught
    contract = spec.contract
    if contract.transition in ("switch", "foreach"):  # lint refuses it before a run starts
        raise FlowDefinitionError(
            f"step '{spec.step}' failed and its @catch cannot say where the flow goes: the "
            f"step is a {contract.transition}",
            "put @catch on the steps after it, not on the step that fans out or switches",
            step=spec.step,
        )
    final = record.finished(
        "caught",
        artifacts=persist(flow, store, spec),
        exit_code=EXIT_OK,
        exception=info,
        failure=caught.failure,
        next_steps=contract.targets if contract.transition != "end" else (),
        path=tuple(tuple(b.to_json()) for b in spec.path),
        finished_at=time.time(),
    )
    return replace(final, cards=failed.cards) if failed is not None and failed.cards else final


def _failed_attempt(spec: TaskSpec, store: Store) -> TaskRecord | None:
    """The attempt whose failure ``spec.catch`` stores."""
    assert spec.catch is not None
    attempt = spec.catch.get("attempt")
    if attempt is None:  # a spec from before it was named
        return None
    return store.records.get_attempt(spec.flow, spec.run_id, spec.step, spec.task_id, int(attempt))


def caught_failure(info: ExceptionInfo, failure: str | None) -> CaughtFailure:
    """What ``@catch`` stores for a failed attempt's exception (named as Metaflow names it)."""
    return CaughtFailure(info.qualified_type or info.type, info.message, info.traceback, failure)


def exception_info(exc: BaseException, main: str | None = None) -> ExceptionInfo:
    """``exc`` as a record keeps it: type, message, the user's frames of its traceback; a
    class of module ``main`` (the flow's file) is named ``__main__.Name``, as Metaflow,
    which runs the flow's file as a script, names it."""
    from flowkit.store.records import ExceptionInfo

    cls = type(exc)
    return ExceptionInfo(
        cls.__name__, message(exc), user_traceback(exc, main), qualified_name(cls, main)
    )


def _kept(flow: FlowSpecBase, store: Store, spec: TaskSpec) -> dict[str, ArtifactRef]:
    """What a failed attempt had set, stored, all or nothing: a value that cannot be stored
    is said on stderr, and the attempt's own exception stays the one its record gives."""
    try:
        return persist(flow, store, spec)
    except Exception as exc:  # reported: the step's own failure is the news
        sys.stderr.write(
            f"flowkit: what step '{spec.step}' set before it failed was not stored: "
            f"{message(exc)}\n"
        )
        return {}


def message(exc: BaseException) -> str:
    """``exc``'s message (a flowkit error's with its hint)."""
    render = getattr(exc, "render", None)
    return str(render()) if callable(render) else str(exc)


def user_traceback(exc: BaseException, main: str | None = None) -> str:
    """The traceback of ``exc`` with flowkit's own frames left out (and notebook cells named
    as Jupyter names them); a class of module ``main`` (the flow's file) is named as Python
    names one of the script it runs (``MyError``, not ``flow.MyError``)."""
    import traceback  # here: a task that succeeds never formats one

    from flowkit.graph.source import display_name

    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith(_FLOWKIT_DIR)
    ]
    for frame in frames:
        frame.filename = display_name(frame.filename)
    # flowkit's own checks after the step returned leave no frame of the user's to show
    lines = (
        ["Traceback (most recent call last):\n", *traceback.format_list(frames)] if frames else []
    )
    last = traceback.format_exception_only(type(exc), exc)
    cls = type(exc)
    if main is not None and cls.__module__ == main and last:
        last[0] = last[0].replace(f"{main}.{cls.__qualname__}", cls.__qualname__, 1)
    return "".join(lines + last)
