"""Step decorators users write themselves, as Metaflow has them: :class:`UserStepDecorator`
(``pre_step`` / ``post_step``) and :func:`user_step_decorator` (a generator: code before its
``yield`` runs before the step, code after it runs after).

Applying one records an instance on the step function, outermost first;
:func:`call_wrapped` runs the step through them in its task.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Generator
from types import FunctionType
from typing import Any

from flowkit.errors import FlowDefinitionError
from flowkit.fastdata import dataclass

#: Where a step function keeps its user step decorators, outermost first.
WRAPPERS_ATTR = "_flowkit_wrappers"

#: Yielded (or returned from ``pre_step`` via ``skip_step``) to skip the step: its usual
#: ``self.next`` is called for it.
USER_SKIP_STEP: dict[str, Any] = {}


def _where(func: Any) -> dict[str, Any]:
    code = getattr(func, "__code__", None)
    if code is None:
        return {}
    return {"file": code.co_filename, "line": code.co_firstlineno}


class _UserDecoratorMeta(type):
    """``@Deco`` written bare on a step gets an instance made for it and leaves the step
    function in the class, so the step stays a plain function everywhere."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs and isinstance(args[0], FunctionType):
            return super().__call__()(args[0])
        return super().__call__(*args, **kwargs)


class UserDecoratorBase(metaclass=_UserDecoratorMeta):
    """What user step decorators and step mutators share: their arguments, their name and
    how they attach to a step function."""

    _allowed_args = False
    _allowed_kwargs = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args and not self._allowed_args:
            raise FlowDefinitionError(
                f"{self.decorator_name} takes keyword arguments only, not {args!r}",
                f"write @{type(self).__name__}(name=value, ...)",
            )
        if kwargs and not self._allowed_kwargs:
            raise FlowDefinitionError(f"{self.decorator_name} takes no keyword arguments")
        self._args, self._kwargs = args, kwargs
        self._initialized = False

    @property
    def decorator_name(self) -> str:
        """The decorator's full name, ``module.Name``."""
        cls = type(self)
        return str(getattr(cls, "_decorator_name", f"{cls.__module__}.{cls.__qualname__}"))

    def get_args_kwargs(self) -> tuple[list[Any], dict[str, Any]]:
        """The positional and keyword arguments it was given."""
        return list(self._args), dict(self._kwargs)

    def init(self, *args: Any, **kwargs: Any) -> None:
        """Override to take arguments (it stands in for ``__init__``)."""
        if args or kwargs:
            raise FlowDefinitionError(
                f"{self.decorator_name} is used with arguments but does not implement init",
                "define init(self, *args, **kwargs) in the decorator's class",
            )

    def external_init(self) -> None:
        """Run :meth:`init` with the decorator's arguments, once."""
        if not self._initialized:
            self._initialized = True
            self.init(*self._args, **self._kwargs)

    def __call__(self, func: Any) -> Any:
        if not isinstance(func, FunctionType):
            raise FlowDefinitionError(
                f"{self.decorator_name} can only be applied to a step function, "
                f"not {type(func).__name__}",
                "put it above @step on a method of the flow",
            )
        self._attach(func)
        return func

    def _attach(self, func: FunctionType) -> None:
        setattr(func, WRAPPERS_ATTR, [self, *getattr(func, WRAPPERS_ATTR, [])])

    def __repr__(self) -> str:
        return f"<{self.decorator_name}>"


class UserStepDecorator(UserDecoratorBase):
    """Derive from this to run code around a step: :meth:`pre_step` before it,
    :meth:`post_step` after it (both in the step's task, on the step's ``self``)."""

    def pre_step(self, step_name: str, flow: Any, inputs: Any = None) -> Callable[..., Any] | None:
        """Before the step; return a callable to run instead of the step (and of the
        decorators below this one), or set ``self.skip_step`` to skip it."""
        return None

    def post_step(self, step_name: str, flow: Any, exception: Exception | None = None) -> Any:
        """After the step: return the exception to raise (``None`` makes the step succeed),
        or ``(exception, next_args)``; artifacts set on ``flow`` here are stored."""
        if exception:
            return exception, None
        return None, None

    @property
    def skip_step(self) -> bool | dict[str, Any]:
        """True (or a dict of ``self.next`` arguments) to skip what this decorator wraps."""
        return getattr(self, "_skip_step", False)

    @skip_step.setter
    def skip_step(self, value: bool | dict[str, Any]) -> None:
        self._skip_step = value


