"""Metaflow's mutators: :class:`StepMutator` (on a step) and :class:`FlowMutator` (on a flow
class) change a flow's decorators and parameters through :class:`MutableStep` and
:class:`MutableFlow` (:mod:`flowkit.authoring.mutable`).

As Metaflow does, applying one only records it (on the step function, on the flow class);
they run when a run starts, once its configs are read (:func:`apply_mutators`, called by
:func:`flowkit.authoring.configure.configure`), on the class configured for the run, whose
step functions are its own copies: the user's classes never change, and
``MutableFlow.configs`` gives the run's config values. Flow mutators' ``pre_mutate`` run
first, then the step mutators', then the flow mutators' ``mutate``, then the steps'.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import FunctionType
from typing import TYPE_CHECKING, Any

from flowkit.authoring.user_decorators import UserDecoratorBase
from flowkit.errors import FlowDefinitionError

if TYPE_CHECKING:  # re-exported (see __getattr__): users type-hint their mutators with them
    from flowkit.authoring.mutable import MutableFlow as MutableFlow
    from flowkit.authoring.mutable import MutableStep as MutableStep


def __getattr__(name: str) -> Any:
    """``MutableFlow`` and ``MutableStep``, which live in :mod:`flowkit.authoring.mutable`
    (it imports this module, so they are fetched when first asked for): mutators are
    type-hinted with them, imported from here."""
    if name in ("MutableFlow", "MutableStep"):
        from flowkit.authoring import mutable

        return getattr(mutable, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Where a step function keeps its step mutators, outermost first.
MUTATORS_ATTR = "_flowkit_step_mutators"
#: Where a flow class keeps the flow mutators applied to it, in the order they were applied.
FLOW_MUTATORS_ATTR = "_flowkit_flow_mutators"
#: The step mutators whose ``mutate`` has run on a (configured) step function, by id.
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
        self._initialized = False

    @property
    def decorator_name(self) -> str:
        """The mutator's full name, ``module.Name``."""
        cls = type(self)
        return f"{cls.__module__}.{cls.__qualname__}"

    def external_init(self) -> None:
        """Run :meth:`init` with the mutator's arguments, once."""
        if not self._initialized:
            self._initialized = True
            self.init(*self._args, **self._kwargs)

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
        setattr(cls, FLOW_MUTATORS_ATTR, (*cls.__dict__.get(FLOW_MUTATORS_ATTR, ()), self))
        return cls


def flow_mutators_of(cls: type) -> list[FlowMutator]:
    """The flow mutators of ``cls``, a base class's first."""
    found: list[FlowMutator] = []
    for klass in reversed(cls.__mro__):
        found += klass.__dict__.get(FLOW_MUTATORS_ATTR, ())
    return found


def has_mutators(cls: type) -> bool:
    """Whether a flow mutator or a step mutator waits to run on ``cls``."""
    from flowkit.authoring.flowspec import step_functions

    if flow_mutators_of(cls):
        return True
    return any(getattr(f, MUTATORS_ATTR, None) for f in step_functions(cls).values())


def apply_mutators(cls: type, flow_mutators: Iterable[FlowMutator]) -> None:
    """Run ``flow_mutators`` and the step mutators of ``cls`` (a configured class, whose step
    functions are its own copies) in Metaflow's order; they see the class's configs."""
    from flowkit.authoring.flowspec import step_functions
    from flowkit.authoring.mutable import MutableFlow, MutableStep, configs_of

    values = configs_of(cls)
    flow_mutators = list(flow_mutators)  # pre_mutate may add more, which run in turn
    for mutator in flow_mutators:
        mutator.external_init()
        mutator.pre_mutate(MutableFlow(cls, values, flow_mutators))
    steps = [
        (MutableStep(cls, name, func), list(getattr(func, MUTATORS_ATTR, ())))
        for name, func in step_functions(cls).items()
    ]
    for step, mutators in steps:
        for mutator in mutators:
            mutator.external_init()
            mutator.pre_mutate(step)
    for mutator in flow_mutators:
        mutator.mutate(MutableFlow(cls, values, flow_mutators))
    for step, mutators in steps:
        for mutator in mutators:
            run_step_mutator(mutator, step, pre_mutated=True)


def run_step_mutator(mutator: StepMutator, step: MutableStep, pre_mutated: bool) -> None:
    applied = step._func.__dict__.setdefault(_APPLIED_ATTR, set())
    if id(mutator) in applied:
        return
    applied.add(id(mutator))
    mutator.external_init()
    if not pre_mutated:
        mutator.pre_mutate(step)
    mutator.mutate(step)
