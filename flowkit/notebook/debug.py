"""Debugging one step in the kernel: rebuild a past task's inputs and run its step here.

The step runs in this process, so breakpoints and ``%debug`` work, optionally with edited
code; nothing is written to the original run. The result reads like a task's data and can
be turned into a new run that resumes from that step.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from flowkit.errors import FlowkitError
from flowkit.fastdata import dataclass

if TYPE_CHECKING:
    from flowkit.authoring.flowspec import FlowSpecBase
    from flowkit.client import Run, Task
    from flowkit.store import Store


@dataclass
class StepDebug:
    """What a debugged step produced; ``data`` reads like ``Task.data``."""

    task: Task
    flow_cls: type
    data: FlowSpecBase
    next_steps: tuple[str, ...]

    @property
    def artifacts(self) -> list[str]:
        """Names of the artifacts the step would pass on (assigned or inherited)."""
        return sorted(self.data._flowkit_artifact_names())

    def resume(self, **options: Any) -> Run:
        """A new run that resumes the task's run from this step, with the code debugged."""
        from flowkit.surfaces.api import resume

        run_id = self.task.pathspec.split("/")[1]
        run = resume(self.flow_cls, self.task.record.step, origin_run_id=run_id, **options)
        return cast("Run", run)

    def __repr__(self) -> str:
        return f"<StepDebug of {self.task.pathspec}: {', '.join(self.artifacts)}>"


def debug_task(
    task: Task | str,
    flow: type | None = None,
    *,
    step: Callable[..., Any] | None = None,
    store: str | Store | None = None,
) -> StepDebug:
    """Run the step of a past ``task`` (a Task or its pathspec) here, on its recorded inputs.

    ``flow`` is the flow class (by default the class of that name in ``__main__``, as a
    notebook defines it); ``step`` replaces the step's function, e.g. an edited copy defined
    in a cell. Exceptions are raised as they are, so ``%debug`` opens at the failing line.
    """
    from flowkit.client import Task
    from flowkit.lint.api import check
    from flowkit.store import open_store
    from flowkit.task.execute import call_step

    the_store = open_store(store) if not isinstance(task, Task) else task._store
    target = task if isinstance(task, Task) else Task(task, store=the_store, _namespace_check=False)
    record = target.record
    flow_cls = flow or _from_main(record.flow)
    if step is not None:
        flow_cls = with_step(flow_cls, record.step, step)
    spec = _spec(the_store, check(flow_cls), record)
    parents = [_parent(the_store, p) for p in record.parents]
    obj = call_step(spec, the_store, flow_cls, parents)
    transition = obj.__dict__.get("_flowkit_transition")
    return StepDebug(target, flow_cls, obj, transition.targets if transition else ())


def with_step(flow_cls: type, name: str, function: Callable[..., Any]) -> type:
    """A subclass of ``flow_cls`` (same name) whose step ``name`` is ``function``."""
    from flowkit.authoring.decorators import DECORATORS_ATTR, PROBLEMS_ATTR, step

    original = getattr(flow_cls, name)
    if not hasattr(function, DECORATORS_ATTR):
        setattr(function, DECORATORS_ATTR, list(getattr(original, DECORATORS_ATTR, [])))
        setattr(function, PROBLEMS_ATTR, [])
    edited = type(flow_cls.__name__, (flow_cls,), {name: step(function)})
    edited.__module__ = flow_cls.__module__
    edited.__doc__ = flow_cls.__doc__
    return edited


def _from_main(flow_name: str) -> type:
    from flowkit.authoring.flowspec import FlowSpecBase

    found = getattr(sys.modules.get("__main__"), flow_name, None)
    if isinstance(found, type) and issubclass(found, FlowSpecBase):
        return found
    raise FlowkitError(
        f"no flow class {flow_name} is defined here",
        f"pass it: debug_task(task, flow={flow_name}), after defining or importing it",
    )


def _parent(store: Store, pathspec: str) -> Any:
    flow, run_id, step, task_id = pathspec.split("/")
    done = [a for a in store.records.task_attempts(flow, run_id, step, task_id) if a.successful]
    if not done:
        raise FlowkitError(f"input task {pathspec} never succeeded, so its step cannot be rebuilt")
    return done[-1]


def _spec(store: Store, graph: Any, record: Any) -> Any:
    from flowkit.plan.tasks import Branch
    from flowkit.task.spec import CodeRef, task_spec

    params = {p.attr for p in graph.parameters}
    return task_spec(
        graph[record.step],
        store=store.url,
        flow=record.flow,
        run_id=record.run_id,
        task_id=record.task_id,
        attempt=record.attempt,
        code=CodeRef("blob", "", record.flow),
        path=tuple(Branch.from_json(list(b)) for b in record.path),
        parameters={
            a: (r.digest, r.size, r.type) for a, r in record.artifacts.items() if a in params
        },
    )
