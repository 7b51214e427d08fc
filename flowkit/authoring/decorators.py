"""``@step`` and the step decorators (``retry``, ``catch``, ``timeout``, ``resources``), and
the executor decorators (``slurm``, ``batch``, any made with :func:`executor_decorator`).

Decorators only record what they were given on the step function; a bad argument is
recorded as a problem that lint reports with the step's file and line, so importing a flow
file never fails halfway through the class body.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import FunctionType, MappingProxyType
from typing import Any, TypeVar, overload

from flowkit.authoring.delayed import is_delayed
from flowkit.fastdata import dataclass

F = TypeVar("F", bound=Callable[..., Any])

DECORATORS_ATTR = "_flowkit_decorators"
PROBLEMS_ATTR = "_flowkit_decorator_problems"
#: Where ``@alert`` keeps a flow class's alert sink tables.
ALERTS_ATTR = "_flowkit_alerts"


@dataclass(frozen=True)
class DecoratorSpec:
    """A step decorator as recorded in the graph: its name and every argument's value."""

    name: str
    args: Mapping[str, Any]
    #: It names the executor the step runs on (``@slurm``), found through the registry.
    executor: bool = False

    def to_json(self) -> dict[str, Any]:
        data = {"name": self.name, "args": dict(self.args)}
        return {**data, "executor": True} if self.executor else data


def _nonneg_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def _nonneg_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _positive_number(value: Any) -> bool:
    return _nonneg_number(value) and value > 0


def _optional_str(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.isidentifier())


# name -> argument -> (default, check, what a valid value is)
_KNOWN: dict[str, dict[str, tuple[Any, Callable[[Any], bool], str]]] = {
    "retry": {
        "times": (3, _nonneg_int, "a whole number >= 0"),
        "backoff": (1.0, _nonneg_number, "seconds >= 0"),
        "max_delay": (60.0, _nonneg_number, "seconds >= 0"),
        "minutes_between_retries": (None, lambda v: v is None or _nonneg_number(v), "minutes >= 0"),
    },
    "catch": {
        "var": (None, _optional_str, "an artifact name (a Python identifier)"),
        "print_exception": (True, lambda v: isinstance(v, bool), "True or False"),
    },
    "timeout": {
        "seconds": (0, _nonneg_number, "a number >= 0"),
        "minutes": (0, _nonneg_number, "a number >= 0"),
        "hours": (0, _nonneg_number, "a number >= 0"),
    },
    "no_cache": {},
    "resources": {
        "cpu": (1, _positive_number, "a number of CPUs > 0"),
        "memory": (4096, _positive_number, "megabytes > 0"),
        "gpu": (0, _nonneg_int, "a whole number of GPUs >= 0"),
        "disk": (None, lambda v: v is None or _positive_number(v), "megabytes > 0"),
        "shared_memory": (None, lambda v: v is None or _positive_number(v), "megabytes > 0"),
    },
    "card": {  # several per step: see _MULTIPLE
        "type": ("default", lambda v: isinstance(v, str) and v != "", "a card type name"),
        "id": (None, lambda v: v is None or isinstance(v, str), "a name (letters, digits, _)"),
        "options": ({}, lambda v: isinstance(v, dict) and _plain(v), "a dict of plain values"),
        "timeout": (45, _positive_number, "seconds > 0"),
        "customize": (False, lambda v: isinstance(v, bool), "True or False"),
        "save_errors": (True, lambda v: isinstance(v, bool), "True or False"),
        "refresh_interval": (5, _positive_number, "seconds > 0"),
    },
}
#: The step decorators a step may carry more than once (``@card(id=...)`` each).
_MULTIPLE = frozenset({"card"})


#: The step decorators flowkit itself defines (executor decorators aside).
STEP_DECORATORS = frozenset(_KNOWN)


def _record(func: Any, spec: DecoratorSpec | None, problem: str | None) -> None:
    if not isinstance(func, FunctionType):
        raise TypeError(f"flowkit decorators apply to step functions, not {type(func).__name__}")
    if not hasattr(func, DECORATORS_ATTR):
        setattr(func, DECORATORS_ATTR, [])
        setattr(func, PROBLEMS_ATTR, [])
    if problem:
        getattr(func, PROBLEMS_ATTR).append(problem)
    if spec is None:
        return
    existing = getattr(func, DECORATORS_ATTR)
    if spec.name not in _MULTIPLE and any(d.name == spec.name for d in existing):
        getattr(func, PROBLEMS_ATTR).append(f"@{spec.name} is applied twice")
        return
    other = next((d for d in existing if d.executor), None)
    if spec.executor and other is not None:
        getattr(func, PROBLEMS_ATTR).append(
            f"@{other.name} and @{spec.name} both say where the step runs; keep one"
        )
        return
    existing.append(spec)


