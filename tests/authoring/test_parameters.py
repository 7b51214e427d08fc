"""Parameters: typed, converted with clear errors, read-only inside steps; IncludeFile."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowkit import FlowSpec, IncludeFile, JSONType, Parameter, ParameterError, step
from flowkit.authoring.flowspec import bind_parameters
from flowkit.authoring.parameters import resolve_parameters
from flowkit.errors import FlowDefinitionError


class Params(FlowSpec):
    alpha = Parameter("alpha", default=0.5, help="rate")
    epochs = Parameter("epochs", default=3)
    debug = Parameter("debug", default=False)
    name_ = Parameter("run_name", type=str, required=True)
    config = Parameter("config", type=JSONType, default={"a": 1})
    notes = IncludeFile("notes", default=None)
    blob = IncludeFile("blob", is_text=False)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_kinds_come_from_type_or_default() -> None:
    kinds = {
        p: getattr(Params, p).kind for p in ("alpha", "epochs", "debug", "name_", "config", "notes")
    }
    assert kinds == {
        "alpha": "float",
        "epochs": "int",
        "debug": "bool",
        "name_": "str",
        "config": "json",
        "notes": "file",
    }


@pytest.mark.parametrize(
    ("attr", "raw", "value"),
    [
        ("alpha", "0.25", 0.25),
        ("alpha", 2, 2.0),
        ("epochs", "7", 7),
        ("epochs", 4.0, 4),
        ("debug", "yes", True),
        ("debug", "False", False),
        ("debug", True, True),
        ("config", '{"b": [1, 2]}', {"b": [1, 2]}),
        ("config", [1], [1]),
        ("name_", "x", "x"),
    ],
)
def test_conversion(attr: str, raw: object, value: object) -> None:
    assert getattr(Params, attr).convert(raw) == value


@pytest.mark.parametrize(
    ("attr", "raw", "message"),
    [
        ("epochs", "3.5", "parameter 'epochs' expects a whole number, got '3.5'"),
        ("epochs", 3.5, "parameter 'epochs' expects a whole number, got 3.5"),
        ("epochs", True, "expects a whole number, got True"),
        ("debug", "maybe", "parameter 'debug' expects true or false, got 'maybe'"),
        ("alpha", "fast", "parameter 'alpha' expects a number, got 'fast'"),
        ("config", "{bad", "parameter 'config' expects a JSON value, got '{bad'"),
        ("config", {1, 2}, "expects a JSON value"),
    ],
)
def test_bad_values_are_reported_with_the_parameter_name(
    attr: str, raw: object, message: str
) -> None:
    with pytest.raises(ParameterError) as info:
        getattr(Params, attr).convert(raw)
    assert message in info.value.message
    assert info.value.parameter == getattr(Params, attr).name
    assert info.value.hint.startswith(f"pass --{getattr(Params, attr).name}")


def test_resolve_uses_defaults_and_requires_required(tmp_path: Path) -> None:
    blob = tmp_path / "b.bin"
    blob.write_bytes(b"\x00\xff")
    values = resolve_parameters(Params, {"run_name": "r1", "epochs": "9", "blob": str(blob)})
    assert values == {
        "alpha": 0.5,
        "epochs": 9,
        "debug": False,
        "name_": "r1",
        "config": {"a": 1},
        "notes": None,
        "blob": b"\x00\xff",
    }
    with pytest.raises(ParameterError, match="parameter 'run_name' is required"):
        resolve_parameters(Params, {"blob": str(blob)})
    with pytest.raises(ParameterError, match="has no parameter 'alpah'") as info:
        resolve_parameters(Params, {"alpah": 1})
    assert info.value.hint == "did you mean 'alpha'?"


def test_include_file_reads_text_once_and_reports_bad_files(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("héllo")
    assert Params.notes.convert(str(notes)) == "héllo"
    with pytest.raises(ParameterError, match=r"names file .*missing\.txt.*which cannot be read"):
        Params.notes.convert(str(tmp_path / "missing.txt"))
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"\xe9\xff")
    with pytest.raises(ParameterError, match="is not valid utf-8 text") as info:
        Params.notes.convert(str(latin))
    assert "is_text=False" in info.value.hint


def test_parameters_are_read_only_artifacts_inside_steps() -> None:
    flow = Params(use_cli=False)
    with pytest.raises(ParameterError, match="parameter 'alpha' has no value here"):
        _ = flow.alpha
    bind_parameters(flow, {"alpha": 0.1})
    assert flow.alpha == 0.1
    with pytest.raises(FlowDefinitionError, match="parameter 'alpha' is read-only"):
        flow.alpha = 2
    with pytest.raises(AttributeError):  # what a Metaflow step catches
        flow.alpha = 3
    assert flow.alpha == 0.1


def test_defaults_from_the_environment(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("from env")
    env = {
        "METAFLOW_RUN_EPOCHS": "5",
        "METAFLOW_RUN_RUN_NAME": "mf",  # a required parameter is satisfied by it
        "FLOWKIT_RUN_RUN_NAME": "fk",  # flowkit's own wins
        "METAFLOW_RUN_ALPHA": "0.9",
        "FLOWKIT_RUN_NOTES": str(notes),
        "METAFLOW_RUN_DEBUG": "",  # empty: not set
    }
    values = resolve_parameters(Params, {"alpha": "0.1", "blob": str(notes)}, environ=env)
    assert (values["epochs"], values["name_"], values["alpha"]) == (5, "fk", 0.1)
    assert (values["notes"], values["debug"]) == ("from env", False)
    # kept values (a resume's) never read the environment
    kept = resolve_parameters(
        Params,
        {},
        kept=[p.attr for p in Params.__dict__.values() if isinstance(p, Parameter)],
        environ=env,
    )
    assert kept == {}
    with pytest.raises(ParameterError, match=r"got 'ten' \(from \$METAFLOW_RUN_EPOCHS\)") as info:
        resolve_parameters(Params, {"run_name": "r"}, environ={"METAFLOW_RUN_EPOCHS": "ten"})
    assert info.value.hint == "set METAFLOW_RUN_EPOCHS to a whole number, or unset it"
    assert Parameter("my-size").env_names() == ("FLOWKIT_RUN_MY_SIZE", "METAFLOW_RUN_MY_SIZE")


def test_bad_declarations_become_problems_not_import_errors() -> None:
    assert Parameter("x", type=list).problems == [
        "Parameter 'x' has type=<class 'list'>; use str, int, float, bool or JSONType"
    ]
    assert (
        "the default of Parameter 'n' is invalid"
        in Parameter("n", type=int, default="ten").problems[0]
    )
    assert "callable default" in Parameter("c", default=lambda: 1).problems[0]
