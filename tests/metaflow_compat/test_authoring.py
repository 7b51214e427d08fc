"""Parameters, ``current``, the flow object and FlowSpec subclassing, as a Metaflow 2.19 user
relies on them: ``Parameter(separator=)``, ``METAFLOW_RUN_<NAME>`` defaults,
``current.parameter_names`` and Metaflow's other ``current`` attributes, a run-time
AttributeError for a step that assigns to a parameter, ``for step in self``, ``self._graph``,
and a base flow class in a module of its own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import flowkit
from flowkit import FlowSpec, NotInTaskError, ParameterError, current, project, step
from flowkit.authoring.current import TaskContext, bound
from flowkit.store import open_store
from flowkit.store.packages import CodePackage
from tests.conftest import ROOT
from tests.metaflow_compat.flows.authoring_assign import AssignParamFlow
from tests.metaflow_compat.flows.authoring_params import ParamsFlow
from tests.metaflow_compat.flows.config_flow import ConfigFlow
from tests.metaflow_compat.flows.runs_project import PlainBranchFlow, RunsProjectFlow
from tests.runtime.test_shapes import Quiet

FLOWS = Path(__file__).parent / "flows"


def line_of(path: Path, text: str) -> int:
    """The number of the one line of ``path`` that contains ``text``."""
    lines = [n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    assert len(lines) == 1, (path, text, lines)
    return lines[0]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in list(os.environ):
        if var.startswith(("METAFLOW_RUN_", "FLOWKIT_RUN_")):
            monkeypatch.delenv(var)
    return monkeypatch


def _cli(
    script: Path, *args: str, store: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("METAFLOW_RUN_", "FLOWKIT_RUN_"))
    }
    return subprocess.run(
        [sys.executable, script.name, *args],
        cwd=script.parent,
        env={**base, "PYTHONPATH": str(ROOT), "FLOWKIT_STORE": str(store), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_parameters_current_and_graph_in_a_run(tmp_path: Path, clean_env) -> None:
    clean_env.setenv("METAFLOW_RUN_MY_SIZE", "7")  # Metaflow's name: upper-case, '-' -> '_'
    clean_env.setenv("METAFLOW_RUN_LABEL", "from-metaflow")
    clean_env.setenv("FLOWKIT_RUN_LABEL", "from-flowkit")  # flowkit's own wins
    clean_env.setenv("METAFLOW_RUN_ALPHA", "0.75")  # an explicit value wins over both
    run = flowkit.run(ParamsFlow, store=str(tmp_path), progress=Quiet(), tags=["t1"], alpha=0.25)
    data = run.data
    assert data.params_seen == {
        "names": ["a", "b"],  # the default "a,b" split at the separator
        "alpha": 0.25,
        "size": 7,  # converted to the parameter's type
        "label": "from-flowkit",
    }
    assert data.end_names == ["a", "b"] and data.uppers == ["A", "B"]
    assert data.input_alphas == [0.25, 0.25]
    flow_file = FLOWS / "authoring_params.py"
    assign_line = line_of(flow_file, "self.alpha = 5")
    assert data.assign_error.startswith(f"{flow_file}:{assign_line}: step 'start': ")
    assert "parameter 'alpha' is read-only" in data.assign_error
    assert data.parameter_names == ["alpha", "label", "names", "size"]
    assert data.step_names == ["start", "each", "join", "end"]
    user = run.record.user
    assert data.current_values == {
        "is_running_flow": True,
        "retry_count": 0,
        "origin_run_id": None,
        "namespace": f"user:{user}",
        "username": user,
        "tags": ["t1"],
        "parallel": ("127.0.0.1", 1, 0, None),
        "project_name in current": False,
        "get project_name": "no project",
    }
    assert data.graph_structure == ["start", [["each"]], "join", "end"]
    assert data.graph_steps["start"]["type"] == "split-foreach"
    assert data.graph_steps["start"]["foreach_artifact"] == "names"
    assert data.graph_steps["start"]["matching_join"] == "join"
    assert data.graph_steps["each"]["doc"] == "One name."
    assert data.nodes["each"] == {
        "type": "linear",
        "out_funcs": ["join"],
        "in_funcs": ["start"],
        "split_parents": ["start"],
        "matching_join": None,
        "foreach_param": None,
        "is_inside_foreach": True,
        "func_lineno": line_of(flow_file, "def each(self):"),
        "doc": "One name.",
    }
    assert data.nodes["start"]["type"] == "foreach"
    assert data.nodes["join"]["type"] == "join" and not data.nodes["join"]["is_inside_foreach"]
    # parameters are recorded with the run; the graph is never an artifact
    assert run.record.parameters["names"] == ["a", "b"] and run.record.parameters["size"] == 7
    assert not any(name.startswith("_") for name in run["start"].task.record.artifacts)


def test_a_resume_keeps_the_values_the_environment_gave(tmp_path: Path, clean_env) -> None:
    clean_env.setenv("METAFLOW_RUN_MY_SIZE", "7")
    first = flowkit.run(ParamsFlow, store=str(tmp_path), progress=Quiet())
    clean_env.setenv("METAFLOW_RUN_MY_SIZE", "9")
    clean_env.setenv("FLOWKIT_RUN_NAMES", "x,y,z")
    resumed = flowkit.resume(
        ParamsFlow, "each", origin_run_id=first.id, store=str(tmp_path), progress=Quiet()
    )
    assert resumed.data.params_seen["size"] == 7 and resumed.data.end_names == ["a", "b"]
    assert resumed.record.parameters["size"] == 7


def test_environment_defaults_from_the_command_line(tmp_path: Path) -> None:
    script = FLOWS / "authoring_params.py"
    done = _cli(
        script,
        "run",
        "--names",
        "p;q",
        store=tmp_path,
        env={
            "METAFLOW_RUN_NAMES": "ignored",
            "FLOWKIT_RUN_MY_SIZE": "3",
            "METAFLOW_RUN_ALPHA": "x",
        },
    )
    assert (
        done.returncode == 2
    )  # a usage error; a bad value from the environment names its variable
    assert "parameter 'alpha' expects a number, got 'x' (from $METAFLOW_RUN_ALPHA)" in done.stderr
    done = _cli(
        script,
        "run",
        "--names",
        "p,q",
        store=tmp_path,
        env={"METAFLOW_RUN_NAMES": "ignored", "FLOWKIT_RUN_MY_SIZE": "3"},
    )
    assert done.returncode == 0, done.stderr
    run = flowkit.Flow("ParamsFlow", store=str(tmp_path)).latest_run
    assert run.data.params_seen == {"names": ["p", "q"], "alpha": 0.5, "size": 3, "label": "none"}


def test_assigning_a_parameter_is_an_attribute_error_at_its_line(tmp_path: Path) -> None:
    assert flowkit.check(AssignParamFlow).name == "AssignParamFlow"  # lint does not refuse it
    script = FLOWS / "authoring_assign.py"
    done = _cli(script, "run", store=tmp_path)
    assert done.returncode == 1
    line = line_of(script, "self.alpha = 2")
    assert f'File "{script}", line {line}, in start' in done.stderr
    assert "self.alpha = 2  # the failing line" in done.stderr
    assert (
        f"ReadOnlyParameterError: {script}:{line}: step 'start': parameter 'alpha' is read-only"
        in done.stderr
    )
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(AssignParamFlow, store=str(tmp_path), progress=Quiet())
    task = info.value.run["start"].task
    assert task.record.exception is not None
    assert task.record.exception.type == "ReadOnlyParameterError"


def test_a_string_separator_and_typed_lists() -> None:
    from flowkit.authoring.parameters import Parameter

    names = Parameter("names", separator=",")
    assert names.convert("a,b,,c") == ["a", "b", "", "c"]  # str.split, as Metaflow
    assert names.convert("") == ""  # Metaflow leaves an empty value alone
    assert names.convert(["x", "y"]) == ["x", "y"]
    ids = Parameter("ids", type=int, default="1;2", separator=";")
    assert ids.default == [1, 2] and ids.convert("3;4") == [3, 4]
    with pytest.raises(ParameterError, match="'ids' expects a whole number, got 'x'"):
        ids.convert("1;x")
    assert Parameter("cfg", type=flowkit.JSONType, separator=",").problems == [
        "Parameter 'cfg' has a separator, which a JSON parameter cannot use"
    ]


def test_current_outside_a_step() -> None:
    assert current.is_running_flow is False
    with pytest.raises(NotInTaskError, match=r"current\.parameter_names has no value"):
        current.parameter_names  # noqa: B018
    with pytest.raises(NotInTaskError):
        current.graph  # noqa: B018
    assert current.get("flow_name") is None and "flow_name" not in current


def test_current_project_attributes_come_from_the_system_tags() -> None:
    tags = ("project:fraud", "project_branch:user.alice")
    with bound(TaskContext("F", "r1", "start", "t1", system_tags=tags, tags=("x",))):
        assert (current.project_name, current.branch_name) == ("fraud", "user.alice")
        assert current.project_flow_name == "fraud.user.alice.F"
        assert (current.is_production, current.is_user_branch) == (False, True)
        assert "project_name" in current and current.tags == {"x"}
    prod = ("project:fraud", "project_branch:prod")
    with bound(TaskContext("F", "r1", "start", "t1", system_tags=prod)):
        assert current.is_production is True and current.project_flow_name == "fraud.prod.F"
    with bound(TaskContext("F", "r1", "start", "t1")):
        with pytest.raises(AttributeError, match="flow F has no @project"):
            current.project_name  # noqa: B018
        assert current.get("branch_name") is None and "project_name" not in current


@project(name="fraud")
class ProjectFlow(FlowSpec):
    @step
    def start(self):
        self.project = {
            "project_name": current.project_name,
            "branch_name": current.branch_name,
            "project_flow_name": current.project_flow_name,
            "is_production": current.is_production,
        }
        self.next(self.end)

    @step
    def end(self):
        pass


def test_current_reads_the_project_of_the_run(tmp_path: Path) -> None:
    run = flowkit.run(ProjectFlow, store=str(tmp_path), progress=Quiet())
    branch = f"user.{run.record.user}"
    assert run.data.project == {
        "project_name": "fraud",
        "branch_name": branch,
        "project_flow_name": f"fraud.{branch}.ProjectFlow",
        "is_production": False,
    }


class BranchFlow(FlowSpec):
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


def test_iterating_a_flow_and_its_graph() -> None:
    flow = BranchFlow(use_cli=False)
    assert [s.__name__ for s in flow] == ["start", "a", "b", "join", "end"]
    graph = BranchFlow._graph
    assert flow._graph is graph and "join" in graph and len(graph) == 5
    assert graph.start_step == "start" and graph.end_step == "end"
    assert [n.name for n in graph] == list(graph.nodes) == graph.sorted_nodes
    start, join = graph["start"], graph["join"]
    assert (start.type, start.out_funcs, start.matching_join) == ("split", ["a", "b"], "join")
    assert (join.type, join.in_funcs, join.split_parents) == ("join", ["a", "b"], ["start"])
    assert graph["a"].split_branches == ["a"] and graph["a"].func_lineno == (
        BranchFlow.a.__code__.co_firstlineno + 1  # the def, after @step
    )
    assert graph.output_steps()[1] == ["start", [["a"], ["b"]], "join", "end"]


@pytest.mark.slow
def test_a_base_flow_class_in_another_module(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("authoring_base.py", "authoring_child.py"):
        shutil.copy(FLOWS / name, project / name)
    store, child, base = (
        tmp_path / "store",
        project / "authoring_child.py",
        project / "authoring_base.py",
    )

    check = _cli(child, "check", store=store)
    assert check.returncode == 0, check.stderr
    done = _cli(child, "run", "--scale", "3", store=store)
    assert done.returncode == 0, done.stderr
    flow = flowkit.Flow("ChildFlow", store=str(store))
    first = flow.latest_run
    assert (first.data.base_mark, first.data.model, first.data.total) == ("v1", "child-child", 18)
    # each step's file and line are in its own file
    graph_probe = _cli(child, "show", "--json", store=store)
    steps = {s["name"]: s for s in json.loads(graph_probe.stdout)["steps"]}
    assert (steps["prepare"]["file"], steps["prepare"]["line"]) == (
        str(base),
        line_of(base, "def prepare"),
    )
    assert (steps["train"]["file"], steps["train"]["line"]) == (
        str(child),
        line_of(child, "def train"),
    )
    assert steps["prepare"]["doc"] == "Prepare the data."
    # the base's module travels in the run's code package
    package = CodePackage.from_value(
        open_store(str(store)).values.load(str(first.record.code_digest)), "test"
    )
    assert "authoring_base.py" in package.files

    # a change in the base class's step is seen by reuse and by resume
    base.write_text(base.read_text().replace("self.base_mark = MARK", 'self.base_mark = "v2"'))
    done = _cli(child, "run", "--reuse", "--scale", "3", store=store)
    assert done.returncode == 0, done.stderr
    reused = flow.latest_run
    assert reused.data.base_mark == "v2"
    assert reused["start"].task.origin_pathspec == first["start"].task.pathspec
    assert reused["prepare"].task.origin_pathspec is None
    base.write_text(base.read_text().replace('"v2"', '"v3"'))
    done = _cli(child, "resume", "prepare", store=store)
    assert done.returncode == 0, done.stderr
    resumed = flow.latest_run
    assert (resumed.data.base_mark, resumed.data.total) == ("v3", 18)


def test_parameters_named_branch_and_production_in_and_out_of_a_project(tmp_path: Path) -> None:
    plain = flowkit.run(
        PlainBranchFlow, store=str(tmp_path), progress=Quiet(), branch="dev", production=True
    )
    assert plain["start"].task.data.seen == ("dev", True, False)
    assert not any(t.startswith("project") for t in plain.tags)
    run = flowkit.run(
        RunsProjectFlow,
        store=str(tmp_path),
        progress=Quiet(),
        branch="dev",
        project_branch="feat",
        cfg={"greeting": "yo"},
    )
    assert "project_branch:test.feat" in run.tags
    data = run["start"].task.data
    assert data.seen == {
        "branch": "dev",
        "production": False,
        "project_branch": "test.feat",
        "greeting": "yo",
    }
    # for step in self: Metaflow's name, is_step and decorators (name, attributes) per step
    assert [(name, is_step, [d for d, _ in decos]) for name, is_step, decos in data.steps] == [
        ("start", True, ["retry"]),
        ("end", True, []),
    ]
    assert data.steps[0][2][0][1]["times"] == 2
    with pytest.raises(ParameterError) as info:  # Metaflow's name for it is a parameter's
        flowkit.run(ConfigFlow, store=str(tmp_path), progress=Quiet(), branch="feat")
    assert info.value.message == "ConfigFlow has no parameter 'branch'"
    assert info.value.hint.startswith("for @project's --branch, give project_branch=; ")


@pytest.mark.slow
def test_a_project_branch_and_a_branch_parameter_on_the_command_line(tmp_path: Path) -> None:
    script = FLOWS / "runs_project.py"
    ran = _cli(script, "--branch", "feat", "run", "--branch", "dev", store=tmp_path)
    assert ran.returncode == 0, ran.stderr
    (run,) = open_store(str(tmp_path)).records.iter_runs("RunsProjectFlow")
    assert "project_branch:test.feat" in run.system_tags
    assert run.parameters["branch"] == "dev"


def test_step_functions_carry_metaflow_attributes() -> None:
    assert (BranchFlow.a.name, BranchFlow.a.is_step) == ("a", True)
    assert [(s.name, s.decorators) for s in BranchFlow(use_cli=False)][:2] == [
        ("start", ()),
        ("a", ()),
    ]