def _validated(name: str, kwargs: Mapping[str, Any]) -> tuple[DecoratorSpec, str | None]:
    known = _KNOWN[name]
    args = {arg: default for arg, (default, _, _) in known.items()}
    problems = []
    for arg, value in kwargs.items():
        if arg not in known:
            problems.append(
                f"@{name} has no argument '{arg}' (it takes {', '.join(sorted(known))})"
            )
            continue
        _, check, wanted = known[arg]
        if not check(value):
            problems.append(f"@{name}({arg}={value!r}) is invalid: {arg} must be {wanted}")
            continue
        args[arg] = value
    if name == "timeout" and not problems and _timeout_seconds(args) <= 0:
        problems.append("@timeout needs a positive duration (seconds=, minutes= or hours=)")
    spec = DecoratorSpec(name, MappingProxyType(args))
    return spec, "; ".join(problems) or None


def _timeout_seconds(args: Mapping[str, Any]) -> float:
    return float(args["seconds"]) + 60.0 * float(args["minutes"]) + 3600.0 * float(args["hours"])


def timeout_seconds(spec: DecoratorSpec) -> float:
    """The total duration a ``@timeout`` allows, in seconds."""
    return _timeout_seconds(spec.args)


#: How each decorator made by :func:`_make` checks its arguments, by name.
_CHECKS: dict[str, Callable[[str, Mapping[str, Any]], tuple[DecoratorSpec, str | None]]] = {}


def checked_spec(name: str, kwargs: Mapping[str, Any]) -> tuple[DecoratorSpec, str | None]:
    """The decorator ``@name(**kwargs)`` checked as applying it checks it, and the problem
    found, if any: for arguments that were config expressions, once they have values."""
    return _CHECKS.get(name, _validated)(name, kwargs)


def _make(
    name: str,
    validate: Callable[[str, Mapping[str, Any]], tuple[DecoratorSpec, str | None]] | None = None,
) -> Any:
    """The step decorator ``@name`` (bare or with arguments), recording what ``validate``
    makes of its arguments (the step decorators' own checks by default)."""
    check = validate or _validated
    _CHECKS[name] = check

    @overload
    def decorator(func: F, /) -> F: ...

    @overload
    def decorator(**kwargs: Any) -> Callable[[F], F]: ...

    def decorator(func: Any = None, /, **kwargs: Any) -> Any:
        if is_delayed(kwargs):  # config expressions: checked once a run's configs are known
            executor = check is _executor_validated
            spec, problem = DecoratorSpec(name, MappingProxyType(kwargs), executor), None
        else:
            spec, problem = check(name, kwargs)
        if func is not None:
            _record(func, spec, problem)
            return func

        def apply(f: F) -> F:
            _record(f, spec, problem)
            return f

        return apply

    decorator.__name__ = decorator.__qualname__ = name
    return decorator


retry = _make("retry")
retry.__doc__ = """Retry the step ``times`` times with exponential backoff and full jitter.

``@retry`` or ``@retry(times=3, backoff=1.0, max_delay=60.0)``; ``backoff`` is the base delay
in seconds and ``max_delay`` caps it.
"""
catch = _make("catch")
catch.__doc__ = """After the last attempt, store the exception in artifact ``var`` and go on."""
timeout = _make("timeout")
timeout.__doc__ = """Kill the step's whole process group after ``seconds + minutes + hours``."""
no_cache = _make("no_cache")
no_cache.__doc__ = """The step reads the outside world: ``run --reuse`` always runs it."""
resources = _make("resources")
resources.__doc__ = """Declare what a task needs: ``cpu``, ``memory`` (MB), ``gpu``."""
card = _make("card")
card.__doc__ = """Make an HTML report of the task when it ends: ``@card`` shows its artifacts and
what ``current.card.append`` added, ``@card(type="blank")`` only the latter; several per step
with ``id=`` each (``current.card["id"]``). See :mod:`flowkit.cards`."""


