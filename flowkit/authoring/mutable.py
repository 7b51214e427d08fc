"""What a mutator works on: :class:`MutableStep` (a step's decorators, to read, add and
remove) and :class:`MutableFlow` (a flow's steps, parameters, configs and flow decorators).
:mod:`flowkit.authoring.mutators` holds the mutators themselves and runs them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from types import FunctionType
from typing import Any

from flowkit.authoring.decorators import DECORATORS_ATTR, DecoratorSpec, decorators_of
from flowkit.authoring.mutators import (
    MUTATORS_ATTR,
    FlowMutator,
    StepMutator,
    flow_mutators_of,
    run_step_mutator,
)
from flowkit.authoring.user_decorators import WRAPPERS_ATTR, UserDecoratorBase
from flowkit.errors import FlowDefinitionError


class MutableStep:
    """A step as a mutator sees it: its decorators, to read, add and remove."""

    IGNORE = 1
    ERROR = 2
    OVERRIDE = 3

    def __init__(self, cls: type, name: str, func: FunctionType) -> None:
        self._cls, self.name, self._func = cls, name, func

    @property
    def flow(self) -> MutableFlow:
        """The flow the step belongs to."""
        return MutableFlow(self._cls, configs_of(self._cls))

    @property
    def decorator_specs(self) -> Iterator[tuple[str, str, list[Any], dict[str, Any]]]:
        """Each decorator as ``(name, full name, args, kwargs)``."""
        for spec in decorators_of(self._func)[0]:
            yield spec.name, f"flowkit.{spec.name}", [], dict(spec.args)
        for deco in (*getattr(self._func, WRAPPERS_ATTR, ()), *self._mutators):
            yield (short_name(deco), deco.decorator_name, *deco.get_args_kwargs())

    @property
    def _mutators(self) -> list[StepMutator]:
        return list(getattr(self._func, MUTATORS_ATTR, ()))

    def has_decorator(self, name: str) -> bool:
        """Whether the step has a decorator called ``name`` (short or full name)."""
        return bool(self.get_decorator_specs(name))

    def get_decorator_specs(self, name: str) -> list[tuple[str, str, list[Any], dict[str, Any]]]:
        """The decorators called ``name`` (a full name when it has a dot)."""
        return [s for s in self.decorator_specs if name == (s[1] if "." in name else s[0])]

    def add_decorator(
        self,
        deco_type: Any,
        deco_args: list[Any] | None = None,
        deco_kwargs: dict[str, Any] | None = None,
        duplicates: int = IGNORE,
    ) -> Any:
        """Add a decorator: a flowkit one (``retry``, or ``"retry:times=3"``), a user step
        decorator or a step mutator class. ``duplicates`` says what an existing one of the
        same name does: IGNORE keeps it, OVERRIDE replaces it, ERROR raises."""
        args, kwargs = list(deco_args or []), dict(deco_kwargs or {})
        if isinstance(deco_type, str):
            deco_type, kwargs = decorator_from_text(deco_type, kwargs)
        is_user = isinstance(deco_type, type) and issubclass(deco_type, UserDecoratorBase)
        name = deco_type.__name__
        if self.has_decorator(name):
            if duplicates == self.IGNORE:
                return None
            if duplicates == self.ERROR:
                raise FlowDefinitionError(
                    f"step '{self.name}' has @{name} already",
                    "add it with duplicates=MutableStep.OVERRIDE or IGNORE",
                    step=self.name,
                )
            self.remove_decorator(name)
        made = deco_type(*args, **kwargs) if (args or kwargs or is_user) else deco_type
        made(self._func)
        if isinstance(made, StepMutator):
            run_step_mutator(made, self, pre_mutated=False)
        return made

    def remove_decorator(
        self,
        deco_name: str,
        deco_args: list[Any] | None = None,
        deco_kwargs: dict[str, Any] | None = None,
    ) -> bool:
        """Remove the decorators called ``deco_name`` (with these arguments, if given)."""

        def matches(name: str, full: str, args: list[Any], kwargs: dict[str, Any]) -> bool:
            if deco_name != (full if "." in deco_name else name):
                return False
            if deco_args is None and deco_kwargs is None:
                return True
            wanted = dict(deco_kwargs or {})
            return list(deco_args or []) == args and wanted.items() <= kwargs.items()

        specs: list[DecoratorSpec] = getattr(self._func, DECORATORS_ATTR, [])
        kept = [s for s in specs if not matches(s.name, f"flowkit.{s.name}", [], dict(s.args))]
        removed = len(kept) != len(specs)
        setattr(self._func, DECORATORS_ATTR, kept)  # new lists: never one another class holds
        for attr in (WRAPPERS_ATTR, MUTATORS_ATTR):
            decos = getattr(self._func, attr, [])
            left = [
                d
                for d in decos
                if not matches(short_name(d), d.decorator_name, *d.get_args_kwargs())
            ]
            removed = removed or len(left) != len(decos)
            setattr(self._func, attr, left)
        return removed


class MutableFlow:
    """A flow as a mutator sees it: its steps, parameters and configs."""

    IGNORE = MutableStep.IGNORE
    ERROR = MutableStep.ERROR
    OVERRIDE = MutableStep.OVERRIDE

    def __init__(
        self,
        cls: type,
        configs: Iterable[tuple[str, Any]] = (),
        mutators: list[FlowMutator] | None = None,
    ) -> None:
        self._cls, self._configs = cls, tuple(configs)
        self._mutators = mutators if mutators is not None else flow_mutators_of(cls)

    @property
    def steps(self) -> Iterator[tuple[str, MutableStep]]:
        """Each step, by name."""
        from flowkit.authoring.flowspec import step_functions

        for name, func in step_functions(self._cls).items():
            yield name, MutableStep(self._cls, name, func)

    @property
    def parameters(self) -> Iterator[tuple[str, Any]]:
        """Each parameter (configs aside), by attribute name."""
        from flowkit.authoring.config import Config
        from flowkit.authoring.parameters import parameters_of

        for param in parameters_of(self._cls):
            if not isinstance(param, Config):
                yield str(param.attr), param

    @property
    def configs(self) -> Iterator[tuple[str, Any]]:
        """Each config of the run, as ``(name, value)``: a read-only ConfigValue (the value
        as it is for a ``plain`` config, or None when it has none)."""
        yield from self._configs

    def add_parameter(self, name: str, value: Any, overwrite: bool = False) -> None:
        """Add the parameter ``value`` as attribute ``name`` (``overwrite`` replaces one)."""
        if hasattr(self._cls, name) and not overwrite:
            raise FlowDefinitionError(
                f"flow {self._cls.__name__} has a member '{name}' already",
                "pass overwrite=True to add_parameter to replace it",
            )
        setattr(self._cls, name, value)
        set_name = getattr(value, "__set_name__", None)
        if set_name is not None:
            set_name(self._cls, name)

    def remove_parameter(self, parameter_name: str) -> bool:
        """Remove the parameter named ``parameter_name`` (or held by that attribute); whether
        there was one. Configs cannot be removed."""
        params = dict(self.parameters)
        attr = next((a for a, p in params.items() if p.name == parameter_name), None)
        if attr is None and parameter_name not in params:
            return False
        attr = attr or parameter_name
        if attr in vars(self._cls):
            delattr(self._cls, attr)
        if hasattr(self._cls, attr):  # a base class's: hidden on this class only
            setattr(self._cls, attr, _Removed(attr))
        return True

    def add_decorator(
        self,
        deco_type: Any,
        deco_args: list[Any] | None = None,
        deco_kwargs: dict[str, Any] | None = None,
        duplicates: int = IGNORE,
    ) -> Any:
        """Apply a flow decorator (``conda_base``, ``project``, ``alert``...) or a
        :class:`FlowMutator` to the flow. ``duplicates`` says what happens when the flow has
        one of that name: IGNORE keeps it, OVERRIDE replaces it, ERROR raises (``alert``
        may be applied many times)."""
        args, kwargs = list(deco_args or []), dict(deco_kwargs or {})
        if isinstance(deco_type, type) and issubclass(deco_type, FlowMutator):
            made: Any = deco_type(*args, **kwargs)
            name = deco_type.__name__
        else:
            name = getattr(deco_type, "__name__", str(deco_type))
            made = deco_type(*args, **kwargs) if (args or kwargs) else deco_type
        if name != "alert" and name in self._decorator_names():
            if duplicates == self.IGNORE:
                return None
            if duplicates == self.ERROR:
                raise FlowDefinitionError(
                    f"flow {self._cls.__name__} has @{name} already",
                    "add it with duplicates=MutableFlow.OVERRIDE or IGNORE",
                )
            self._remove_flow_decorator(name)
        if isinstance(made, FlowMutator):
            made.external_init()
            self._mutators.append(made)  # its pre_mutate runs after those before it
            return made
        made(self._cls)
        return made

    def _decorator_names(self) -> set[str]:
        from flowkit.authoring.config import PROJECT_ATTR
        from flowkit.authoring.environment import BASE_ATTR

        names = {type(m).__name__ for m in self._mutators}
        if getattr(self._cls, PROJECT_ATTR, None) is not None:
            names.add("project")
        for klass in self._cls.__mro__:
            names.update(spec.name for spec in klass.__dict__.get(BASE_ATTR, ()))
        return names

    def _remove_flow_decorator(self, name: str) -> None:
        from flowkit.authoring.config import PROJECT_ATTR
        from flowkit.authoring.environment import BASE_ATTR

        self._mutators[:] = [m for m in self._mutators if type(m).__name__ != name]
        if name == "project":
            setattr(self._cls, PROJECT_ATTR, None)
        else:  # @conda_base / @pypi_base written on this class (a base class's stay)
            own = self._cls.__dict__.get(BASE_ATTR, ())
            setattr(self._cls, BASE_ATTR, tuple(s for s in own if s.name != name))


class _Removed:
    """What hides a base class's parameter that a mutator removed: reading it is an
    AttributeError, as for an attribute the class never had."""

    def __init__(self, attr: str) -> None:
        self._attr = attr

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        raise AttributeError(self._attr)


def configs_of(cls: type) -> tuple[tuple[str, Any], ...]:
    """The configs a configured class was made with, as ``MutableFlow.configs`` gives them."""
    from flowkit.authoring.config import configs_of, configured_values, namespace

    values = configured_values(cls)
    if values is None:
        return ()
    names = namespace(cls, values)
    return tuple((c.name, names[c.name]) for c in configs_of(cls))


def decorator_from_text(text: str, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """``"retry:times=3,backoff=2"``: the flowkit decorator and its arguments."""
    from flowkit.authoring import compat, decorators, environment

    name, _, rest = text.partition(":")
    found = next(
        (getattr(m, name) for m in (decorators, environment, compat) if hasattr(m, name)), None
    )
    if not callable(found) or name.startswith("_"):
        raise FlowDefinitionError(
            f"there is no flowkit step decorator '{name}'",
            "add a user decorator by its class rather than by name",
        )
    if rest and kwargs:
        raise FlowDefinitionError(
            f"add_decorator('{text}') has arguments in the text and in deco_kwargs",
            "give them in one place",
        )
    for pair in filter(None, rest.split(",")):
        key, _, raw = pair.partition("=")
        try:
            kwargs[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            kwargs[key.strip()] = raw
    return found, kwargs


def short_name(deco: Any) -> str:
    return type(deco).__name__
