"""How ``@conda``/``@pypi`` find packages in this environment and compare versions."""

from __future__ import annotations

import importlib.metadata

import pytest

from flowkit import conda, pypi, step
from flowkit.authoring.decorators import decorators_of
from flowkit.authoring.environment import _satisfies, find


def test_find_maps_pip_and_conda_names_and_reads_versions() -> None:
    click = importlib.metadata.version("click")
    assert find("click").version == click
    assert find("conda-forge::click", ">=1").version == click  # a channel prefix is dropped
    assert find("flowkit-surely-missing-pkg").version is None
    assert find("pytorch").name == "pytorch"  # conda's name is kept in messages


@pytest.mark.parametrize(
    ("version", "wanted", "ok"),
    [
        ("1.2.3", "", True),
        ("1.2.3", "1.2.3", True),
        ("1.2.3", "1.2", True),  # conda: 1.2 matches 1.2.x
        ("1.20.0", "1.2", False),
        ("1.2.3", "1.2.*", True),
        ("2.0", ">=1.0,<3", True),
        ("3.1", ">=1.0,<3", False),
    ],
)
def test_versions_match_as_conda_and_pip_read_them(version: str, wanted: str, ok: bool) -> None:
    assert _satisfies(version, wanted) is ok


def test_arguments_are_checked_as_metaflow_names_them() -> None:
    @pypi(libraries={"click": ""})  # conda's old name, not pypi's
    @conda(packages={"click": 8}, python=3.11)
    @step
    def start(self: object) -> None:
        pass

    specs, problems = decorators_of(start)
    assert problems == (
        "@conda: packages must map names to version strings; "
        "@conda(python=3.11) is invalid: python must be a version string",
        "@pypi has no argument 'libraries' (it takes packages, python, disabled)",
    )
    assert [s.name for s in specs] == ["conda", "pypi"]


def test_decorating_looks_nothing_up_lint_does(monkeypatch: pytest.MonkeyPatch) -> None:
    from flowkit import FlowSpec, conda_base
    from flowkit.authoring import environment
    from flowkit.authoring.environment import base_specs, missing_packages

    looked_up: list[str] = []

    def spy(name: str, wanted: str = "") -> environment.Found:
        looked_up.append(name)
        return environment.Found(name, wanted, None)

    monkeypatch.setattr(environment, "find", spy)

    @conda_base(packages={"numpy": "1.26"})
    class Flow(FlowSpec):
        @pypi(packages={"click": ">=8"})
        @step
        def start(self) -> None:
            pass

    assert looked_up == []  # importing a flow file (or a worker loading it) asks nothing
    assert decorators_of(Flow.start)[1] == ()
    step_problems = missing_packages(decorators_of(Flow.start)[0])
    flow_problems = missing_packages(base_specs(Flow))
    assert looked_up == ["click", "numpy"]
    assert [str(p) for p in step_problems + flow_problems] == [
        "@pypi names packages this Python does not have: click>=8",
        "@conda_base names packages this Python does not have: numpy==1.26",
    ]
    assert "pip install 'numpy==1.26'" in flow_problems[0].hint
