"""``@sla``: how long a step's task, or a whole run, should take at most.

On a step (with ``@step``, in any order with the other step decorators) it is recorded like
the other step decorators, so a bad value is a problem lint reports at the step's file and
line; on a flow class it is kept on the class, and a bad value is reported at the class's
line. What the runtime does with it (a ``sla_missed`` alert the moment a task or the run
passes it) is :mod:`flowkit.runtime.sla`'s.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from types import FunctionType, MappingProxyType
from typing import Any

from flowkit.authoring.compat import Hinted, record_flow_problem
from flowkit.authoring.decorators import DecoratorSpec, _make, decorators_of, is_step
from flowkit.authoring.flowspec import FlowSpecBase
from flowkit.errors import FlowDefinitionError

#: Where ``@sla`` keeps a flow class's limit, in seconds.
SLA_ATTR = "_flowkit_sla"

_UNITS = {"seconds": 1.0, "minutes": 60.0, "hours": 3600.0}
_HINT = "give a positive duration, e.g. @sla(minutes=30) or @sla(hours=1, minutes=30)"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def _checked(name: str, kwargs: Mapping[str, Any]) -> tuple[DecoratorSpec, str | None]:
    """``@sla(**kwargs)`` as a step decorator: its spec, and what is wrong with it."""
    args = dict.fromkeys(_UNITS, 0)
    problems = []
    for arg, value in kwargs.items():
        if arg not in _UNITS:
            problems.append(f"@sla has no argument '{arg}' (it takes hours, minutes, seconds)")
        elif not _number(value):
            problems.append(f"@sla({arg}={value!r}) is invalid: {arg} must be a number >= 0")
        else:
            args[arg] = value
    if not problems and sla_seconds(args) <= 0:
        given = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        problems.append(
            f"@sla({given}) allows no time at all" if given else "@sla needs a duration"
        )
    problem = Hinted("; ".join(problems), _HINT) if problems else None
    return DecoratorSpec(name, MappingProxyType(args)), problem


def sla_seconds(args: Mapping[str, Any]) -> float:
    """The time an ``@sla``'s arguments allow, in seconds."""
    return sum(float(args.get(unit, 0)) * factor for unit, factor in _UNITS.items())


_step_sla = _make("sla", _checked)


def sla(target: Any = None, /, **kwargs: Any) -> Any:
    """Alert (``sla_missed``, through the run's alert sinks) the moment a task of this step,
    or a whole run of this flow, has taken longer than ``hours + minutes + seconds``:
    ``@sla(minutes=30)`` on a step or on the flow class. The run goes on; the alert is sent
    while it is still going, once for the run and once for a step (its first task past
    it; with the run's end, one more saying how many of its tasks were, if more than one),
    and the run's end record lists what missed (``Run.end_record.sla_missed``)."""
    if target is not None:  # a bare @sla: no duration
        return _apply(target, kwargs, sys._getframe(1))
    where = sys._getframe(1)

    def apply(obj: Any) -> Any:
        return _apply(obj, kwargs, where)

    return apply


def _apply(obj: Any, kwargs: Mapping[str, Any], frame: Any) -> Any:
    if isinstance(obj, FunctionType):
        return _step_sla(**kwargs)(obj)
    if isinstance(obj, type) and issubclass(obj, FlowSpecBase):
        spec, problem = _checked("sla", kwargs)
        if problem is not None:
            record_flow_problem(obj, problem)
        else:
            setattr(obj, SLA_ATTR, sla_seconds(spec.args))
        return obj
    what = f"class {obj.__name__}" if isinstance(obj, type) else type(obj).__name__
    raise FlowDefinitionError(
        f"@sla applies to a step or a flow class, not to {what}",
        "put @sla(minutes=...) on a step (next to @step) or on the FlowSpec class",
        file=frame.f_code.co_filename,
        line=frame.f_lineno,
    )


def check_placed(flow_cls: type) -> None:
    """Raise a :class:`FlowDefinitionError` at the first method of ``flow_cls`` that has an
    ``@sla`` and is not a step: no task of it is ever watched."""
    for klass in flow_cls.__mro__:
        for name, value in vars(klass).items():
            if not isinstance(value, FunctionType) or is_step(value):
                continue
            if any(spec.name == "sla" for spec in decorators_of(value)[0]):
                code = value.__code__
                raise FlowDefinitionError(
                    f"@sla is on {flow_cls.__name__}.{name}, which is not a step",
                    f"add @step to {name}, or move @sla to a step or to the flow class",
                    file=code.co_filename,
                    line=code.co_firstlineno,
                )


def flow_sla(flow_cls: type) -> float | None:
    """The ``@sla`` of ``flow_cls`` (or of the flow it subclasses), in seconds; None
    without one."""
    limit = getattr(flow_cls, SLA_ATTR, None)
    return None if limit is None else float(limit)
