"""Metaflow's decorator surface under flowkit, used as a Metaflow user uses it: user step
decorators (generator and class style), mutators, ``@conda``/``@pypi`` in the current
environment, the names flowkit refuses, and ``S3`` without its extension."""

from __future__ import annotations

from pathlib import Path

import pytest

import flowkit
from tests.metaflow_compat.flows.decorators_user import (
    BranchingUserDecoratorFlow,
    FailingUserDecoratorFlow,
    UserDecoratorFlow,
)
from tests.runtime.test_shapes import Quiet


def test_user_step_decorators_run_around_their_steps(tmp_path: Path) -> None:
    run = flowkit.run(UserDecoratorFlow, store=str(tmp_path), progress=Quiet())
    assert run.successful
    start = run["start"].task.data
    # code before the yield ran before the step, code after it after; both stored
    assert (start.before, start.after, start.inside) == ("before start", "after start", True)
    assert start.tags_seen == ["outer"]  # @tagged(label=...) passes its attributes
    fails = run["fails"].task
    # the decorator swallowed the step's exception: the step succeeded, kept what it set,
    # and went on as its self.next says
    assert fails.successful and fails.data.swallowed == "step raised"
    assert fails.data.partial == "set before raising"
    skipped = run["skipped"].task
    assert skipped.successful and "never" not in skipped.data  # yield USER_SKIP_STEP
    assert run["end"].task.data.counter == 6  # pre_step added 5, the step 1
    assert run["end"].task.data.counter_after == 60  # post_step saw the step's value


def test_a_join_decorator_gets_the_inputs(tmp_path: Path) -> None:
    run = flowkit.run(BranchingUserDecoratorFlow, store=str(tmp_path), progress=Quiet())
    assert run.successful and run["join"].task.data.n_inputs == 2


def test_a_decorators_exception_fails_the_step(tmp_path: Path) -> None:
    with pytest.raises(flowkit.RunFailed):
        flowkit.run(FailingUserDecoratorFlow, store=str(tmp_path), progress=Quiet())
    flow = flowkit.Flow("FailingUserDecoratorFlow", store=str(tmp_path))
    task = flow.latest_run["start"].task
    assert not task.successful
    assert "RuntimeError: boom after start" in task.stderr
