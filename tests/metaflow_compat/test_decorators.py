"""Metaflow's decorator surface under flowkit, used as a Metaflow user uses it: user step
decorators (generator and class style), mutators, ``@conda``/``@pypi`` in the current
environment, the names flowkit refuses, and ``S3`` without its extension."""

from __future__ import annotations

import sys
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


def test_conda_and_pypi_run_here_with_one_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.metaflow_compat.flows.decorators_env import CondaHereFlow

    run = flowkit.run(CondaHereFlow, store=str(tmp_path), progress=Quiet())
    assert run.successful and run["start"].task.data.click_major >= 8
    warned = [line for line in capsys.readouterr().err.splitlines() if "warning:" in line]
    assert len(warned) == 1, warned
    (line,) = warned
    assert "conda, conda_base, pypi: flowkit creates no environment" in line
    assert sys.executable in line and "click " in line
    assert "Versions differ from those asked: cloudpickle" in line and "(asked 0.0.1)" in line
    assert "python" not in line.split("asked:")[1]  # the python asked for is this one


def test_missing_packages_stop_the_run_naming_each_and_how_to_install(tmp_path: Path) -> None:
    from tests.metaflow_compat.flows.decorators_env import PypiMissingFlow

    with pytest.raises(flowkit.LintError) as caught:
        flowkit.run(PypiMissingFlow, store=str(tmp_path), progress=Quiet())
    text = caught.value.render()
    assert "PypiMissingFlow has 2 problems; nothing was run." in text
    assert "decorators_env.py:" in text
    assert "@pypi_base names packages this Python does not have: " in text
    assert "flowkit-surely-missing-pkg==1.2.3" in text and "click" not in text.split("hint")[0]
    assert (
        "step 'start': @pypi names packages this Python does not have: another-missing-one>=2"
        in text
    )
    assert "pip install 'another-missing-one>=2'" in text
    assert "pip install 'flowkit-surely-missing-pkg==1.2.3'" in text
    assert not list(tmp_path.rglob("*.json"))  # no run was recorded


def test_disabled_conda_checks_nothing_and_warns_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.metaflow_compat.flows.decorators_env import DisabledCondaFlow

    assert flowkit.run(DisabledCondaFlow, store=str(tmp_path), progress=Quiet()).successful
    assert "warning:" not in capsys.readouterr().err


def test_environment_sets_variables_for_its_step_only(tmp_path: Path) -> None:
    from tests.metaflow_compat.flows.decorators_env import EnvironmentVarsFlow

    run = flowkit.run(EnvironmentVarsFlow, store=str(tmp_path), progress=Quiet())
    assert run["start"].task.data.greeting == "hello"
    assert run["end"].task.data.after is None


#: What a Metaflow user imports ``from metaflow import ...`` (Metaflow 2.19's top level, its
#: step and flow decorators and client; Metaflow's internal-only decorators left out).
METAFLOW_NAMES = [
    "Config",
    "ConfigValue",
    "DataArtifact",
    "DeployedFlow",
    "Deployer",
    "Flow",
    "FlowMutator",
    "FlowSpec",
    "IncludeFile",
    "JSONType",
    "JSONTypeClass",
    "Metaflow",
    "NBDeployer",
    "NBRunner",
    "Parameter",
    "Run",
    "Runner",
    "S3",
    "Step",
    "StepMutator",
    "Task",
    "USER_SKIP_STEP",
    "UserStepDecorator",
    "airflow_external_task_sensor",
    "airflow_s3_key_sensor",
    "batch",
    "card",
    "catch",
    "conda",
    "conda_base",
    "config_expr",
    "current",
    "default_metadata",
    "default_namespace",
    "environment",
    "exit_hook",
    "get_metadata",
    "get_namespace",
    "inspect_spin",
    "kubernetes",
    "metadata",
    "namespace",
    "parallel",
    "parallel_imap_unordered",
    "parallel_map",
    "profile",
    "project",
    "pypi",
    "pypi_base",
    "pytorch_parallel",
    "resources",
    "retry",
    "schedule",
    "secrets",
    "step",
    "timeout",
    "trigger",
    "trigger_on_finish",
    "user_step_decorator",
]


