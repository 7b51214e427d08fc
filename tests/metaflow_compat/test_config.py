"""``Config``, ``config_expr`` and ``@project`` as a Metaflow 2.19 user relies on them: values
read when the run starts (``--config NAME FILE``, ``--config-value NAME JSON``, the default
file, the default value), read-only in steps, recorded with the run and kept by a resume,
driving decorators and parameter defaults, and ``@project``'s system tags."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import flowkit
from flowkit import LintError, ParameterError, RunFailed
from flowkit.authoring.config import ConfigError
from flowkit.cli.flow_cli import make_cli
from flowkit.settings import current_user
from flowkit.store import open_store
from tests.conftest import ROOT
from tests.executor.conftest import installed, third_party  # noqa: F401  (fixtures)
from tests.metaflow_compat.flows.config_flow import ConfigFlow
from tests.metaflow_compat.flows.config_required import ConfigRequiredFlow
from tests.metaflow_compat.flows.config_retry import ConfigRetryFlow
from tests.runtime.test_shapes import Quiet

FLOW_FILE = Path(__file__).parent / "flows" / "config_flow.py"
DEFAULT = json.loads((FLOW_FILE.parent / "config_default.json").read_text())

pytestmark = pytest.mark.slow


def _cli(store: Path, *args: str, cwd: Path = FLOW_FILE.parent) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FLOWKIT_STORE": str(store)}
    env.pop("METAFLOW_OWNER", None)
    return subprocess.run(
        [sys.executable, str(FLOW_FILE), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _latest(store: Path) -> flowkit.Run:
    return flowkit.Flow("ConfigFlow", store=str(store)).latest_run


def test_defaults_reach_steps_as_read_only_config_values(tmp_path: Path) -> None:
    run = flowkit.run(ConfigFlow, store=str(tmp_path), quiet=True)
    start = run["start"].task.data
    assert (start.lr, start.lr_item) == (0.01, 0.01)  # cfg.model.lr and cfg["model"]["lr"]
    assert start.alpha_seen == DEFAULT["alpha"]  # Parameter(default=cfg.alpha)
    assert start.kv_seen == {"a": "1", "b": "2"}  # parser given by its dotted name
    assert start.immutable == "ConfigValue is immutable"
    assert run["middle"].task.data.scaled == 20
    assert run["end"].task.data.greeting == "hi"
    # recorded with the run, as the run's other parameters are
    assert run["end"].task.data.cfg_seen == DEFAULT
    assert type(run["end"].task.data.cfg) is dict  # the client reads it as a plain dict
    assert run["end"].task.data.cfg == DEFAULT
    record = open_store(str(tmp_path)).records.get_run("ConfigFlow", run.id)
    assert record.parameters["cfg"] == DEFAULT
    assert record.parameters["settings"] == {"greeting": "hi", "scale": 2}


def test_config_and_config_value_on_the_command_line(tmp_path: Path) -> None:
    given = {**DEFAULT, "alpha": 7, "model": {"lr": 0.5}}
    (tmp_path / "mine.json").write_text(json.dumps(given))
    ran = _cli(
        tmp_path / "store",
        *("--config", "cfg", str(tmp_path / "mine.json")),
        *("--config-value", "settings", '{"greeting": "yo", "scale": 3}'),
        "run",
    )
    assert ran.returncode == 0, ran.stderr
    run = _latest(tmp_path / "store")
    assert run["start"].task.data.lr == 0.5
    assert run["start"].task.data.alpha_seen == 7
    assert run["middle"].task.data.scaled == 30
    assert run["end"].task.data.greeting == "yo"
    assert run["end"].task.data.cfg_seen == given


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--config", "cfg", "missing.json"),
            "configuration file 'missing.json' could not be read",
        ),
        (("--config-value", "cfg", "{bad"), "configuration value for 'cfg' is not valid JSON"),
        (
            ("--config", "cfg", "config_default.json", "--config-value", "cfg", "{}"),
            "Cannot provide both a value and a file for the same configuration. "
            "Found such values for 'cfg'",
        ),
        (("--config-value", "nope", "{}"), "'nope' is not one of 'cfg', 'settings', 'kv'"),
    ],
)
def test_bad_config_files_and_json_stop_the_run_before_it_starts(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    ran = _cli(tmp_path, *args, "run")
    assert ran.returncode == 2
    assert message in ran.stderr
    assert "Traceback" not in ran.stderr
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").rglob("run.json"))


def test_a_missing_key_is_a_lint_error_naming_decorator_step_file_and_line(tmp_path: Path) -> None:
    lacking = {k: v for k, v in DEFAULT.items() if k != "retries"}
    with pytest.raises(LintError) as info:
        flowkit.run(ConfigFlow, store=str(tmp_path), quiet=True, cfg=lacking)
    (problem,) = info.value.problems
    assert problem.message == (
        "@retry(times=config_expr('cfg.retries')) could not be evaluated: "
        "cfg has no key 'retries' (its keys: 'project', 'alpha', 'cpu', 'model')"
    )
    assert problem.step == "start"
    assert problem.file and problem.file.endswith("config_flow.py")
    assert problem.line == ConfigFlow.start.__code__.co_firstlineno
    ran = _cli(tmp_path, "--config-value", "cfg", json.dumps(lacking), "run")
    assert ran.returncode == 1
    assert "config_flow.py:" in ran.stderr and "step 'start': @retry(times=" in ran.stderr


@pytest.mark.parametrize(("retries", "succeeds"), [(1, True), (0, False)])
def test_decorator_arguments_come_from_the_config(
    tmp_path: Path, retries: int, succeeds: bool
) -> None:
    def go() -> flowkit.Run:
        return flowkit.run(
            ConfigRetryFlow, store=str(tmp_path), quiet=True, cfg={"retries": retries}
        )

    if succeeds:
        assert go()["start"].task.data.attempts == 2
    else:
        with pytest.raises(RunFailed, match="the first attempt fails"):
            go()


def test_a_resume_keeps_its_origins_configs_unless_given_new_ones(tmp_path: Path) -> None:
    store = str(tmp_path)
    mine = {**DEFAULT, "alpha": 11}
    with pytest.raises(RunFailed, match="end was told to fail"):
        flowkit.run(ConfigFlow, store=store, quiet=True, cfg=mine, fail_end=True)
    resumed = flowkit.resume(ConfigFlow, store=store, quiet=True, fail_end=False)
    assert resumed["end"].task.data.cfg_seen == mine  # not the default file's
    assert resumed["start"].task.data.alpha_seen == 11
    assert resumed["start"].task.origin_pathspec is not None  # cloned: nothing it read changed
    newer = {**mine, "model": {"lr": 0.9}}
    again = flowkit.resume(ConfigFlow, store=store, quiet=True, cfg=newer, fail_end=False)
    assert again["start"].task.origin_pathspec is None  # it reads cfg, which changed
    assert again["start"].task.data.lr == 0.9
    ran = _cli(tmp_path, "resume", "--fail-end", "false")  # the origin's configs, again
    assert ran.returncode == 0, ran.stderr
    assert _latest(tmp_path)["end"].task.data.cfg_seen == newer


def test_a_changed_config_reruns_under_reuse_only_what_reads_it(tmp_path: Path) -> None:
    store = str(tmp_path)
    flowkit.run(ConfigFlow, store=store, quiet=True)
    same = flowkit.run(ConfigFlow, store=store, quiet=True, reuse=True, dry_run=True)
    assert same.count("run") == 0
    changed = flowkit.run(
        ConfigFlow,
        store=store,
        quiet=True,
        reuse=True,
        dry_run=True,
        settings={"greeting": "hi", "scale": 5},
    )
    actions = {d["step"]: d["action"] for d in changed.decisions}
    assert actions["start"] == "reuse"  # reads cfg and kv, not settings
    assert actions["middle"] == "run"  # reads settings


def test_project_tags_the_run_with_its_project_and_branch(tmp_path: Path) -> None:
    def tags(run_id: str) -> set[str]:
        return set(open_store(str(tmp_path)).records.get_run("ConfigFlow", run_id).system_tags)

    assert _cli(tmp_path, "run").returncode == 0
    mine = f"project_branch:user.{current_user()}"
    assert {"project:demo_proj", mine} <= tags(_latest(tmp_path).id)
    ran = _cli(tmp_path, "--branch", "feature_1", "run")
    assert ran.returncode == 0, ran.stderr
    assert "project_branch:test.feature_1" in tags(_latest(tmp_path).id)
    assert _latest(tmp_path)["start"].task.data.project == (
        "demo_proj",
        "test.feature_1",
        "demo_proj.test.feature_1.ConfigFlow",
    )
    ran = _cli(tmp_path, "--production", "run")
    assert ran.returncode == 0, ran.stderr
    assert "project_branch:prod" in tags(_latest(tmp_path).id)
    run = flowkit.run(
        ConfigFlow, store=str(tmp_path), quiet=True, project_branch="b2", project_production=True
    )
    assert "project_branch:prod.b2" in tags(run.id)
    # the project name came from the config: another config, another project
    other = flowkit.run(
        ConfigFlow, store=str(tmp_path), quiet=True, cfg={**DEFAULT, "project": "p2"}
    )
    assert "project:p2" in tags(other.id)


def test_bad_project_names_are_refused_before_the_run_starts(tmp_path: Path) -> None:
    with pytest.raises(flowkit.FlowDefinitionError, match="lowercase alphanumeric"):
        flowkit.run(ConfigFlow, store=str(tmp_path), quiet=True, cfg={**DEFAULT, "project": "A-b"})
    with pytest.raises(ParameterError, match="The branch name must contain only lowercase"):
        flowkit.run(ConfigFlow, store=str(tmp_path), quiet=True, project_branch="Feature")
    assert next(open_store(str(tmp_path)).records.iter_runs("ConfigFlow"), None) is None
    ran = _cli(tmp_path, "--branch", "Feature", "run")
    assert ran.returncode == 2
    assert "The branch name must contain only lowercase alphanumeric" in ran.stderr


def test_a_required_config_must_be_given_and_a_plain_one_stays_as_it_is(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing configuration for 'need'") as info:
        flowkit.run(ConfigRequiredFlow, store=str(tmp_path), quiet=True)
    assert "--config need FILE or --config-value need JSON" in info.value.hint
    need = {"limits": {"seconds": 5}, "timeout": {"seconds": 30}}
    run = flowkit.run(ConfigRequiredFlow, store=str(tmp_path), quiet=True, need=need)
    assert run["start"].task.data.raw_seen == "just text"  # plain: no JSON, no ConfigValue
    assert run["start"].task.data.limit_seen == 5  # Parameter(default=need.limits.seconds)


def test_check_and_show_see_the_configs_given_before_the_command(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text(json.dumps({**DEFAULT, "retries": 5, "cpu": 3}))
    cli = make_cli(ConfigFlow)
    shown = CliRunner().invoke(cli, ["--config", "cfg", str(tmp_path / "c.json"), "show", "--json"])
    assert shown.exit_code == 0, shown.output
    start = next(s for s in json.loads(shown.output)["steps"] if s["name"] == "start")
    decorators = {d["name"]: d["args"] for d in start["decorators"]}
    assert (decorators["retry"]["times"], decorators["resources"]["cpu"]) == (5, 3)
    helped = CliRunner().invoke(cli, ["run", "--help"])
    assert re.search(r"--alpha VALUE\s+\[default: from config, cfg\.alpha\]", helped.output)
    described = CliRunner().invoke(cli, ["show"])
    assert "--config cfg FILE  (default file 'config_default.json')  the flow's settings" in (
        described.output
    )
    lacking = json.dumps({"project": "p", "alpha": 1, "cpu": 1, "model": {}})
    checked = CliRunner().invoke(cli, ["--config-value", "cfg", lacking, "check"])
    assert checked.exit_code == 1
    assert "@retry(times=config_expr('cfg.retries')) could not be evaluated" in checked.output


def test_configs_from_metaflows_environment_variables(tmp_path: Path) -> None:
    env = {
        "METAFLOW_FLOW_CONFIG_VALUE": json.dumps({"settings": {"greeting": "env", "scale": 1}}),
        "METAFLOW_FLOW_CONFIG": json.dumps({"cfg": str(FLOW_FILE.parent / "config_default.json")}),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        ran = _cli(tmp_path, "run")
    assert ran.returncode == 0, ran.stderr
    assert _latest(tmp_path)["end"].task.data.greeting == "env"


@pytest.mark.usefixtures("third_party")
def test_a_detached_scheduler_uses_the_configs_the_run_was_started_with(tmp_path: Path) -> None:
    # the default (retries=1) would let the run succeed: the driver must use retries=0
    sink = Quiet()
    run = flowkit.run(
        ConfigRetryFlow,
        store=str(tmp_path),
        progress=sink,
        cfg={"retries": 0},
        with_decorators=["thirdparty"],
        detach=True,
    )
    (event,) = sink.events
    pid = int(event.where.split()[-1])
    try:
        records = open_store(str(tmp_path)).records
        deadline = time.monotonic() + 120
        while (end := records.get_run_end("ConfigRetryFlow", run.id)) is None:
            assert time.monotonic() < deadline, "the detached run never ended"
            time.sleep(0.1)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    assert end.status == "failed"
    (task,) = records.list_tasks("ConfigRetryFlow", run.id, "start")
    assert task.attempt == 0  # no retry: the run's config said none
