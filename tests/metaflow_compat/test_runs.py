"""Runs from the command line and from Python as a Metaflow 2.19 user starts them:
``run --run-id-file`` / ``--tag``, ``resume --origin-run-id`` / ``--run-id``,
``python flow.py dump|logs RUN/STEP[/TASK]``, ``Runner(flow_file).run(...)`` and
``NBRunner(FlowClass).nbrun(...)``."""

from __future__ import annotations

import asyncio
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest

from flowkit import FlowkitError, NBRunner, Run, Runner
from flowkit.store import open_store
from tests.conftest import ROOT
from tests.metaflow_compat.flows.runs_hello import RunsHelloFlow
from tests.metaflow_compat.flows.runs_project import RunsProjectFlow

FLOW_FILE = Path(__file__).parent / "flows" / "runs_hello.py"
PROJECT_FILE = FLOW_FILE.with_name("runs_project.py")

pytestmark = pytest.mark.slow


def _env(store: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "FLOWKIT_STORE": str(store)}


def _cli(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, FLOW_FILE.name, *args],
        cwd=FLOW_FILE.parent,
        env=_env(store),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A store holding one successful run (alpha=3), and that run's id."""
    store = tmp_path_factory.mktemp("store")
    id_file = tmp_path_factory.mktemp("ids") / "run_id"
    ran = _cli(store, "run", "--alpha", "3", "--run-id-file", str(id_file))
    assert ran.returncode == 0, ran.stderr
    return store, id_file.read_text()


def test_run_id_file_holds_the_run_id_and_tag_and_tags_both_tag(tmp_path: Path) -> None:
    id_file = tmp_path / "id"
    ran = _cli(tmp_path, "run", "--run-id-file", str(id_file), "--tag", "a", "--tags", "b")
    assert ran.returncode == 0, ran.stderr
    run_id = id_file.read_text()
    assert re.fullmatch(r"[0-9a-z]{26}", run_id)  # the id alone, no newline, as Metaflow's
    run = Run(f"RunsHelloFlow/{run_id}", store=str(tmp_path))
    assert run.successful and {"a", "b"} <= set(run.tags)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".id")] == []  # no temp left


def test_resume_with_origin_and_run_id_and_a_taken_run_id_refused(
    tmp_path: Path, done: tuple[Path, str]
) -> None:
    store, origin = done
    id_file = tmp_path / "resumed"
    args = ["resume", "join", "--origin-run-id", origin, "--run-id", "nightly-1"]
    ran = _cli(store, *args, "--run-id-file", str(id_file), "--tag", "again")
    assert ran.returncode == 0, ran.stderr
    assert id_file.read_text() == "nightly-1"
    resumed = Run("RunsHelloFlow/nightly-1", store=str(store))
    assert resumed.origin_run_id == origin and "again" in resumed.tags
    assert resumed["end"].task.data.total == 14  # 1 + 4 + 9, the squares cloned
    again = _cli(store, *args)
    assert again.returncode == 1
    assert "error: run RunsHelloFlow/nightly-1 already exists in the store" in again.stderr
    assert "hint: give a new --run-id" in again.stderr and "Traceback" not in again.stderr


def test_run_takes_no_run_id_as_metaflow(tmp_path: Path) -> None:
    ran = _cli(tmp_path, "run", "--run-id", "mine")
    assert ran.returncode == 2
    assert "No such option '--run-id'" in ran.stderr
    assert open_store(str(tmp_path)).records.list_flows() == []


def test_a_run_id_file_in_a_missing_folder_is_refused_before_the_run(tmp_path: Path) -> None:
    store = tmp_path / "store"
    ran = _cli(store, "run", "--run-id-file", str(tmp_path / "no" / "such" / "id"))
    assert ran.returncode == 1
    assert f"the folder {tmp_path / 'no' / 'such'} does not exist" in ran.stderr
    assert "hint: create it first" in ran.stderr
    assert open_store(str(store)).records.list_flows() == []  # no run was created