def test_every_name_a_metaflow_user_imports_is_there() -> None:
    missing = [name for name in METAFLOW_NAMES if not hasattr(flowkit, name)]
    assert missing == []


def test_refused_decorators_are_lint_problems_at_their_lines(tmp_path: Path) -> None:
    from tests.metaflow_compat.flows.decorators_refused import RefusedFlow

    with pytest.raises(flowkit.LintError) as caught:
        flowkit.run(RefusedFlow, store=str(tmp_path), progress=Quiet())
    by_message = {p.message: p for p in caught.value.problems}
    assert set(by_message) == {
        "@exit_hook is a Metaflow feature that flowkit does not offer",
        "@kubernetes is a Metaflow feature that flowkit does not offer",
        "@secrets is a Metaflow feature that flowkit does not offer",
    }
    hook = by_message["@exit_hook is a Metaflow feature that flowkit does not offer"]
    assert hook.file.endswith("decorators_refused.py") and hook.line == 7  # the class
    assert "@alert" in hook.hint and hook.step is None
    kube = by_message["@kubernetes is a Metaflow feature that flowkit does not offer"]
    assert (kube.step, kube.line) == ("start", 8)
    assert "@slurm" in kube.hint and "@batch" in kube.hint
    assert by_message["@secrets is a Metaflow feature that flowkit does not offer"].step == "end"


def test_refused_objects_raise_when_used_not_when_imported() -> None:
    from flowkit import Deployer, NotOfferedError, inspect_spin

    with pytest.raises(NotOfferedError, match="Deployer is a Metaflow feature") as caught:
        Deployer("flow.py")
    assert "python flow.py run" in caught.value.hint
    with pytest.raises(NotOfferedError, match="debug_task"):
        inspect_spin("Flow/1/start/2")


def test_parallel_map_keeps_order_and_forks(tmp_path: Path) -> None:
    import os

    base = 10
    assert flowkit.parallel_map(lambda x: x * x + base, range(7), max_parallel=3) == [
        10,
        11,
        14,
        19,
        26,
        35,
        46,
    ]
    pids = set(flowkit.parallel_imap_unordered(lambda _: os.getpid(), range(4), dir=str(tmp_path)))
    assert len(pids) == 4 and os.getpid() not in pids
    assert list(tmp_path.iterdir()) == []  # its temporary files are gone


def test_parallel_map_says_when_the_function_failed() -> None:
    def fail_on_two(x: int) -> int:
        if x == 2:
            raise ValueError("two")
        return x

    with pytest.raises(flowkit.FlowkitError, match="failed in a child process"):
        flowkit.parallel_map(fail_on_two, range(4))


def test_profile_prints_or_counts(capsys: pytest.CaptureFixture[str]) -> None:
    with flowkit.profile("load"):
        pass
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "PROFILE: load starting" and out[1].startswith("PROFILE: load completed in ")
    stats: dict[str, int] = {"load": 5}
    with flowkit.profile("load", stats_dict=stats):
        pass
    assert stats["load"] >= 5 and capsys.readouterr().out == ""


def test_s3_without_its_extension_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import flowkit.plugins

    monkeypatch.setattr(flowkit.plugins, "_entry_points", lambda group, path: {})
    from flowkit import S3

    with pytest.raises(flowkit.FlowkitError, match="no data tool 's3' is installed") as caught:
        S3(s3root="s3://bucket/prefix")
    assert caught.value.hint == "pip install flowkit-s3"


