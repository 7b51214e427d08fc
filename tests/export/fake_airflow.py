"""A tiny stand-in for the Airflow names an exported DAG file uses, enough to execute the
DAG file as Airflow's DAG processor would (every task defined before a task uses it, each
task's settings, dependencies, params and schedule recorded) without Airflow installed.
The real module of tests/export/test_airflow_runs.py parses DAGs with Airflow itself."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


class AirflowFailException(Exception):
    pass


@dataclass
class Expression:
    """An asset schedule: an Asset, or ``|``/``&`` of expressions."""

    text: str

    def __or__(self, other: Expression) -> Expression:
        return Expression(f"({self.text} | {other.text})")

    def __and__(self, other: Expression) -> Expression:
        return Expression(f"({self.text} & {other.text})")


def Asset(name: str, uri: str) -> Expression:
    return Expression(uri)


@dataclass
class Param:
    default: Any = None
    type: Any = None
    description: str | None = None


@dataclass
class CronTriggerTimetable:
    cron: str
    timezone: str


@dataclass
class AssetOrTimeSchedule:
    timetable: CronTriggerTimetable
    assets: Expression


@dataclass
class Task:
    """One task of the DAG: its settings, the tasks it follows, whether it is mapped."""

    task_id: str
    settings: dict[str, Any]
    upstream: list[str] = field(default_factory=list)
    mapped: bool = False
    arguments: dict[str, Any] = field(default_factory=dict)

    def __rshift__(self, other: Task) -> Task:
        other.upstream.append(self.task_id)
        return other

    def __rrshift__(self, others: list[Task]) -> Task:
        for other in others:
            self.upstream.append(other.task_id)
        return self


class DAG:
    current: DAG | None = None

    def __init__(self, **settings: Any) -> None:
        self.settings = settings
        self.tasks: dict[str, Task] = {}

    def __enter__(self) -> DAG:
        DAG.current = self
        return self

    def __exit__(self, *exc: object) -> None:
        DAG.current = None


def _upstream(value: Any) -> Iterator[str]:
    if isinstance(value, Task):
        yield value.task_id
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _upstream(item)


class _Decorated:
    def __init__(self, function: Callable[..., Any], settings: dict[str, Any]) -> None:
        self.function = function
        self.settings = settings

    def override(self, **settings: Any) -> _Decorated:
        return _Decorated(self.function, {**self.settings, **settings})

    def _made(self, arguments: dict[str, Any], mapped: bool) -> Task:
        dag = DAG.current
        assert dag is not None, "a task made outside the DAG"
        task_id = self.settings.get("task_id") or self.function.__name__
        assert task_id not in dag.tasks, f"task {task_id} made twice"
        made = Task(task_id, self.settings, mapped=mapped, arguments=arguments)
        made.upstream += [u for value in arguments.values() for u in _upstream(value)]
        dag.tasks[task_id] = made
        return made

    def __call__(self, *args: Any, **kwargs: Any) -> Task:
        names = self.function.__code__.co_varnames[: self.function.__code__.co_argcount]
        return self._made({**dict(zip(names, args, strict=False)), **kwargs}, mapped=False)

    def partial(self, **kwargs: Any) -> _Partial:
        return _Partial(self, kwargs)


@dataclass
class _Partial:
    decorated: _Decorated
    fixed: dict[str, Any]

    def expand(self, **kwargs: Any) -> Task:
        return self.decorated._made({**self.fixed, **kwargs}, mapped=True)


class _TaskDecorator:
    def __call__(self, function: Callable[..., Any] | None = None, **settings: Any) -> Any:
        if function is None:
            return lambda f: _Decorated(f, settings)
        return _Decorated(function, settings)

    def branch(self, function: Callable[..., Any]) -> _Decorated:
        return _Decorated(function, {"branch": True})


task = _TaskDecorator()

#: What get_current_context returns while a test calls a task's function.
CONTEXT: dict[str, Any] = {}


def get_current_context() -> dict[str, Any]:
    return CONTEXT


@contextmanager
def installed() -> Iterator[None]:
    """The fake's modules under Airflow's names, for the while."""
    names = {
        "airflow": {},
        "airflow.sdk": {
            "DAG": DAG,
            "Asset": Asset,
            "Param": Param,
            "get_current_context": get_current_context,
            "task": task,
        },
        "airflow.sdk.exceptions": {"AirflowFailException": AirflowFailException},
        "airflow.timetables": {},
        "airflow.timetables.assets": {"AssetOrTimeSchedule": AssetOrTimeSchedule},
        "airflow.timetables.trigger": {"CronTriggerTimetable": CronTriggerTimetable},
    }
    saved = {name: sys.modules.get(name) for name in names}
    try:
        for name, attributes in names.items():
            module = types.ModuleType(name)
            vars(module).update(attributes)
            sys.modules[name] = module
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def load_dag(text: str, filename: str = "dag.py") -> tuple[DAG, dict[str, Any]]:
    """Execute a DAG file's text with the fake; the DAG and the file's names."""
    namespace: dict[str, Any] = {"__name__": "exported_dag", "__file__": filename}
    with installed():
        exec(compile(text, filename, "exec"), namespace)
    dag = namespace["dag"]
    assert isinstance(dag, DAG)
    return dag, namespace


if __name__ == "__main__":
    # call one helper of a DAG file, as the Airflow task process that runs it would:
    # python fake_airflow.py DAG_FILE FUNCTION '{"args": [...], "kwargs": {...}}'
    import json
    import signal

    # as Airflow's task runner does: SIGTERM (a timeout, a cancel) raises in the task
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    _, helpers = load_dag(open(sys.argv[1]).read(), sys.argv[1])  # noqa: SIM115
    call = json.loads(sys.argv[3])
    print(json.dumps(helpers[sys.argv[2]](*call["args"], **call.get("kwargs", {}))), flush=True)