def test_dump_prints_each_task_artifacts_as_metaflow(done: tuple[Path, str]) -> None:
    store, run_id = done
    dumped = _cli(store, "dump", f"{run_id}/start")
    assert dumped.returncode == 0, dumped.stderr
    task_id = Run(f"RunsHelloFlow/{run_id}", store=str(store))["start"].task.id
    assert dumped.stderr == f"Dumping output of run_id={run_id} step=start task_id={task_id}\n"
    lines = dumped.stdout.splitlines()
    assert [line.split(" ")[0] for line in lines] == sorted(
        ["alpha", "big", "doubled", "fail_in", "items", "sleep"]
    )
    assert re.fullmatch(r"alpha \[size: \d+ type: <class 'int'>\] = 3", lines[0])
    assert re.fullmatch(r"big \[size: \d+ type: <class 'str'>\] = < artifact too large >", lines[1])
    assert lines[4].endswith("type: <class 'list'>] = [1, 2, 3]")
    assert re.fullmatch(r"sleep \[size: \d+ type: <class 'float'>\] = 0.0", lines[5])
    only = _cli(store, "dump", f"{run_id}/square", "--include", "value", "--max-value-size", "0")
    assert only.returncode == 0, only.stderr
    assert only.stdout.count("value [size: ") == 3 and only.stderr.count("Dumping output") == 3
    assert set(re.findall(r"= (.*)", only.stdout)) == {"< artifact too large >"}


def test_dump_to_a_file_pickles_every_value(tmp_path: Path, done: tuple[Path, str]) -> None:
    store, run_id = done
    out = tmp_path / "artifacts.pkl"
    dumped = _cli(store, "dump", f"{run_id}/start", "--file", str(out))
    assert dumped.returncode == 0, dumped.stderr
    assert dumped.stdout == "" and f"Artifacts written to {out}" in dumped.stderr
    ((key, values),) = pickle.loads(out.read_bytes()).items()
    assert key.startswith(f"{run_id}/start/")  # RUN/STEP/TASK, as Metaflow keys it
    assert values["big"] == "x" * 5000 and values["doubled"] == 6


def test_logs_of_a_step_and_of_one_stream(done: tuple[Path, str]) -> None:
    store, run_id = done
    logs = _cli(store, "logs", f"{run_id}/start")
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout == "hello 3\nto stderr\n"  # both streams' lines, on stdout, as Metaflow
    assert re.fullmatch(
        rf"Dumping logs of run_id={run_id} step=start task_id=\w+\nstdout\nstderr\n", logs.stderr
    )
    squares = _cli(store, "logs", f"{run_id}/square", "--stdout", "--timestamps")
    assert squares.returncode == 0, squares.stderr
    lines = squares.stdout.splitlines()
    assert sorted(line.split(" ", 2)[2] for line in lines) == [
        "square 1 attempt 0",
        "square 4 attempt 0",
        "square 9 attempt 0",
    ]
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} ", line) for line in lines)
    assert squares.stderr.count("Dumping logs") == 3 and "stderr" not in squares.stderr
    err_only = _cli(store, "logs", f"{run_id}/start", "--stderr")
    assert err_only.stdout == "to stderr\n"


def test_logs_of_an_earlier_attempt(tmp_path: Path) -> None:
    id_file = tmp_path / "id"
    args = ["run", "--fail-in", "first-try", "--with", "retry:times=1,backoff=0"]
    ran = _cli(tmp_path, *args, "--run-id-file", str(id_file))
    assert ran.returncode == 0, ran.stderr
    run_id = id_file.read_text()
    first = _cli(tmp_path, "logs", f"{run_id}/square", "--stdout", "--attempt", "0")
    assert sorted(first.stdout.splitlines()) == [f"square {n} attempt 0" for n in (1, 4, 9)]
    latest = _cli(tmp_path, "logs", f"{run_id}/square", "--stdout")
    assert sorted(latest.stdout.splitlines()) == [f"square {n} attempt 1" for n in (1, 4, 9)]
    missing = _cli(tmp_path, "logs", f"{run_id}/square", "--attempt", "5")
    assert missing.returncode == 1 and "has no attempt 5" in missing.stderr


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("{run}", "is not a step or a task of RunsHelloFlow: give <run_id>/<step_name>"),
        ("nope/start", "run RunsHelloFlow/nope is not in the store"),
        ("{run}/nope", "has no step 'nope'"),
        ("{run}/start/nope", "task RunsHelloFlow/{run}/start/nope is not in the store"),
    ],
)
def test_a_pathspec_that_does_not_exist_is_named(
    done: tuple[Path, str], path: str, message: str
) -> None:
    store, run_id = done
    for command in ("dump", "logs"):
        result = _cli(store, command, path.format(run=run_id))
        assert result.returncode == 1
        assert result.stderr.startswith("error: ")
        assert message.format(run=run_id) in result.stderr and "\n    hint: " in result.stderr


