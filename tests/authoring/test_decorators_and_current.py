"""Step decorators record validated arguments; ``current`` only answers inside a task."""

from __future__ import annotations

import pytest

from flowkit import NotInTaskError, catch, current, resources, retry, step, timeout
from flowkit.authoring.current import TaskContext, bound
from flowkit.authoring.decorators import decorators_of, timeout_seconds


def test_decorators_with_and_without_arguments_in_either_order() -> None:
    @retry
    @step
    def a(self):
        pass

    @step
    @timeout(minutes=1, seconds=30)
    @resources(cpu=2, gpu=1)
    def b(self):
        pass

    (spec,), problems = decorators_of(a)
    assert spec.name == "retry" and dict(spec.args)["times"] == 3 and problems == ()
    specs, problems = decorators_of(b)
    assert [d.name for d in specs] == ["resources", "timeout"] and problems == ()
    assert timeout_seconds(specs[1]) == 90
    assert specs[0].args["gpu"] == 1 and specs[0].args["memory"] == 4096


def test_bad_decorator_arguments_are_recorded_for_lint() -> None:
    @catch(var="not an identifier")
    @timeout()
    @resources(gpus=2)
    @retry(times=1)
    @retry(times=2)
    @step
    def a(self):
        pass

    _, problems = decorators_of(a)
    assert problems == (
        "@retry is applied twice",
        "@resources has no argument 'gpus' (it takes cpu, disk, gpu, memory, shared_memory)",
        "@timeout needs a positive duration (seconds=, minutes= or hours=)",
        "@catch(var='not an identifier') is invalid: var must be an artifact name (a Python identifier)",
    )


def test_step_rejects_what_is_not_a_function() -> None:
    with pytest.raises(TypeError, match="@step decorates a method defined with 'def'"):
        step(print)  # type: ignore[arg-type]


def test_current_outside_and_inside_a_task() -> None:
    assert current.is_running_flow is False
    with pytest.raises(
        NotInTaskError, match=r"current\.run_id has no value outside a running step"
    ):
        _ = current.run_id
    ctx = TaskContext("F", "r1", "train", "t7", retry_count=2, origin_run_id="r0")
    with bound(ctx):
        assert current.is_running_flow is True
        assert (current.flow_name, current.run_id, current.step_name, current.task_id) == (
            "F",
            "r1",
            "train",
            "t7",
        )
        assert current.pathspec == "F/r1/train/t7"
        assert current.retry_count == 2 and current.origin_run_id == "r0"
    assert current.is_running_flow is False
