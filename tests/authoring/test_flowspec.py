"""What a step's ``self`` does: next() at run time, foreach frames, lazy artifacts, joins."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from flowkit import FlowDefinitionError, FlowSpec, Inputs, MergeConflictError, step
from flowkit.authoring.artifacts import DictSource
from flowkit.authoring.flowspec import ForeachFrame, Transition
from flowkit.errors import FlowkitError


class Shapes(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


def make(step_name: str = "start", **artifacts: Any) -> Shapes:
    flow = Shapes(use_cli=False)
    flow.__dict__["_flowkit_step_name"] = step_name
    for key, value in artifacts.items():
        setattr(flow, key, value)
    return flow


class CountingSource(DictSource):
    def __init__(self, values: dict[str, Any]) -> None:
        super().__init__(values)
        self.loads: list[str] = []

    def load(self, name: str) -> Any:
        self.loads.append(name)
        return super().load(name)


def test_constructing_a_flow_elsewhere_does_not_start_the_cli(monkeypatch) -> None:
    monkeypatch.setattr(sys, "argv", ["prog", "run"])
    flow = Shapes()
    assert flow.name == "Shapes"


def test_next_records_linear_split_and_foreach() -> None:
    flow = make()
    flow.next(flow.a, flow.b)
    assert flow._flowkit_transition == Transition(("a", "b"))
    fan = make(items=[1, 2, 3])
    fan.next(fan.a, foreach="items")
    assert fan._flowkit_transition == Transition(("a",), foreach="items")


def test_next_switch_chooses_the_case_from_the_condition() -> None:
    flow = make(mode="second")
    flow.next({"first": flow.a, "second": flow.b}, condition="mode")
    assert flow._flowkit_transition == Transition(("b",), condition="mode", chosen_case="second")


def test_next_mistakes_name_the_step_and_the_calling_line() -> None:
    flow = make(mode="third", items=5)
    with pytest.raises(FlowDefinitionError) as info:
        flow.next({"first": flow.a}, condition="mode")
    line = sys._getframe().f_lineno - 1
    err = info.value
    assert (err.step, err.file, err.line) == ("start", __file__, line)
    assert "condition 'mode' is 'third', which is not a case of the switch ('first')" in err.message
    with pytest.raises(
        FlowDefinitionError,
        match="foreach='items' holds a value of type int, which cannot be iterated",
    ):
        flow.next(flow.a, foreach="items")
    with pytest.raises(FlowDefinitionError, match="foreach='missing' names no artifact"):
        flow.next(flow.a, foreach="missing")
    with pytest.raises(FlowDefinitionError, match="is not a step of Shapes"):
        flow.next(print)
    flow.next(flow.end)
    with pytest.raises(FlowDefinitionError, match="called twice"):
        flow.next(flow.end)


def test_foreach_frames_give_input_index_and_stack() -> None:
    flow = make("a")
    assert flow.input is None and flow.index is None and flow.foreach_stack() == []
    flow.__dict__["_flowkit_frames"] = (
        ForeachFrame("start", 1, 3, "x"),
        ForeachFrame("a", 0, 2, 10),
    )
    assert flow.input == 10 and flow.index == 0
    assert flow.foreach_stack() == [(1, 3, "x"), (0, 2, 10)]


def test_inherited_artifacts_load_lazily_and_once() -> None:
    source = CountingSource({"big": list(range(5)), "small": 1})
    flow = make("a")
    flow._flowkit_inherit(source)
    assert source.loads == []
    assert flow.big == [0, 1, 2, 3, 4] and flow.big == [0, 1, 2, 3, 4]
    assert source.loads == ["big"]
    with pytest.raises(AttributeError, match="step 'a' has no artifact 'nope'; it has: big, small"):
        _ = flow.nope


def test_inputs_iterate_index_and_name_branches() -> None:
    a, b = make("a", x=1), make("b", x=2)
    inputs = Inputs([a, b])
    assert [i.x for i in inputs] == [1, 2] and inputs[1] is b and len(inputs) == 2
    assert inputs.b.x == 2
    with pytest.raises(AttributeError, match="no input from step 'c'; its inputs come from a, b"):
        _ = inputs.c


def test_merge_artifacts_merges_agreeing_values_without_loading_them() -> None:
    shared = {"config": {"lr": 0.1}, "table": list(range(100))}
    sa, sb = CountingSource(shared), CountingSource(dict(shared))
    a, b = make("a", own=1), make("b", own=2)
    a._flowkit_inherit(sa)
    b._flowkit_inherit(sb)
    join = make("join", config="mine")
    join.merge_artifacts([a, b], exclude=["own"])
    assert join.config == "mine"  # set on the join itself: left alone
    assert sa.loads == [] and sb.loads == []  # compared by digest, passed by reference
    assert join.table == list(range(100))
    assert "own" not in join._flowkit_artifact_names()


def test_merge_artifacts_reports_every_conflict() -> None:
    a, b = make("a", x=1, y=[1], same=3), make("b", x=2, y=[2], same=3)
    join = make("join")
    with pytest.raises(MergeConflictError) as info:
        join.merge_artifacts([a, b])
    assert info.value.names == ("x", "y")
    assert "step 'join': merge_artifacts found different values for 'x', 'y'" in info.value.render()
    assert "exclude=" in info.value.hint
    join.merge_artifacts([a, b], include=["same"])
    assert join.same == 3


def test_merge_artifacts_argument_mistakes() -> None:
    a, b = make("a", x=1), make("b", x=1)
    join = make("join")
    with pytest.raises(FlowkitError, match="include= or exclude=, not both"):
        join.merge_artifacts([a, b], include=["x"], exclude=["x"])
    with pytest.raises(FlowkitError, match=r"include=\.\.\.\) names nope, which no input has"):
        join.merge_artifacts([a, b], include=["nope"])


class BlobSource(CountingSource):
    """Digests as a store gives them: of the stored bytes, not comparable with value_digest."""

    def digest(self, name: str) -> str:
        return "blob-" + super().digest(name)


def test_merge_artifacts_after_reading_an_input_compares_like_with_like() -> None:
    a, b = make("a"), make("b")
    a._flowkit_inherit(BlobSource({"x": [1, 2], "y": 1}))
    b._flowkit_inherit(BlobSource({"x": [1, 2], "y": 2}))
    assert a.x == [1, 2]  # loaded on one side only: still the stored value
    join = make("join")
    join.merge_artifacts([a, b], include=["x"])
    assert join.x == [1, 2]
    assert b.y == 2
    with pytest.raises(MergeConflictError) as info:
        join.merge_artifacts([a, b])
    assert info.value.names == ("y",)


def test_merge_artifacts_compares_a_reassigned_input_by_value() -> None:
    a, b = make("a"), make("b")
    a._flowkit_inherit(BlobSource({"x": 1}))
    b._flowkit_inherit(BlobSource({"x": 1}))
    a.x = 1  # the same value, assigned anew: not a conflict
    join = make("join")
    join.merge_artifacts([a, b])
    assert join.x == 1
    a.x = 2
    with pytest.raises(MergeConflictError):
        make("join").merge_artifacts([a, b])