def test_runner_runs_and_resumes_a_flow_file(tmp_path: Path) -> None:
    env = {"FLOWKIT_STORE": str(tmp_path), "PYTHONPATH": str(ROOT)}
    with Runner(str(FLOW_FILE), show_output=False, env=env, decospecs=["retry"]) as runner:
        result = runner.run(alpha=2, tags=["from-runner"])
        assert (result.status, result.returncode) == ("successful", 0)
        assert result.run.successful and result.run["end"].task.data.total == 14
        assert result.run["start"].task.data.doubled == 4 and "from-runner" in result.run.tags
        assert "hello 2" in result.stderr  # the task's output, as the command echoed it
        failed = runner.run(fail_in="square")
        assert (failed.status, failed.returncode) == ("failed", 1)
        assert failed.run.status == "failed"
        assert "square was told to fail" in failed.stderr
        resumed = runner.resume(origin_run_id=failed.run.id, fail_in="")
        assert resumed.status == "successful"
        assert resumed.run.origin_run_id == failed.run.id
        assert resumed.run["join"].task.data.total == 14
        folders = list(runner._folders)
    assert folders and not any(Path(f).exists() for f in folders)  # cleanup() on exit


def test_runner_and_dump_reach_a_run_of_another_user(tmp_path: Path) -> None:
    env = {"FLOWKIT_STORE": str(tmp_path), "PYTHONPATH": str(ROOT), "FLOWKIT_USER": "someone"}
    result = Runner(str(FLOW_FILE), show_output=False, env=env).run(alpha=6)
    assert result.status == "successful" and "user:someone" in result.run.tags
    assert result.run["start"].task.data.doubled == 12  # outside this user's namespace
    dumped = _cli(tmp_path, "dump", f"{result.run.id}/start", "--include", "doubled")
    assert dumped.returncode == 0, dumped.stderr
    assert re.fullmatch(r"doubled \[size: \d+ type: <class 'int'>\] = 12\n", dumped.stdout)


def test_runner_refuses_what_it_cannot_run(tmp_path: Path) -> None:
    with pytest.raises(FlowkitError, match=r"Runner\(...\) has no option metadata='service'"):
        Runner(str(FLOW_FILE), metadata="service")
    with pytest.raises(FlowkitError, match="flowkit has no Metaflow profiles"):
        Runner(str(FLOW_FILE), profile="dev")
    env = {"FLOWKIT_STORE": str(tmp_path), "PYTHONPATH": str(ROOT)}
    runner = Runner(str(FLOW_FILE), show_output=False, env=env)
    with pytest.raises(RuntimeError, match="No such option '--nope'") as info:
        runner.run(nope=1)
    assert "exited with status 2 before its run started" in str(info.value)
    with pytest.raises(FlowkitError, match=r"run\(\) takes no option origin_run_id"):
        runner.run(origin_run_id="x")


def test_runner_async_run_returns_while_the_run_goes(tmp_path: Path) -> None:
    env = {"FLOWKIT_STORE": str(tmp_path), "PYTHONPATH": str(ROOT)}

    async def go() -> tuple[str, str, list[str]]:
        async with Runner(str(FLOW_FILE), env=env) as runner:
            executing = await runner.async_run(alpha=5)
            first = executing.status
            lines = [line async for _, line in executing.stream_log("stderr")]
            await executing.wait()
            return first, executing.status, lines

    first, final, lines = asyncio.run(go())
    assert first == "running" and final == "successful"
    assert any(line.endswith("hello 5") for line in lines)


