"""A task cloned by a resume or reused by ``run --reuse`` shows the parameters and configs of
the run it is cloned into, as a task that ran there does; the rest of its record is the
origin's. And a resume picks its origin once: its configs and its tasks come from one run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import flowkit
from flowkit.cli.flow_cli import make_cli
from flowkit.store import open_store
from flowkit.store.fsck import fsck
from tests.flows.run_values import RunValuesFlow
from tests.runtime.test_shapes import Quiet

STEPS = ("start", "prep", "fit", "scale", "end")


def _actions(run: flowkit.Run) -> dict[str, str]:
    return {d["step"]: d["action"] for d in run.explanation}


def _others(task: flowkit.Task) -> dict[str, str]:
    """The digests of a task's artifacts other than the run's parameters and configs."""
    return {
        name: ref.digest
        for name, ref in task.record.artifacts.items()
        if name not in ("alpha", "cfg")
    }


def test_a_resume_with_a_new_parameter_shows_it_in_cloned_tasks(tmp_path: Path) -> None:
    store = str(tmp_path)
    origin = flowkit.run(RunValuesFlow, store=store, progress=Quiet(), alpha=1)
    resumed = flowkit.resume(RunValuesFlow, store=store, progress=Quiet(), alpha=7)
    assert _actions(resumed) == {
        "start": "clone",
        "prep": "clone",
        "fit": "run",  # it reads alpha
        "scale": "run",
        "end": "run",
    }
    assert [resumed[s].task.data.alpha for s in STEPS] == [7] * 5
    assert resumed["fit"].task.data.fitted == 42
    for step in ("start", "prep"):
        clone, was = resumed[step].task, origin[step].task
        assert clone.origin_pathspec == was.pathspec
        assert _others(clone) == _others(was)  # the rest of the record is the origin's
        assert was.data.alpha == 1  # the origin's record is left as it was
    assert fsck(open_store(store)).problems == []


def test_a_clone_that_read_an_old_value_still_runs_again_on_the_next_resume(
    tmp_path: Path,
) -> None:
    """``resume STEP`` clones what comes before STEP even when it read a parameter given a new
    value: the clone shows the new value, and the next resume still sees the old one it ran
    with, so it runs again."""
    store = str(tmp_path)
    flowkit.run(RunValuesFlow, store=store, progress=Quiet(), alpha=1)
    restarted = flowkit.resume(RunValuesFlow, "scale", store=store, progress=Quiet(), alpha=7)
    assert _actions(restarted)["fit"] == "clone"
    assert (restarted["fit"].task.data.alpha, restarted["fit"].task.data.fitted) == (7, 6)
    again = flowkit.resume(RunValuesFlow, store=store, progress=Quiet())
    why = {d["step"]: (d["action"], d["reason"]) for d in again.explanation}
    assert why["fit"] == ("run", "parameter 'alpha' changed (1 -> 7)")
    assert again["fit"].task.data.fitted == 42


def test_a_reuse_run_with_a_new_parameter_shows_it_in_reused_tasks(tmp_path: Path) -> None:
    store = str(tmp_path)
    flowkit.run(RunValuesFlow, store=store, progress=Quiet(), alpha=1)
    again = flowkit.run(RunValuesFlow, store=store, progress=Quiet(), reuse=True, alpha=5)
    assert [_actions(again)[s] for s in STEPS] == ["reuse", "reuse", "run", "run", "run"]
    assert [again[s].task.data.alpha for s in STEPS] == [5] * 5
    assert again["start"].task.origin_pathspec is not None
    assert fsck(open_store(store)).problems == []


def test_a_reuse_run_with_a_new_config_value_shows_it_in_reused_tasks(tmp_path: Path) -> None:
    cli = make_cli(RunValuesFlow)

    def run(*args: str) -> flowkit.Run:
        ran = CliRunner().invoke(cli, [*args, "run", "--store", str(tmp_path), "--reuse"])
        assert ran.exit_code == 0, ran.output
        return flowkit.Flow("RunValuesFlow", store=str(tmp_path)).latest_run

    run()
    again = run("--config-value", "cfg", json.dumps({"scale": 3}))
    assert [_actions(again)[s] for s in STEPS] == ["reuse", "reuse", "reuse", "run", "run"]
    assert [again[s].task.data.cfg for s in STEPS] == [{"scale": 3}] * 5
    assert again["scale"].task.data.scaled == 18
    assert fsck(open_store(str(tmp_path))).problems == []


def test_a_resume_takes_configs_and_tasks_from_the_one_origin_it_picked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that starts while a resume settles its configs does not become its origin."""
    import flowkit.lint.api

    store = str(tmp_path)
    picked = flowkit.run(RunValuesFlow, store=store, progress=Quiet(), cfg={"scale": 4})
    lint = flowkit.lint.api.check
    started: list[str] = []

    def check_while_a_run_starts(flow_cls: type) -> object:
        if not started:  # after the configs were read: a newer run of the flow appears
            started.append(open_store(store).records.create_run("RunValuesFlow").run_id)
        return lint(flow_cls)

    monkeypatch.setattr(flowkit.lint.api, "check", check_while_a_run_starts)
    resumed = flowkit.resume(RunValuesFlow, store=store, progress=Quiet())
    assert started and resumed.origin_run_id == picked.id
    assert set(_actions(resumed).values()) == {"clone"}
    assert resumed["scale"].task.data.scaled == 24
