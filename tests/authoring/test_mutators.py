"""Mutators run on the class configured for a run, never on the user's classes."""

from __future__ import annotations

import pytest

from flowkit import Config, FlowMutator, FlowSpec, Parameter, StepMutator, project, retry, step
from flowkit.authoring.configure import configure
from flowkit.authoring.decorators import decorators_of
from flowkit.authoring.mutable import MutableFlow
from flowkit.authoring.parameters import parameters_of
from flowkit.authoring.project import project_of
from flowkit.errors import FlowDefinitionError


def test_mutators_run_when_configured_not_when_defined() -> None:
    calls: list[str] = []

    class Flow(FlowMutator):
        def pre_mutate(self, mutable_flow: MutableFlow) -> None:
            calls.append(f"flow pre {dict(mutable_flow.configs)['cfg']['x']}")

        def mutate(self, mutable_flow: MutableFlow) -> None:
            calls.append("flow mutate")

    class Step(StepMutator):
        def pre_mutate(self, mutable_step: object) -> None:
            calls.append("step pre")

        def mutate(self, mutable_step: object) -> None:
            calls.append("step mutate")

    @Flow
    class Mutated(FlowSpec):
        cfg = Config("cfg", default_value={"x": 1})

        @Step
        @step
        def start(self) -> None:
            pass

    assert calls == []  # defining the class ran nothing
    configure(Mutated, {"cfg": {"x": 5}})
    # Metaflow's order: flow pre_mutate, step pre_mutate, flow mutate, step mutate
    assert calls == ["flow pre 5", "step pre", "flow mutate", "step mutate"]


class _Base(FlowSpec):
    alpha = Parameter("alpha", default=1)
    rate = Parameter("learning-rate", default=0.1)

    @retry(times=4)
    @step
    def start(self) -> None:
        pass


def _mutated(mutate: object) -> type:
    mutator = type("M", (FlowMutator,), {"pre_mutate": lambda self, flow: mutate(flow)})
    return configure(mutator()(type("Child", (_Base,), {"__module__": __name__})), {})


def test_remove_parameter_removes_it_by_name_on_the_run_class_only() -> None:
    made = _mutated(lambda flow: flow.remove_parameter("learning-rate"))
    assert [p.name for p in parameters_of(made)] == ["alpha"]
    assert not hasattr(made, "rate")  # gone, not None
    with pytest.raises(AttributeError):
        _ = made(use_cli=False).rate
    assert [p.name for p in parameters_of(_Base)] == ["alpha", "learning-rate"]
    assert _mutated(lambda flow: flow.remove_parameter("nope")) is not None


def test_add_decorator_honours_duplicates() -> None:
    named = project(name="first")

    def add(flow: MutableFlow, duplicates: int) -> None:
        flow.add_decorator(named)
        flow.add_decorator(project, deco_kwargs={"name": "second"}, duplicates=duplicates)

    assert project_of(_mutated(lambda f: add(f, MutableFlow.IGNORE))).name == "first"
    assert project_of(_mutated(lambda f: add(f, MutableFlow.OVERRIDE))).name == "second"
    with pytest.raises(FlowDefinitionError, match="has @project already"):
        _mutated(lambda f: add(f, MutableFlow.ERROR))
    assert project_of(_Base) is None


def test_a_step_mutator_edits_the_run_class_copy_only() -> None:
    class NoRetry(StepMutator):
        def mutate(self, mutable_step: object) -> None:
            mutable_step.remove_decorator("retry")  # type: ignore[attr-defined]

    class Child(_Base):
        @NoRetry
        @retry(times=2)
        @step
        def start(self) -> None:
            pass

    made = configure(Child, {})
    assert decorators_of(made.start)[0] == ()
    assert [d.args["times"] for d in decorators_of(Child.start)[0]] == [2]
    assert [d.args["times"] for d in decorators_of(_Base.start)[0]] == [4]


def test_mutable_flow_and_step_import_from_mutators_as_users_type_hint_them() -> None:
    import subprocess
    import sys

    from flowkit.authoring import mutable, mutators
    from flowkit.authoring.mutators import MutableFlow as Flow
    from flowkit.authoring.mutators import MutableStep as Step

    assert (Flow, Step) == (mutable.MutableFlow, mutable.MutableStep)
    with pytest.raises(AttributeError, match="has no attribute 'MutableThing'"):
        mutators.MutableThing  # noqa: B018
    fresh = "from flowkit.authoring.mutators import MutableFlow, MutableStep; print(MutableStep)"
    done = subprocess.run([sys.executable, "-c", fresh], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "<class 'flowkit.authoring.mutable.MutableStep'>", done.stderr
