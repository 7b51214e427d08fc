"""Configs: ConfigValue, config expressions, parsing and defaults, the configured class, and
``@project``'s branch rules; no run (tests/metaflow_compat/test_config.py runs flows)."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import pytest

from flowkit import (
    Config,
    FlowDefinitionError,
    FlowSpec,
    IncludeFile,
    LintError,
    Parameter,
    ParameterError,
    check,
    config_expr,
    graph_of,
    project,
    resources,
    retry,
    step,
)
from flowkit.authoring.config import (
    ConfigError,
    ConfigValue,
    configured_values,
    resolve_configs,
)
from flowkit.authoring.configure import configure, needs_configs
from flowkit.authoring.delayed import ConfigExprError, evaluate
from flowkit.authoring.parameters import resolve_parameters
from flowkit.authoring.project import project_of


def shout(text: str) -> dict[str, str]:
    """A parser found by its dotted name."""
    return {"said": text.strip().upper()}


def not_a_mapping(text: str) -> list[str]:
    return text.split()


class Sized(FlowSpec):
    cfg = Config("cfg", default_value={"cpu": 2, "retry": {"times": 4}, "res": {"gpu": 1}})
    lr = Parameter("lr", default=cfg.model_lr)

    @retry(**cfg.retry)
    @resources(cpu=config_expr("cfg.cpu * 2"))
    @step
    def start(self):
        self.next(self.end)

    @resources(**cfg.res)
    @step
    def end(self):
        pass


def _args(graph: object, step_name: str, decorator: str) -> dict[str, object]:
    node = graph.steps[step_name]  # type: ignore[attr-defined]
    return next(dict(d.args) for d in node.decorators if d.name == decorator)


def test_config_value_reads_by_attribute_and_item_and_cannot_change() -> None:
    value = ConfigValue({"model": {"lr": 0.1, "layers": [{"n": 3}]}, "name": "x"})
    assert value.model.lr == value["model"]["lr"] == 0.1
    assert value.model.layers[0].n == 3
    assert isinstance(value, dict) and json.loads(json.dumps(value)) == value.to_dict()
    for change in (
        lambda: setattr(value.model, "lr", 1),
        lambda: value.__setitem__("name", "y"),
        lambda: value.update(name="y"),
        lambda: value.pop("name"),
        lambda: value.model.clear(),
    ):
        with pytest.raises(TypeError, match="ConfigValue is immutable"):
            change()
    with pytest.raises(AttributeError, match=r"no key 'missing'.*'model', 'name'"):
        _ = value.missing
    with pytest.raises(KeyError):
        _ = value["missing"]
    assert "model" in value and "missing" not in value
    again = pickle.loads(pickle.dumps(value))
    assert isinstance(again, ConfigValue) and again == value and again.model.lr == 0.1


def test_expressions_take_their_values_from_the_configs_and_the_callers_globals() -> None:
    configs = {"cfg": ConfigValue({"a": {"b": [10, 20]}, "key": "b"})}
    cfg = Config("cfg")
    assert evaluate(cfg.a.b, configs) == [10, 20]
    assert evaluate(cfg.a[cfg.key], configs) == [10, 20]  # an expression as the key
    assert evaluate(config_expr("len(cfg.a.b) + offset"), configs) == 12
    assert evaluate(config_expr("cfg.a").b, configs) == [10, 20]
    with pytest.raises(ConfigExprError, match=r"cfg\.a has no key 'c' \(its keys: 'b'\)"):
        evaluate(cfg.a.c, configs)
    with pytest.raises(ConfigExprError, match="NameError"):
        evaluate(config_expr("nope.a"), configs)


offset = 10  # read by config_expr above, from this module's globals


def test_decorators_and_parameter_defaults_get_values_when_the_class_is_configured() -> None:
    graph = graph_of(Sized)  # configured with the defaults
    assert _args(graph, "start", "retry")["times"] == 4
    assert _args(graph, "start", "resources")["cpu"] == 4
    assert _args(graph, "end", "resources")["gpu"] == 1
    made = configure(Sized, {"cfg": {"cpu": 3, "retry": {"times": 1}, "res": {}, "model_lr": 0.5}})
    assert made.__name__ == "Sized" and issubclass(made, Sized)
    assert configured_values(made) == {
        "cfg": {"cpu": 3, "retry": {"times": 1}, "res": {}, "model_lr": 0.5}
    }
    graph = check(made)
    assert _args(graph, "start", "retry")["times"] == 1
    assert _args(graph, "start", "resources")["cpu"] == 6
    spec = next(p for p in graph.parameters if p.name == "lr")
    assert (spec.kind, spec.default) == ("float", 0.5)
    # the original class keeps its expressions for the next run
    assert repr(Sized.lr.default) == "config_expr('cfg.model_lr')"


def test_whether_a_class_waits_for_configs_is_worked_out_once_per_class(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gc
    import weakref

    import flowkit.authoring.configure as configure_module

    walked: list[type] = []
    walk = configure_module._waits_for_configs

    def counted(flow_cls: type) -> bool:
        walked.append(flow_cls)
        return walk(flow_cls)

    monkeypatch.setattr(configure_module, "_waits_for_configs", counted)

    class Plain(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    assert [needs_configs(Plain), needs_configs(Plain)] == [False, False]
    made = configure(Sized, {"cfg": {"cpu": 1, "retry": {"times": 1}, "res": {}}})
    assert [needs_configs(Sized), needs_configs(Sized), needs_configs(made)] == [True, True, False]
    assert walked.count(Plain) == 1 and walked.count(made) == 1
    assert walked.count(Sized) <= 1  # once, here or before this test
    # a class made for a run (a notebook's, redefined) is not kept alive by the answer
    gone = weakref.ref(made)
    walked.clear()  # the spy's own list would keep it alive
    del made
    gc.collect()
    assert gone() is None


def test_a_bad_expression_is_a_lint_problem_naming_the_decorator_step_and_line() -> None:
    made = configure(Sized, {"cfg": {"cpu": 1, "retry": {"tims": 1}, "res": []}})
    with pytest.raises(LintError) as info:
        check(made)
    problems = {p.step: p for p in info.value.problems if p.step}
    assert "@retry has no argument 'tims'" in problems["start"].message
    assert problems["end"].message == (
        "@resources(**cfg.res) could not be evaluated: **cfg.res is [], "
        "not a mapping of keyword arguments"
    )
    assert problems["end"].file and problems["end"].file.endswith("test_config.py")
    assert problems["end"].line == Sized.end.__code__.co_firstlineno
    lr = next(p for p in info.value.problems if "Parameter 'lr'" in p.message)
    assert lr.message.startswith(
        "the default of Parameter 'lr' (config_expr('cfg.model_lr')) could not be evaluated: "
        "cfg has no key 'model_lr'"
    )


def test_values_come_from_json_text_files_parsers_and_defaults(tmp_path: Path) -> None:
    class Parsed(FlowSpec):
        j = Config("j")
        p = Config("p", default_value="hello", parser=f"{__name__}.shout")
        plain = Config("plain", default_value="a b", plain=True, parser=not_a_mapping)
        f = Config("f", default=str(tmp_path / "f.json"))

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    (tmp_path / "f.json").write_text('{"from": "file"}')
    given = {"j": '{"x": [1, 2]}'}
    values = resolve_configs(Parsed, given)
    assert values == {
        "j": {"x": [1, 2]},
        "p": {"said": "HELLO"},
        "plain": ["a", "b"],
        "f": {"from": "file"},
    }
    (tmp_path / "g.json").write_text('{"g": 1}')
    assert resolve_configs(Parsed, {"j": tmp_path / "g.json"})["j"] == {"g": 1}
    assert resolve_configs(Parsed, {"j": {"as": "dict"}})["j"] == {"as": "dict"}
    assert resolve_configs(Parsed, {})["j"] is None  # not required: None


@pytest.mark.parametrize(
    ("config", "given", "message"),
    [
        (Config("c"), "{bad", "configuration value for 'c' is not valid JSON"),
        (Config("c"), "[1, 2]", "configuration value for 'c' from the JSON is list [1, 2]"),
        (Config("c"), Path("/nowhere/c.json"), "configuration file '/nowhere/c.json' could not"),
        (Config("c", required=True), None, "missing configuration for 'c'"),
        (Config("c", parser="no_such_module.parse"), "x", "cannot locate parser"),
        (Config("c", parser=not_a_mapping), "x y", "from parser 'not_a_mapping' is list"),
        (Config("c", parser=json.loads), "{", "the parser of config 'c' failed: JSONDecodeError"),
        (Config("c", default="/nowhere/d.json"), None, "default configuration file"),
    ],
)
def test_bad_config_values_are_config_errors(config: Config, given: object, message: str) -> None:
    flow = type("Bad", (FlowSpec,), {"c": config})
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        resolve_configs(flow, {} if given is None else {"c": given})
    assert isinstance(info.value, ParameterError) and info.value.parameter == "c"


def test_a_relative_default_file_is_found_beside_the_flow_file_too(tmp_path: Path) -> None:
    # tests/metaflow_compat/flows/config_default.json, read with the working dir elsewhere
    from tests.metaflow_compat.flows.config_flow import ConfigFlow

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        values = resolve_configs(ConfigFlow, {})
    assert values["cfg"]["project"] == "demo_proj"


def test_both_default_and_default_value_is_a_problem() -> None:
    class Both(FlowSpec):
        c = Config("c", default="x.json", default_value={})

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    with pytest.raises(LintError, match=r"has both default= .* and default_value="):
        check(Both)


@project(name="proj_1")
class Projected(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


@pytest.mark.parametrize(
    ("branch", "production", "expected"),
    [
        (None, False, "user.ann"),
        ("feat_1", False, "test.feat_1"),
        (None, True, "prod"),
        ("feat_1", True, "prod.feat_1"),
    ],
)
def test_project_branches_follow_metaflows_rules(
    branch: str | None, production: bool, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("METAFLOW_OWNER", raising=False)
    info = project_of(Projected, branch=branch, production=production, user="ann")
    assert info is not None
    assert info.system_tags == ("project:proj_1", f"project_branch:{expected}")
    assert info.project_flow_name == f"proj_1.{expected}.Projected"
    assert info.is_user_branch == (expected == "user.ann")
    assert info.is_production == production


def test_bad_project_and_branch_names_are_refused() -> None:
    bad = project(name="Bad-Name")(type("BadProject", (FlowSpec,), {}))
    with pytest.raises(FlowDefinitionError, match="lowercase alphanumeric") as info:
        project_of(bad)
    assert info.value.hint == "'Bad-Name' is not; use e.g. 'bad_name'"
    with pytest.raises(ParameterError, match="The branch name must contain only lowercase"):
        project_of(Projected, branch="Feature")
    with pytest.raises(FlowDefinitionError, match="@project needs a name"):
        project_of(project(name="")(type("NoName", (FlowSpec,), {})))
    with pytest.raises(ParameterError, match="shorter than 128"):
        project_of(Projected, branch="b" * 129)
    branched = project(name="p", branch="one")(type("Branched", (FlowSpec,), {}))
    with pytest.raises(ParameterError, match="--branch as both a command-line argument"):
        project_of(branched, branch="two")
    assert project_of(type("Plain", (FlowSpec,), {})) is None


def test_a_function_as_default_or_default_value_gets_the_runs_context(tmp_path: Path) -> None:
    (tmp_path / "Computed.json").write_text('{"from": "file"}')

    class Computed(FlowSpec):
        f = Config("f", default=lambda ctx: str(tmp_path / f"{ctx.flow_name}.json"))
        v = Config("v", default_value=lambda ctx: {"name": ctx.parameter_name})

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    assert resolve_configs(Computed, {}) == {"f": {"from": "file"}, "v": {"name": "v"}}


def test_a_path_given_as_text_is_json_and_the_hint_says_how_to_read_the_file(
    tmp_path: Path,
) -> None:
    class One(FlowSpec):
        c = Config("c")

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    (tmp_path / "c.json").write_text("{}")
    with pytest.raises(ConfigError, match="is not valid JSON") as info:
        resolve_configs(One, {"c": str(tmp_path / "c.json")})
    assert info.value.hint == (
        f"to read the file, give c=pathlib.Path('{tmp_path / 'c.json'}') "
        "(--config c FILE on the command line)"
    )


def doubled(n: int) -> int:
    return 2 * n


def test_an_expression_pickles_with_only_the_globals_it_reads() -> None:
    # a notebook flow's class travels pickled, its decorators' expressions with it
    expr = config_expr("doubled(cfg.n)")
    again = pickle.loads(pickle.dumps(expr))
    assert evaluate(again, {"cfg": ConfigValue({"n": 2})}) == 4
    assert set(again._globals or {}) == {"doubled"}
    path = pickle.loads(pickle.dumps(Config("cfg").a["b"]))
    assert evaluate(path, {"cfg": ConfigValue({"a": {"b": 1}})}) == 1


def test_an_include_file_default_from_a_config_is_a_path_read_when_the_run_starts(
    tmp_path: Path,
) -> None:
    (tmp_path / "notes.txt").write_text("the notes")

    class Including(FlowSpec):
        cfg = Config("cfg", default_value={"notes": str(tmp_path / "notes.txt")})
        notes = IncludeFile("notes", default=cfg.notes)

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    made = configure(Including, resolve_configs(Including, {}))
    assert made.notes.default == str(tmp_path / "notes.txt")
    assert resolve_parameters(made, {"cfg": {}})["notes"] == "the notes"
