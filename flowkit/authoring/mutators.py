"""Metaflow's mutators: :class:`StepMutator` (on a step) and :class:`FlowMutator` (on a flow
class) change a flow's decorators and parameters through :class:`MutableStep` and
:class:`MutableFlow`.

flowkit applies them when the flow class is defined: step mutators as the class is created
(:func:`apply_step_mutators`), a flow mutator where its decorator stands. Config values are
read later, when a run starts, so a mutator cannot see them (``MutableFlow.configs`` says so);
``config_expr`` in the decorators a mutator adds is evaluated at run start as usual.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import FunctionType
from typing import Any

from flowkit.authoring.compat import NotOfferedError
from flowkit.authoring.decorators import DECORATORS_ATTR, DecoratorSpec, decorators_of
from flowkit.authoring.user_decorators import WRAPPERS_ATTR, UserDecoratorBase
from flowkit.errors import FlowDefinitionError

#: Where a step function keeps its step mutators, outermost first.
MUTATORS_ATTR = "_flowkit_step_mutators"
#: The mutators that have run on a step function (by id), so a subclass does not rerun them.
_APPLIED_ATTR = "_flowkit_mutators_applied"


class StepMutator(UserDecoratorBase):
    """Derive from this to change a step's decorators: ``mutate(self, mutable_step)``
    (and ``pre_mutate``, which runs just before it)."""

    _allowed_args = True

    def pre_mutate(self, mutable_step: MutableStep) -> None:
        """Change the step; runs before :meth:`mutate`."""

    def mutate(self, mutable_step: MutableStep) -> None:
        """Change the step: ``mutable_step.add_decorator(retry, deco_kwargs={...})``."""

    def _attach(self, func: FunctionType) -> None:
        setattr(func, MUTATORS_ATTR, [self, *getattr(func, MUTATORS_ATTR, [])])


class _FlowMutatorMeta(type):
    """``@Mutator`` written bare on a flow class applies an instance made for it."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs and isinstance(args[0], type):
            return super().__call__()(args[0])
        return super().__call__(*args, **kwargs)


class FlowMutator(metaclass=_FlowMutatorMeta):
    """Derive from this to change a flow: ``mutate(self, mutable_flow)`` adds or removes
    parameters and the steps' decorators (``pre_mutate`` runs just before it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._args, self._kwargs = args, kwargs

    def init(self, *args: Any, **kwargs: Any) -> None:
        """Override to take arguments (it stands in for ``__init__``)."""
        if args or kwargs:
            raise FlowDefinitionError(
                f"{type(self).__name__} is used with arguments but does not implement init",
                "define init(self, *args, **kwargs) in the mutator's class",
            )

    def pre_mutate(self, mutable_flow: MutableFlow) -> None:
        """Change the flow; runs before :meth:`mutate`."""

    def mutate(self, mutable_flow: MutableFlow) -> None:
        """Change the flow."""

    def __call__(self, cls: Any) -> Any:
        from flowkit.authoring.flowspec import FlowSpecBase

        if not (isinstance(cls, type) and issubclass(cls, FlowSpecBase)):
            raise FlowDefinitionError(
                f"{type(self).__name__} is a flow mutator: put it on a flow class",
                "write it above 'class MyFlow(FlowSpec):'",
            )
        self.init(*self._args, **self._kwargs)
        flow = MutableFlow(cls)
        self.pre_mutate(flow)
        self.mutate(flow)
        return cls


def apply_step_mutators(cls: type) -> None:
    """Run every step mutator of ``cls`` that has not run yet (a base class's have)."""
    from flowkit.authoring.flowspec import step_functions

    for name, func in step_functions(cls).items():
        for mutator in list(getattr(func, MUTATORS_ATTR, ())):
            _run_step_mutator(mutator, MutableStep(cls, name, func))


def _run_step_mutator(mutator: StepMutator, step: MutableStep) -> None:
    applied = step._func.__dict__.setdefault(_APPLIED_ATTR, set())
    if id(mutator) in applied:
        return
    applied.add(id(mutator))
    mutator.external_init()
    mutator.pre_mutate(step)
    mutator.mutate(step)


def _short(deco: Any) -> str:
    return type(deco).__name__


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
        return MutableFlow(self._cls)

    @property
    def decorator_specs(self) -> Iterator[tuple[str, str, list[Any], dict[str, Any]]]:
        """Each decorator as ``(name, full name, args, kwargs)``."""
        for spec in decorators_of(self._func)[0]:
            yield spec.name, f"flowkit.{spec.name}", [], dict(spec.args)
        for deco in (*getattr(self._func, WRAPPERS_ATTR, ()), *self._mutators):
            yield (_short(deco), deco.decorator_name, *deco.get_args_kwargs())

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
            deco_type, kwargs = _from_text(deco_type, kwargs)
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
            _run_step_mutator(made, self)
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
        specs[:] = kept
        for attr in (WRAPPERS_ATTR, MUTATORS_ATTR):
            decos = getattr(self._func, attr, [])
            left = [
                d for d in decos if not matches(_short(d), d.decorator_name, *d.get_args_kwargs())
            ]
            removed = removed or len(left) != len(decos)
            decos[:] = left
        return removed


class MutableFlow:
    """A flow as a mutator sees it: its steps and parameters."""

    def __init__(self, cls: type) -> None:
        self._cls = cls

    @property
    def steps(self) -> Iterator[tuple[str, MutableStep]]:
        """Each step, by name."""
        from flowkit.authoring.flowspec import step_functions

        for name, func in step_functions(self._cls).items():
            yield name, MutableStep(self._cls, name, func)

    @property
    def parameters(self) -> Iterator[tuple[str, Any]]:
        """Each parameter, by attribute name."""
        from flowkit.authoring.parameters import parameters_of

        for param in parameters_of(self._cls):
            yield str(param.attr), param

    @property
    def configs(self) -> Iterator[tuple[str, Any]]:
        """Not available: flowkit runs mutators before config values are read."""
        raise NotOfferedError(
            "a mutator cannot read config values under flowkit: it runs when the flow class "
            "is defined, and configs are read when a run starts",
            "pass config_expr('...') as a decorator argument in the mutator (evaluated at run "
            "start), or read the config in the step",
        )

    def add_parameter(self, name: str, value: Any, overwrite: bool = False) -> None:
        """Add the parameter ``value`` as attribute ``name`` (``overwrite`` replaces one)."""
        if name in dict(self.parameters) and not overwrite:
            raise FlowDefinitionError(
                f"flow {self._cls.__name__} has a parameter '{name}' already",
                "pass overwrite=True to replace it",
            )
        setattr(self._cls, name, value)
        set_name = getattr(value, "__set_name__", None)
        if set_name is not None:
            set_name(self._cls, name)

    def remove_parameter(self, parameter_name: str) -> bool:
        """Remove the parameter ``parameter_name``; whether there was one."""
        if parameter_name not in dict(self.parameters):
            return False
        for klass in self._cls.__mro__:
            if parameter_name in vars(klass):
                setattr(self._cls, parameter_name, None)  # hides an inherited one too
                break
        return True

    def add_decorator(
        self,
        deco_type: Any,
        deco_args: list[Any] | None = None,
        deco_kwargs: dict[str, Any] | None = None,
        duplicates: int = 1,
    ) -> None:
        """Apply a flow decorator (``conda_base``, ``project``, ``alert``...) to the flow."""
        made = (
            deco_type(*(deco_args or []), **(deco_kwargs or {}))
            if (deco_args or deco_kwargs)
            else deco_type
        )
        made(self._cls)


def _from_text(text: str, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
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