def test_mutators_add_and_remove_decorators_and_parameters(tmp_path: Path) -> None:
    from tests.metaflow_compat.flows.decorators_mutators import MutatedFlow

    graph = flowkit.graph_of(MutatedFlow)
    start, end = graph.steps["start"], graph.steps["end"]
    # as in Metaflow, the flow mutator's mutate ran first: its @retry(times=5) is there, and
    # the step mutator's @retry(times=2) was ignored (duplicates=IGNORE)
    assert start.decorator("retry") is not None and start.decorator("retry").args["times"] == 5
    assert end.decorator("timeout") is None  # removed by NoTimeout
    assert end.decorator("retry").args["times"] == 5  # added by the flow mutator, as text
    assert [p.attr for p in graph.parameters] == ["alpha"]
    run = flowkit.run(MutatedFlow, store=str(tmp_path), progress=Quiet())
    assert run["start"].task.data.attempt == 1  # the added @retry retried it
    assert run["end"].task.data.seen_alpha == 3  # the added parameter's default
    assert run["start"].task.data.stamped == "start"  # the added user step decorator ran
    assert run["end"].task.data.stamped == "end"


def test_user_decorators_and_environment_get_config_values(tmp_path: Path) -> None:
    from flowkit.authoring.user_decorators import wrappers_of
    from tests.metaflow_compat.flows.decorators_configured import ConfiguredDecoratorsFlow

    run = flowkit.run(ConfiguredDecoratorsFlow, store=str(tmp_path), progress=Quiet())
    start = run["start"].task.data
    assert (start.marked, start.stamp_value, start.seen) == (7, "seven", "hi")  # the defaults
    given = {"n": 3, "v": "three", "greeting": "hello"}
    run = flowkit.run(ConfiguredDecoratorsFlow, store=str(tmp_path), progress=Quiet(), cfg=given)
    start = run["start"].task.data
    assert (start.marked, start.stamp_value, start.seen) == (3, "three", "hello")
    # the user's class keeps its expressions: each run's values are on a class of its own
    kwargs = [w.get_args_kwargs()[1] for w in wrappers_of(ConfiguredDecoratorsFlow.start)]
    assert repr(kwargs[0]["n"]) == "config_expr('cfg.n')"


def test_a_user_decorator_expression_that_fails_is_a_lint_problem(tmp_path: Path) -> None:
    from tests.metaflow_compat.flows.decorators_configured import BadDecoratorExprFlow

    with pytest.raises(flowkit.LintError) as caught:
        flowkit.run(BadDecoratorExprFlow, store=str(tmp_path), progress=Quiet())
    (problem,) = caught.value.problems
    assert problem.message == (
        "@Mark(n=config_expr('cfg.missing')) could not be evaluated: AttributeError: the config "
        "has no key 'missing' (its keys: 'n')"
    )
    assert problem.step == "start" and problem.file.endswith("decorators_configured.py")
    assert problem.line == 53


def test_a_mutator_reads_the_runs_configs(tmp_path: Path) -> None:
    from tests.metaflow_compat.flows.decorators_configured import ConfigMutatedFlow

    assert flowkit.graph_of(ConfigMutatedFlow).steps["start"].decorator("retry").args["times"] == 2
    run = flowkit.run(ConfigMutatedFlow, store=str(tmp_path), progress=Quiet())
    assert (run["start"].task.data.attempt, run["start"].task.data.extra_seen) == (2, 20)
    run = flowkit.run(ConfigMutatedFlow, store=str(tmp_path), progress=Quiet(), cfg={"retries": 1})
    assert (run["start"].task.data.attempt, run["start"].task.data.extra_seen) == (1, 10)


def test_a_subclass_mutator_leaves_its_base_class_alone(tmp_path: Path) -> None:
    from flowkit.authoring.decorators import decorators_of
    from tests.metaflow_compat.flows.decorators_configured import RetryBase, RetryChild

    assert flowkit.graph_of(RetryChild).steps["start"].decorator("retry") is None
    assert flowkit.graph_of(RetryBase).steps["start"].decorator("retry").args["times"] == 4
    assert [d.name for d in decorators_of(RetryBase.start)[0]] == ["retry"]
    assert flowkit.run(RetryBase, store=str(tmp_path), progress=Quiet()).successful
