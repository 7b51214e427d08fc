"""User step decorators: how they attach to a step, what they refuse, and how
``call_wrapped`` runs a step through them (without a run)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from flowkit import FlowDefinitionError, UserStepDecorator, step, user_step_decorator
from flowkit.authoring.user_decorators import Skipped, call_wrapped, wrappers_of


@user_step_decorator
def log(step_name, flow, inputs, attributes):
    flow.log.append(("before", step_name, attributes.get("tag")))
    yield
    flow.log.append(("after", step_name, attributes.get("tag")))


def test_stacked_decorators_run_outermost_first_and_leave_a_plain_function() -> None:
    @log(tag="outer")
    @log(tag="inner")
    @step
    def start(self: Any) -> None:
        self.log.append(("step",))

    assert callable(start) and start.is_step  # type: ignore[attr-defined]
    assert [w.get_args_kwargs() for w in wrappers_of(start)] == [
        ([], {"tag": "outer"}),
        ([], {"tag": "inner"}),
    ]
    flow = SimpleNamespace(log=[])
    assert call_wrapped("start", start, flow) is None
    assert flow.log == [
        ("before", "start", "outer"),
        ("before", "start", "inner"),
        ("step",),
        ("after", "start", "inner"),
        ("after", "start", "outer"),
    ]


def test_a_replacement_and_its_next_arguments() -> None:
    @user_step_decorator
    def instead(step_name, flow, inputs):
        yield lambda self: {"foreach": "items"}

    @instead
    @step
    def start(self: Any) -> None:
        raise AssertionError("replaced, never called")

    assert call_wrapped("start", start, SimpleNamespace()) == Skipped({"foreach": "items"})


def test_pre_and_post_step_see_the_exception_and_may_replace_it() -> None:
    class Translate(UserStepDecorator):
        def post_step(self, step_name: str, flow: Any, exception: Exception | None = None) -> Any:
            return KeyError(f"{step_name}: {exception}")

    @Translate
    @step
    def start(self: Any) -> None:
        raise ValueError("bad")

    with pytest.raises(KeyError, match="start: bad"):
        call_wrapped("start", start, SimpleNamespace())


def test_what_user_step_decorator_refuses() -> None:
    with pytest.raises(FlowDefinitionError, match="can only decorate generator functions"):
        user_step_decorator(lambda a, b, c: None)

    def two(step_name, flow):  # type: ignore[no-untyped-def]
        yield

    with pytest.raises(FlowDefinitionError, match="takes 2 arguments"):
        user_step_decorator(two)

    def three(step_name, flow, inputs):  # type: ignore[no-untyped-def]
        yield

    with pytest.raises(FlowDefinitionError, match="takes 3 arguments"):
        user_step_decorator(three, tag="x")  # attributes need the 4th argument
    with pytest.raises(FlowDefinitionError, match="takes keyword arguments only"):
        log("positional")
    with pytest.raises(FlowDefinitionError, match="can only be applied to a step function"):
        log(tag="x")(print)


def test_a_generator_that_yields_twice_fails_the_step() -> None:
    @user_step_decorator
    def twice(step_name, flow, inputs):
        yield
        yield

    @twice
    @step
    def start(self: Any) -> None:
        pass

    with pytest.raises(FlowDefinitionError, match="yielded more than once"):
        call_wrapped("start", start, SimpleNamespace())


def test_a_class_decorator_with_arguments_needs_init() -> None:
    class NoInit(UserStepDecorator):
        pass

    @NoInit(level=3)
    @step
    def start(self: Any) -> None:
        pass

    with pytest.raises(
        FlowDefinitionError, match="used with arguments but does not implement init"
    ):
        call_wrapped("start", start, SimpleNamespace())
