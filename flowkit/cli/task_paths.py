"""The tasks a pathspec on the command line names, for every command that takes a step or a
task: ``flowkit logs``, ``flowkit card``, and a flow file's ``dump``, ``logs`` and ``card``."""

from __future__ import annotations

from flowkit.client import Step, Task
from flowkit.store import parse_pathspec
from flowkit.store.errors import BadPathspecError
from flowkit.store.store import Store


def tasks_at(pathspec: str, store: Store) -> list[Task]:
    """The tasks ``Flow/run/step/task`` (that one) or ``Flow/run/step`` (every task of the
    step) names, whoever ran them: a pathspec names one run, so no namespace hides it, as in
    Metaflow. A flow or a run, or a step without tasks, is refused."""
    spec = parse_pathspec(pathspec)
    if spec.depth < 3:
        raise BadPathspecError(
            f"{pathspec!r} names a {'flow' if spec.depth == 1 else 'run'}, not a task",
            "give Flow/run/step/task, or Flow/run/step for a step's tasks; "
            "list a run's steps with: flowkit show Flow/run",
        )
    if spec.depth == 4:
        return [Task(str(spec), store=store, _namespace_check=False)]
    tasks = list(Step(str(spec), store=store, _namespace_check=False))
    if not tasks:
        raise BadPathspecError(
            f"step {spec} has no tasks: none ran or none has started yet",
            f"see what the run holds with: flowkit show {spec.flow}/{spec.run_id}",
        )
    return tasks


def task_at(pathspec: str, store: Store) -> Task:
    """The one task ``Flow/run/step/task``, or ``Flow/run/step`` of a step that ran one task,
    names; a step of several is refused, naming how to list them."""
    tasks = tasks_at(pathspec, store)
    if len(tasks) != 1:
        raise BadPathspecError(
            f"step {pathspec} has {len(tasks)} tasks, so it names no single task",
            f"give the task too: {pathspec}/TASK_ID (list them with: flowkit show {pathspec})",
        )
    return tasks[0]
