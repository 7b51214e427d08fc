"""The Metaflow names flowkit deliberately does not offer: each imports, and using it is a
:class:`NotOfferedError` saying what to use instead. A step decorator is reported by lint
with the step's file and line; a flow decorator with the class's; anything else raises
when called.

Also where flow decorators record what lint should report about a flow class.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NoReturn

from flowkit.authoring.decorators import DecoratorSpec, _make
from flowkit.authoring.parameters import JSONType
from flowkit.errors import FlowkitError

#: Where a flow class keeps what its flow decorators found wrong, for lint.
FLOW_PROBLEMS_ATTR = "_flowkit_flow_problems"
#: Where a flow class keeps the checks its flow decorators want lint to run on it.
FLOW_CHECKS_ATTR = "_flowkit_flow_checks"


class Hinted(str):
    """A problem a decorator records, with the hint lint shows under it."""

    hint: str

    def __new__(cls, message: str, hint: str) -> Hinted:
        made = super().__new__(cls, message)
        made.hint = hint
        return made

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return Hinted, (str(self), self.hint)


class NotOfferedError(FlowkitError):
    """A Metaflow feature flowkit deliberately does not offer was used."""


def record_flow_problem(cls: type, problem: str) -> None:
    """Have lint report ``problem`` at the flow class's own line."""
    setattr(cls, FLOW_PROBLEMS_ATTR, (*cls.__dict__.get(FLOW_PROBLEMS_ATTR, ()), problem))


def record_flow_check(cls: type, check: Callable[[type], Iterable[str]]) -> None:
    """Have lint report what ``check(flow_class)`` finds, at the flow class's own line: for
    what can only be judged once the class is complete (its parameters, its subclasses)."""
    checks = cls.__dict__.get(FLOW_CHECKS_ATTR, ())
    if check not in checks:
        setattr(cls, FLOW_CHECKS_ATTR, (*checks, check))


def flow_problems_of(cls: type) -> tuple[str, ...]:
    """What the flow decorators on ``cls`` (and its bases) recorded or find, for lint."""
    found: list[str] = []
    checks: list[Callable[[type], Iterable[str]]] = []
    for klass in reversed(cls.__mro__):
        found += klass.__dict__.get(FLOW_PROBLEMS_ATTR, ())
        checks += [c for c in klass.__dict__.get(FLOW_CHECKS_ATTR, ()) if c not in checks]
    for check in checks:
        found += check(cls)
    return tuple(found)


_SCHEDULERS = (
    "run a flow by the clock, after other flows or on events with @schedule, "
    "@trigger_on_finish or @trigger and `flowkit deploy flow.py` (run by `flowkit scheduler`), "
    "or start runs from cron or CI with `python flow.py run` (or flowkit.run(...))"
)
_INTERNAL = "it is internal to Metaflow's schedulers; remove it, flowkit does not need it"
_GANG = (
    "gang-scheduled steps are not offered: fan out with self.next(..., foreach=...), or run "
    "torchrun/mpirun inside one step sized with @resources (on @slurm or @batch for a cluster)"
)

#: Step decorators: name -> what to use instead.
STEP_REFUSALS: dict[str, str] = {
    "kubernetes": (
        "flowkit runs steps locally, on Slurm (@slurm, pip install flowkit-slurm) or on AWS "
        "Batch (@batch, pip install flowkit-aws-batch); use one of those"
    ),
    "parallel": _GANG,
    "pytorch_parallel": _GANG,
    "secrets": (
        "flowkit stores no secrets: read them in the step from os.environ or your secret "
        "manager's own client"
    ),
    "argo_workflows_internal": _INTERNAL,
    "step_functions_internal": _INTERNAL,
    "airflow_internal": _INTERNAL,
    "unbounded_test_foreach_internal": _INTERNAL,
}