def _plain(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return value is None or isinstance(value, str | int | float | bool)


def _executor_validated(name: str, kwargs: Mapping[str, Any]) -> tuple[DecoratorSpec, str | None]:
    bad = sorted(k for k, v in kwargs.items() if not _plain(v))
    problem = (
        f"@{name}({bad[0]}=...) is invalid: an executor's arguments must be plain values "
        "(strings, numbers, booleans, lists, dicts)"
        if bad
        else None
    )
    return DecoratorSpec(name, MappingProxyType(dict(kwargs)), executor=True), problem


def executor_spec(name: str, kwargs: Mapping[str, Any]) -> DecoratorSpec:
    """The executor decorator ``@name(**kwargs)`` built outside a flow (``--with
    slurm:partition=gpu``); a ValueError says what is wrong."""
    spec, problem = _executor_validated(name, kwargs)
    if problem:
        raise ValueError(problem)
    return spec


def executor_decorator(name: str, doc: str | None = None) -> Any:
    """A step decorator that runs the step on the executor ``name`` (an entry point of the
    ``flowkit.executors`` group): ``slurm = executor_decorator("slurm")``, then
    ``@slurm(partition="gpu")``. Its arguments go to the executor as they are (plain values:
    strings, numbers, booleans, lists, dicts); it learns ``@resources`` separately. An
    extension package makes its own decorator with this."""
    decorator = _make(name, _executor_validated)
    decorator.__doc__ = doc or f"Run the step on the '{name}' executor."
    return decorator


slurm = executor_decorator(
    "slurm",
    """Run the step as a Slurm job (``pip install flowkit-slurm``): ``@slurm(partition=...)``.""",
)
batch = executor_decorator(
    "batch",
    """Run the step on AWS Batch (``pip install flowkit-aws-batch``): ``@batch(queue=...)``.""",
)


C = TypeVar("C", bound=type)


def alert(
    *, webhook: str | None = None, command: list[str] | None = None, **config: Any
) -> Callable[[C], C]:
    """Send this flow's alerts (run failed, task dead-lettered, run succeeded) to a sink.

    ``@alert(webhook="https://...")``, ``@alert(command=["notify", "--flow"])`` (run without
    a shell, the event as JSON on stdin), or ``@alert(kind="name", ...)`` for a sink from a
    ``flowkit.alerts`` entry point; ``on=[...]`` picks events. Stack it for several sinks.
    """
    if webhook is not None:
        config = {"kind": "webhook", "url": webhook, **config}
    elif command is not None:
        config = {"kind": "command", "argv": list(command), **config}
    if not isinstance(config.get("kind"), str):
        raise TypeError("@alert needs webhook=, command= or kind=")

    def apply(cls: C) -> C:
        setattr(cls, ALERTS_ATTR, (*cls.__dict__.get(ALERTS_ATTR, ()), dict(config)))
        return cls

    return apply


def decorator_spec(name: str, kwargs: Mapping[str, Any]) -> DecoratorSpec:
    """A validated step decorator built outside a flow (``--with retry:times=2``); a
    ValueError says what is wrong."""
    if name not in _KNOWN:
        raise ValueError(f"there is no step decorator '{name}'")
    spec, problem = _validated(name, kwargs)
    if problem:
        raise ValueError(problem)
    return spec


def step(func: F) -> F:
    """Mark a method of a :class:`FlowSpec` as a step of the flow."""
    if not isinstance(func, FunctionType):
        raise TypeError(f"@step decorates a method defined with 'def', not {type(func).__name__}")
    func.is_step = True  # type: ignore[attr-defined]  # the attributes Metaflow sets too
    func.name = func.__name__  # type: ignore[attr-defined]
    if not hasattr(func, DECORATORS_ATTR):
        setattr(func, DECORATORS_ATTR, [])
        setattr(func, PROBLEMS_ATTR, [])
    return func


def is_step(obj: Any) -> bool:
    """Whether ``obj`` is a function marked with :func:`step`."""
    return isinstance(obj, FunctionType) and getattr(obj, "is_step", False) is True


def decorators_of(func: Any) -> tuple[tuple[DecoratorSpec, ...], tuple[str, ...]]:
    """The decorators recorded on a step function and the problems found with them."""
    return tuple(getattr(func, DECORATORS_ATTR, ())), tuple(getattr(func, PROBLEMS_ATTR, ()))