def user_step_decorator(*args: Any, **kwargs: Any) -> Any:
    """Turn a generator ``(step_name, flow, inputs[, attributes])`` into a step decorator:
    code before its one ``yield`` runs before the step, code after it runs after (an
    exception of the step is raised at the ``yield``). Yield a callable to run instead of the
    step, or a dict (:data:`USER_SKIP_STEP`) to skip it. ``attributes`` are the keyword
    arguments of ``@deco(name=value)``."""
    if not args:
        return lambda gen: user_step_decorator(gen, **kwargs)
    gen = args[0]
    import inspect  # here: only a flow that defines a user decorator needs it

    if not isinstance(gen, FunctionType) or not inspect.isgeneratorfunction(gen):
        raise FlowDefinitionError(
            "@user_step_decorator can only decorate generator functions",
            "write a function with exactly one 'yield' (step_name, flow, inputs[, attributes])",
            **_where(gen),
        )
    count = len(inspect.signature(gen).parameters)
    if count not in (3, 4) or (kwargs and count != 4):
        raise FlowDefinitionError(
            f"@user_step_decorator function {gen.__name__} takes {count} arguments",
            "it takes (step_name, flow, inputs) or (step_name, flow, inputs, attributes)",
            **_where(gen),
        )
    namespace = {
        "_decorator_name": f"{gen.__module__}.{gen.__name__}",
        "_generator": staticmethod(gen),
        "_arg_count": count,
        "__module__": gen.__module__,
        "__qualname__": gen.__qualname__,
        "__doc__": gen.__doc__,
    }
    return type(gen.__name__, (_GeneratorDecorator,), namespace)


class _GeneratorDecorator(UserStepDecorator):
    """A :func:`user_step_decorator`: its generator, started by ``pre_step``, resumed by
    ``post_step``."""

    _generator: Callable[..., Generator[Any, None, Any]]
    _arg_count: int

    def init(self, *args: Any, **kwargs: Any) -> None:
        self._attributes = kwargs

    def pre_step(self, step_name: str, flow: Any, inputs: Any = None) -> Callable[..., Any] | None:
        extra = (self._attributes,) if self._arg_count == 4 else ()
        self._running = self._generator(step_name, flow, inputs, *extra)
        value = self._running.send(None)
        if isinstance(value, dict):
            self.skip_step = value or True
            return None
        return value  # type: ignore[no-any-return]

    def post_step(self, step_name: str, flow: Any, exception: Exception | None = None) -> Any:
        try:
            if exception is not None:
                self._running.throw(exception)
            else:
                self._running.send(None)
        except StopIteration as stop:
            return stop.value
        except Exception as exc:  # the step's own, re-raised, or the decorator's: it propagates
            return exc
        raise FlowDefinitionError(
            f"{self.decorator_name} yielded more than once", "a user step decorator yields once"
        )


def wrappers_of(func: Any) -> list[UserStepDecorator]:
    """The user step decorators on a step function, outermost first."""
    return [w for w in getattr(func, WRAPPERS_ATTR, ()) if isinstance(w, UserStepDecorator)]


@dataclass(frozen=True)
class Skipped:
    """The step's own code did not call ``self.next``: call it for the step, with these
    arguments (empty: the step's usual ones)."""

    next_args: dict[str, Any]


def call_wrapped(step_name: str, func: Any, flow: Any, inputs: Any = None) -> Skipped | None:
    """Call the step ``func`` (a join with ``inputs``) through its user step decorators;
    :class:`Skipped` when a decorator skipped it, replaced it or swallowed its exception."""
    wrappers = [copy.copy(w) for w in wrappers_of(func)]  # their state is this task's own
    entered: list[UserStepDecorator] = []
    replacement: Callable[..., Any] | None = None
    fake_next: Any = None
    for wrapper in wrappers:
        wrapper.external_init()
        replacement = wrapper.pre_step(step_name, flow, inputs)
        entered.append(wrapper)
        if wrapper.skip_step:
            fake_next = wrapper.skip_step
            break
        if replacement is not None:
            break
    raised: Exception | None = None
    failed = False
    try:
        if not fake_next:
            args = (flow,) if inputs is None else (flow, inputs)
            if replacement is not None:
                fake_next = replacement(*args) or None
            else:
                func(*args)
    except Exception as exc:
        raised, failed = exc, True
    for wrapper in reversed(entered):
        try:
            result = wrapper.post_step(step_name, flow, raised)
        except Exception as exc:
            result = exc
        raised, fake_next = _after(wrapper, result, raised, fake_next)
    if raised is not None:
        raise raised
    if failed or (fake_next is not None and fake_next is not False):
        if fake_next is True or fake_next is None or fake_next is False:
            return Skipped({})
        return Skipped(dict(fake_next))
    return None


def _after(
    wrapper: UserStepDecorator, result: Any, raised: Exception | None, fake_next: Any
) -> tuple[Exception | None, Any]:
    if result is None:
        return None, fake_next
    if isinstance(result, Exception):
        return result, fake_next
    if isinstance(result, tuple) and len(result) == 2:
        return result[0], result[1] if result[1] is not None else fake_next
    raise FlowDefinitionError(
        f"{wrapper.decorator_name}.post_step returned {result!r}",
        "return None, an exception, or (exception, arguments for self.next)",
    )