def test_runner_wait_prints_the_stream_it_is_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"FLOWKIT_STORE": str(tmp_path), "PYTHONPATH": str(ROOT)}

    async def go() -> str:
        with Runner(str(FLOW_FILE), env=env) as runner:
            executing = await runner.async_run(alpha=8)
            await executing.wait(stream="stderr")
            return executing.status

    assert asyncio.run(go()) == "successful"
    printed = capsys.readouterr().out.splitlines()
    assert any(line.endswith("hello 8") for line in printed)
    assert any("RunsHelloFlow/" in line and "succeeded" in line for line in printed)


def test_runner_wait_past_its_timeout_kills_the_run(tmp_path: Path) -> None:
    env = {"FLOWKIT_STORE": str(tmp_path), "PYTHONPATH": str(ROOT)}

    async def go() -> tuple[str, int | None, str]:
        with Runner(str(FLOW_FILE), env=env) as runner:
            executing = await runner.async_run(sleep=60)
            await executing.wait(timeout=1)
            return executing.status, executing.returncode, executing.run.status

    status, code, run_status = asyncio.run(go())
    assert status == "timeout" and code == 130  # SIGTERM: the command cancels the run
    assert run_status == "cancelled"


def test_runner_opens_the_store_its_run_used_in_cwd(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[tool.flowkit]\nstore = "kept-here"\n')
    env = {k: v for k, v in os.environ.items() if k != "FLOWKIT_STORE"}
    env["PYTHONPATH"] = str(ROOT)
    result = Runner(str(FLOW_FILE), show_output=False, env=env, cwd=str(project)).run(alpha=7)
    assert result.status == "successful", result.stderr
    assert (project / "kept-here").is_dir()  # the run's store, resolved in cwd
    assert result.run["start"].task.data.doubled == 14  # and the Run reads it from there


def test_nbrunner_runs_the_class_in_this_process(tmp_path: Path) -> None:
    runner = NBRunner(RunsHelloFlow, show_output=False, store=str(tmp_path), tags="nb")
    run = runner.nbrun(alpha=4)
    assert isinstance(run, Run) and run.successful and run["start"].task.data.doubled == 8
    assert "nb" in run.tags
    result = runner.run(fail_in="square")
    assert (result.status, result.returncode) == ("failed", 1)
    assert result.run.status == "failed" and "square was told to fail" in result.stderr
    resumed = runner.nbresume(origin_run_id=result.run.id, fail_in="")
    assert resumed.successful and resumed.origin_run_id == result.run.id
    with pytest.raises(FlowkitError, match="NBRunner takes a flow class"):
        NBRunner(RunsHelloFlow())  # type: ignore[arg-type]


def test_runner_gives_metaflow_top_level_options_before_the_command(tmp_path: Path) -> None:
    env = {"FLOWKIT_STORE": str(tmp_path), "PYTHONPATH": str(ROOT)}
    runner = Runner(
        str(PROJECT_FILE),
        show_output=False,
        env=env,
        branch="feat",
        config_value=[("cfg", {"greeting": "hello"})],
    )
    result = runner.run(branch="dev", production=True)  # the flow's own parameters
    assert result.status == "successful", result.stderr
    assert "project_branch:test.feat" in result.run.tags
    assert result.run["start"].task.data.seen == {
        "branch": "dev",
        "production": True,
        "project_branch": "test.feat",
        "greeting": "hello",
    }
    config = tmp_path / "cfg.json"
    config.write_text('{"greeting": "from a file"}')
    prod = Runner(
        str(PROJECT_FILE),
        show_output=False,
        env=env,
        production=True,
        config=[("cfg", str(config))],
    )
    result = prod.run()
    assert result.status == "successful", result.stderr
    assert "project_branch:prod" in result.run.tags
    assert result.run["start"].task.data.seen["greeting"] == "from a file"


def test_nbrunner_gives_the_project_branch_and_configs_to_flowkit_run(tmp_path: Path) -> None:
    runner = NBRunner(
        RunsProjectFlow,
        show_output=False,
        store=str(tmp_path),
        branch="feat",
        production=True,
        config_value=[("cfg", {"greeting": "nb"})],
    )
    run = runner.nbrun(branch="dev")
    assert "project_branch:prod.feat" in run.tags
    assert run["start"].task.data.seen == {
        "branch": "dev",
        "production": False,
        "project_branch": "prod.feat",
        "greeting": "nb",
    }
