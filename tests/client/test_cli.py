"""``flowkit runs / show / logs`` in-process, through click's runner."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from flowkit.cli.main import cli as flowkit_cli

from .conftest import Runs


@pytest.fixture
def cli() -> click.Group:
    return flowkit_cli


def _invoke(cli: click.Group, runs: Runs, *args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "--store", runs.store.url], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_runs_lists_newest_first(cli: click.Group, runs: Runs) -> None:
    lines = _invoke(cli, runs, "runs", "TrainFlow").splitlines()
    assert lines[0].split() == ["RUN", "STATUS", "STARTED", "FINISHED", "TAGS"]
    assert [line.split()[:2] for line in lines[1:]] == [
        [runs.running.run_id, "running"],
        [runs.failed.run_id, "failed"],
        [runs.good.run_id, "succeeded"],
    ]
    assert lines[3].endswith("nightly")


def test_show_run_step_and_task(cli: click.Group, runs: Runs) -> None:
    run_out = _invoke(cli, runs, "show", f"TrainFlow/{runs.good.run_id}")
    assert run_out.startswith(f"run TrainFlow/{runs.good.run_id}: succeeded")
    assert "alpha = 0.5" in run_out
    assert ["train", "2", "2", "0", "0", "0"] in [line.split() for line in run_out.splitlines()]

    step_out = _invoke(cli, runs, "show", f"TrainFlow/{runs.good.run_id}/train")
    assert step_out.startswith(f"step TrainFlow/{runs.good.run_id}/train: 2 task(s)")

    task = next(iter(runs.store.records.list_tasks("TrainFlow", runs.good.run_id, "train")))
    task_out = _invoke(cli, runs, "show", task.pathspec)
    rows = {line.split()[0]: line.split() for line in task_out.splitlines() if line}
    assert rows["model"][1] == "dict"
    assert rows["weights"][1:4] == ["numpy.ndarray", *f"{task.artifacts['weights'].size} B".split()]


def test_logs_prints_both_streams(cli: click.Group, runs: Runs) -> None:
    result = CliRunner().invoke(
        cli, ["logs", f"TrainFlow/{runs.good.run_id}/end", "--store", runs.store.url]
    )
    assert result.exit_code == 0
    assert result.stdout == "best is 1.0\n"
    assert result.stderr == "warning: tiny grid\n"
    only_err = _invoke(cli, runs, "logs", f"TrainFlow/{runs.good.run_id}/end", "--stream", "stderr")
    assert only_err == "warning: tiny grid\n"
    followed = _invoke(cli, runs, "logs", f"TrainFlow/{runs.good.run_id}/start", "--follow", "-t")
    assert followed.endswith(" loading\n") and followed[:2] == "20"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["runs", "Nope"], "flow Nope has no runs in the store at"),
        (["show", "TrainFlow/../etc"], "bad pathspec 'TrainFlow/../etc'"),
        (["show", "TrainFlow/missing"], "run TrainFlow/missing is not in the store"),
        (["logs", "TrainFlow"], "'TrainFlow' names a flow, not a task"),
    ],
)
def test_user_mistakes_are_flowkit_errors(
    cli: click.Group, runs: Runs, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(cli, [*args, "--store", runs.store.url])
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and message in result.output
    assert "\n    hint: " in result.output and "Traceback" not in result.output
