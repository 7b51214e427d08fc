"""The configured class: what Metaflow does when its command line starts, once the run's
configs are read. The flow's mutators run, and the config expressions written in step
decorators (flowkit's and the user's), mutators' arguments, parameter defaults and
``@project`` get their values, all on a subclass made for the run whose step functions are
its own copies: the user's class and functions are never changed.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Mapping
from types import FunctionType, MappingProxyType
from typing import Any

from flowkit.authoring.config import (
    CONFIGURED_ATTR,
    PROJECT_ATTR,
    Config,
    ConfigError,
    configs_of,
    configured_values,
    namespace,
    resolve_configs,
)
from flowkit.authoring.decorators import DECORATORS_ATTR, PROBLEMS_ATTR, checked_spec
from flowkit.authoring.decorators import decorators_of as _decorators_of
from flowkit.authoring.delayed import UNPACK_PREFIX, ConfigExprError, is_delayed, resolve
from flowkit.authoring.flowspec import step_functions
from flowkit.authoring.mutators import (
    MUTATORS_ATTR,
    apply_mutators,
    flow_mutators_of,
    has_mutators,
)
from flowkit.authoring.parameters import IncludeFile, Parameter, _infer_kind, parameters_of
from flowkit.authoring.scheduling import waits_for_configs
from flowkit.authoring.user_decorators import WRAPPERS_ATTR
from flowkit.errors import ParameterError

#: What a step function holds as lists: each copy gets lists of its own.
_LISTS = (DECORATORS_ATTR, PROBLEMS_ATTR, WRAPPERS_ATTR, MUTATORS_ATTR)


#: :func:`needs_configs` of each class asked about. A flow class's steps, parameters and
#: decorators are all in place once its class statement (and class decorators) ran, so the
#: answer never changes; walking the class was ~1 ms of every task's CPU (most of it going
#: through every attribute for the steps), and the warm worker's answer, made before it
#: forks, is every task's.
_NEEDS_CONFIGS: weakref.WeakKeyDictionary[type, bool] = weakref.WeakKeyDictionary()


def needs_configs(flow_cls: type) -> bool:
    """Whether the class waits for its run's configs: it has mutators, or a config
    expression in a step decorator, a user decorator, a parameter default or ``@project``."""
    known = _NEEDS_CONFIGS.get(flow_cls)
    if known is None:
        known = _NEEDS_CONFIGS[flow_cls] = _waits_for_configs(flow_cls)
    return known


def _waits_for_configs(flow_cls: type) -> bool:
    if configured_values(flow_cls) is not None:
        return False
    if has_mutators(flow_cls):
        return True
    if any(is_delayed(p.default) for p in parameters_of(flow_cls) if not isinstance(p, Config)):
        return True
    if is_delayed(getattr(flow_cls, PROJECT_ATTR, None)):
        return True
    if waits_for_configs(flow_cls):  # @schedule, @trigger, @trigger_on_finish
        return True
    return any(_step_waits(func) for func in step_functions(flow_cls).values())


def _step_waits(func: Any) -> bool:
    if any(is_delayed(dict(spec.args)) for spec in _decorators_of(func)[0]):
        return True
    return any(_arguments_wait(w) for w in getattr(func, WRAPPERS_ATTR, ()))


def _arguments_wait(deco: Any) -> bool:
    return is_delayed(list(deco._args)) or is_delayed(dict(deco._kwargs))


def configure(flow_cls: type, values: Mapping[str, Any]) -> type:
    """``flow_cls`` configured under ``values`` (config attribute -> value): a subclass of the
    same name on which the mutators have run and every config expression has its value.
    What cannot be evaluated in a step's decorators is a problem lint reports with its step,
    file and line. A class with nothing to configure is returned as it is."""
    if not needs_configs(flow_cls):
        return flow_cls
    names = namespace(flow_cls, values)
    mutated = has_mutators(flow_cls)
    body: dict[str, Any] = {CONFIGURED_ATTR: MappingProxyType(dict(values))}
    for attr, func in step_functions(flow_cls).items():
        if mutated or _step_waits(func):
            body[attr] = _own_copy(func)
    made = type(flow_cls.__name__, (flow_cls,), body)
    made.__module__, made.__qualname__ = flow_cls.__module__, flow_cls.__qualname__
    made.__doc__ = flow_cls.__doc__
    if mutated:
        for func in step_functions(made).values():
            _resolve_user_decorators(func, MUTATORS_ATTR, names)
        flow_mutators = [_resolved_mutator(m, names, flow_cls) for m in flow_mutators_of(flow_cls)]
        apply_mutators(made, flow_mutators)
    for attr in step_functions(made):
        if attr in vars(made):  # the class's own copy; the others wait for nothing
            _resolve_step(vars(made)[attr], names)
    for param in parameters_of(made):
        if not isinstance(param, Config) and is_delayed(param.default):
            setattr(made, str(param.attr), _resolved_parameter(param, names))
    project = getattr(made, PROJECT_ATTR, None)
    if isinstance(project, Mapping) and is_delayed(dict(project)):
        setattr(made, PROJECT_ATTR, _resolved_project(flow_cls, project, names))
    return made


def configured(flow_cls: type) -> type:
    """``flow_cls`` ready to read: configured with its configs' defaults when something in it
    waits for them (``flowkit check``, ``graph_of``); a configured class as it is."""
    if not needs_configs(flow_cls):
        return flow_cls
    return configure(flow_cls, resolve_configs(flow_cls, {}))


def configure_from(flow_cls: type, parameters: Mapping[str, Any]) -> type:
    """``flow_cls`` configured with the config values among a run's parameters (by
    attribute), as a task of the run sees it; they are read only if something waits."""
    if not needs_configs(flow_cls):
        return flow_cls
    values = {
        str(c.attr): parameters[str(c.attr)] for c in configs_of(flow_cls) if c.attr in parameters
    }
    return configure(flow_cls, values)


def _own_copy(func: FunctionType) -> FunctionType:
    """A copy of a step function whose decorator lists are its own."""
    made = FunctionType(
        func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__
    )
    made.__dict__.update(func.__dict__)
    for attr in _LISTS:
        if attr in func.__dict__:
            made.__dict__[attr] = list(func.__dict__[attr])
    made.__qualname__, made.__doc__, made.__module__ = (
        func.__qualname__,
        func.__doc__,
        func.__module__,
    )
    made.__kwdefaults__ = func.__kwdefaults__
    return made


def _resolve_step(func: FunctionType, names: Mapping[str, Any]) -> None:
    """Evaluate, on the configured class's own copy of a step function, the config
    expressions in its decorators."""
    specs, problems = _decorators_of(func)
    kept, found = [], list(problems)
    for spec in specs:
        if not is_delayed(dict(spec.args)):
            kept.append(spec)
            continue
        kwargs, failed = _resolved_arguments(spec.name, spec.args, names)
        if failed:
            found += failed
            continue
        resolved, problem = checked_spec(spec.name, kwargs)
        kept.append(resolved)
        if problem:
            found.append(problem)
    setattr(func, DECORATORS_ATTR, kept)
    setattr(func, PROBLEMS_ATTR, found)
    _resolve_user_decorators(func, WRAPPERS_ATTR, names)


def _resolve_user_decorators(func: FunctionType, attr: str, names: Mapping[str, Any]) -> None:
    """User decorators (``attr``: the step's wrappers or its mutators) whose arguments are
    config expressions, replaced by copies given their values; what fails is a problem."""
    decos = getattr(func, attr, None)
    if not decos or not any(_arguments_wait(d) for d in decos):
        return
    kept = []
    for deco in decos:
        if not _arguments_wait(deco):
            kept.append(deco)
            continue
        made, failed = _with_values(deco, names)
        if failed:
            func.__dict__.setdefault(PROBLEMS_ATTR, []).extend(failed)
        else:
            kept.append(made)
    setattr(func, attr, kept)


def _with_values(deco: Any, names: Mapping[str, Any]) -> tuple[Any, list[str]]:
    """A copy of a user decorator (or mutator) whose arguments have their values."""
    label = type(deco).__name__
    kwargs, failed = _resolved_arguments(label, deco._kwargs, names)
    try:
        args = resolve(list(deco._args), names)
    except ConfigExprError as exc:
        failed.append(f"@{label}({', '.join(map(repr, deco._args))}) could not be evaluated: {exc}")
        args = []
    made = copy.copy(deco)
    made._args, made._kwargs = tuple(args), kwargs
    if hasattr(made, "_initialized"):
        made._initialized = False
    return made, failed


def _resolved_mutator(mutator: Any, names: Mapping[str, Any], flow_cls: type) -> Any:
    if not _arguments_wait(mutator):
        return mutator
    made, failed = _with_values(mutator, names)
    if failed:
        raise ConfigError(
            f"the flow mutator on {flow_cls.__name__}: " + "; ".join(failed),
            "fix the expression, or the config it reads",
        )
    return made


def _resolved_arguments(
    name: str, args: Mapping[str, Any], names: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """A decorator's arguments with their expressions evaluated, and what failed, each
    naming the argument as written (``@retry(times=config_expr('cfg.retries'))``)."""
    kwargs: dict[str, Any] = {}
    failed = []
    for key, value in args.items():
        try:
            kwargs.update(resolve({key: value}, names))
        except ConfigExprError as exc:
            shown = f"**{value.text}" if key.startswith(UNPACK_PREFIX) else f"{key}={value!r}"
            failed.append(f"@{name}({shown}) could not be evaluated: {exc}")
    return kwargs, failed


def _resolved_parameter(param: Parameter, names: Mapping[str, Any]) -> Parameter:
    made = copy.copy(param)
    made.problems = list(param.problems)
    try:
        value = resolve(param.default, names)
    except ConfigExprError as exc:
        made.problems.append(
            f"the default of Parameter '{param.name}' ({param.default!r}) could not be "
            f"evaluated: {exc}"
        )
        made.default = None
        return made
    if isinstance(param, IncludeFile):  # a path: the file is read when the run starts
        made.default = value
        return made
    if not param.type_given and not param.separator:
        made.kind = _infer_kind(None, value)
    try:
        made.default = None if value is None else made.convert(value)
    except ParameterError as exc:
        made.problems.append(f"the default of Parameter '{param.name}' is invalid: {exc.message}")
        made.default = None
    return made


def _resolved_project(
    flow_cls: type, project: Mapping[str, Any], names: Mapping[str, Any]
) -> Mapping[str, Any]:
    try:
        return MappingProxyType(resolve(dict(project), names))
    except ConfigExprError as exc:
        raise ConfigError(
            f"@project of {flow_cls.__name__}: {exc}",
            "fix the expression, or the config it reads",
        ) from None