#: Flow decorators: name -> what to use instead.
FLOW_REFUSALS: dict[str, str] = {
    "airflow_external_task_sensor": _SCHEDULERS,
    "airflow_s3_key_sensor": _SCHEDULERS,
    "exit_hook": (
        "act on a run's end with @alert(command=[...]) or @alert(webhook=...), which run when "
        "it succeeds or fails"
    ),
}

#: Other names: name -> what to use instead.
CALL_REFUSALS: dict[str, str] = {
    "Deployer": _SCHEDULERS,
    "DeployedFlow": _SCHEDULERS,
    "NBDeployer": _SCHEDULERS,
    "inspect_spin": (
        "Metaflow's spin is not offered: flowkit.debug_task(...) runs one task of a past run "
        "again in this process"
    ),
}


def _message(name: str, kind: str) -> str:
    return f"{kind}{name} is a Metaflow feature that flowkit does not offer"


def refused_step_decorator(name: str) -> Any:
    """``@name`` and ``@name(...)`` on a step: a problem lint reports at the step."""
    instead = STEP_REFUSALS[name]

    def validate(deco: str, kwargs: Any) -> tuple[DecoratorSpec | None, str | None]:
        return None, Hinted(_message(deco, "@"), instead)

    decorator = _make(name, validate)  # type: ignore[arg-type]  # no spec, only a problem
    decorator.__doc__ = f"Not offered by flowkit: {instead}."
    return decorator


def refused_flow_decorator(name: str) -> Any:
    """``@name`` and ``@name(...)`` on a flow class: a problem lint reports at the class."""
    instead = STEP_REFUSALS.get(name) or FLOW_REFUSALS[name]

    def apply(cls: type) -> type:
        record_flow_problem(cls, Hinted(_message(name, "@"), instead))
        return cls

    def decorator(cls: Any = None, /, **kwargs: Any) -> Any:
        if isinstance(cls, type):
            return apply(cls)
        if cls is not None:
            refuse_call(name)
        return apply

    decorator.__name__ = decorator.__qualname__ = name
    decorator.__doc__ = f"Not offered by flowkit: {instead}."
    return decorator


def refuse_call(name: str) -> NoReturn:
    """Raise the :class:`NotOfferedError` for using ``name``."""
    instead = CALL_REFUSALS.get(name) or STEP_REFUSALS.get(name) or FLOW_REFUSALS[name]
    raise NotOfferedError(_message(name, ""), instead)


class _Refused:
    """A class a user may import and not use: making one raises."""

    _name = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        refuse_call(self._name)


def refused_class(name: str) -> type:
    """The class ``name``: importing it works, making one is a :class:`NotOfferedError`."""
    return type(name, (_Refused,), {"_name": name, "__doc__": CALL_REFUSALS[name]})


def refused_function(name: str) -> Any:
    """The function ``name``: importing it works, calling it is a :class:`NotOfferedError`."""

    def function(*args: Any, **kwargs: Any) -> NoReturn:
        refuse_call(name)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"Not offered by flowkit: {CALL_REFUSALS[name]}."
    return function


kubernetes = refused_step_decorator("kubernetes")
parallel = refused_step_decorator("parallel")
pytorch_parallel = refused_step_decorator("pytorch_parallel")
secrets = refused_step_decorator("secrets")
argo_workflows_internal = refused_step_decorator("argo_workflows_internal")
step_functions_internal = refused_step_decorator("step_functions_internal")
airflow_internal = refused_step_decorator("airflow_internal")
unbounded_test_foreach_internal = refused_step_decorator("unbounded_test_foreach_internal")
exit_hook = refused_flow_decorator("exit_hook")
airflow_external_task_sensor = refused_flow_decorator("airflow_external_task_sensor")
airflow_s3_key_sensor = refused_flow_decorator("airflow_s3_key_sensor")
Deployer = refused_class("Deployer")
DeployedFlow = refused_class("DeployedFlow")
NBDeployer = refused_class("NBDeployer")
inspect_spin = refused_function("inspect_spin")

#: Metaflow's name for the type of ``JSONType`` (``isinstance(kind, JSONTypeClass)``).
JSONTypeClass = type(JSONType)
