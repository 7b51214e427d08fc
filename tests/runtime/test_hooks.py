"""Run hooks: told of a run's start, its tasks' ends and its end, never failing the run; enabled
by --with, a flow class's decorator or the hooks setting, later ones' arguments winning."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import flowkit
from flowkit.errors import FlowkitError
from flowkit.runtime.events import RunFinished, TaskEvent
from flowkit.runtime.hooks import HOOKS_ATTR, RunHooks, enabled_hooks, split_with
from flowkit.settings import Settings
from flowkit.store import RunRecord, Store, open_store
from tests.flows.foreach import ForeachFlow
from tests.runtime.test_shapes import Quiet


class Recorder:
    """A hook that keeps what it is told (and raises on task ends when asked to)."""

    def __init__(self, store: Store, run: RunRecord, *, fail: bool = False) -> None:
        self.run = run
        self.fail = fail
        self.events: list[Any] = []
        self.closed = False

    def handle(self, event: Any) -> None:
        self.events.append(event)
        if self.fail and isinstance(event, TaskEvent):
            raise ConnectionError("tracker down")

    def close(self) -> None:
        self.closed = True


def _replayed(tmp_path: Path, **args: Any) -> tuple[RunHooks, Quiet]:
    """A real run's events, as its view saw them, told to a Recorder through RunHooks."""
    view = Quiet()
    run = flowkit.run(ForeachFlow, store=str(tmp_path), progress=view, n=3)
    store = open_store(str(tmp_path))
    hooks = RunHooks(
        {"rec": Recorder}, {"rec": args}, store, store.records.get_run(*run.pathspec.split("/"))
    )
    for event in view.events:
        hooks.tee(Quiet()).handle(event)  # type: ignore[arg-type]
    hooks.close()
    return hooks, view


def test_a_hook_is_told_of_the_start_each_task_end_and_the_end(tmp_path: Path) -> None:
    hooks, view = _replayed(tmp_path)
    recorder = hooks._hooks[0][1]
    kinds = [
        (type(e).__name__, getattr(e, "step", None), getattr(e, "status", None))
        for e in recorder.events
    ]
    assert kinds[0] == ("RunStarted", None, None)
    assert kinds[-1] == ("RunFinished", None, "succeeded")
    ends = sorted(k[1] for k in kinds[1:-1])
    assert ends == ["end", "join", "square", "square", "square", "start"]
    assert all(k[2] == "succeeded" for k in kinds[1:-1])
    # the view saw more (each task running): the hook only each task's last word
    assert len(view.events) > len(recorder.events)
    assert recorder.closed and hooks.failures == []


def test_a_hook_that_raises_is_shown_once_and_never_fails_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hooks, _ = _replayed(tmp_path, fail=True)
    assert len(hooks.failures) == 6  # every task end, kept
    assert all("ConnectionError: tracker down" in f for f in hooks.failures)
    shown = [line for line in capsys.readouterr().err.splitlines() if "run hook" in line]
    assert shown == [hooks.failures[0]]  # said once, not once per task
    assert "the run hook 'rec' failed on TaskEvent of ForeachFlow/" in shown[0]
    recorder = hooks._hooks[0][1]
    assert isinstance(recorder.events[-1], RunFinished)


def test_a_hook_given_arguments_it_does_not_take_is_the_users_to_fix(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    run = store.records.create_run("F", parameters={}, steps=["start", "end"])
    with pytest.raises(
        FlowkitError, match=r"the run hook 'rec' does not take the arguments \{'colour': 'red'\}"
    ):
        RunHooks({"rec": Recorder}, {"rec": {"colour": "red"}}, store, run)


def test_hooks_are_enabled_by_setting_then_class_then_with() -> None:
    class Flow:
        pass

    setattr(Flow, HOOKS_ATTR, {"mlflow": {"experiment": "class", "values": True}})
    setting = {"mlflow": {"experiment": "setting", "tracking_uri": "sqlite:///x.db"}, "other": {}}
    given = {"mlflow": {"experiment": "with"}}
    assert enabled_hooks(Flow, setting, given) == {
        "mlflow": {"experiment": "with", "tracking_uri": "sqlite:///x.db", "values": True},
        "other": {},
    }
    assert enabled_hooks(object, {}, {}) == {}


def test_with_items_that_name_no_hook_stay_decorators_and_executors() -> None:
    items = ["retry:times=2", "catch", "local", "no_such_thing:a=1"]
    assert split_with(items) == (items, {})


def test_the_hooks_setting_is_a_table_of_tables(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.flowkit.hooks]\nmlflow = {experiment = "x"}\n')
    assert Settings.resolve(environ={}, cwd=tmp_path).hooks == {"mlflow": {"experiment": "x"}}
    env = {"FLOWKIT_HOOKS": '{"mlflow": {"values": true}}'}
    assert Settings.resolve(environ=env, cwd=tmp_path).hooks == {"mlflow": {"values": True}}
    with pytest.raises(FlowkitError, match="setting hooks must be a table of tables") as info:
        Settings.resolve(environ={"FLOWKIT_HOOKS": '["mlflow"]'}, cwd=tmp_path)
    assert "from FLOWKIT_HOOKS" in info.value.render()
    with pytest.raises(FlowkitError, match="setting hooks is not valid JSON"):
        Settings.resolve(environ={"FLOWKIT_HOOKS": "{mlflow"}, cwd=tmp_path)


class Checked(Recorder):
    """A hook whose factory checks its arguments' values before the run is made."""

    @staticmethod
    def check(fail: bool = False) -> None:
        if not isinstance(fail, bool):
            raise AttributeError(f"{fail!r} has no truth here")


class HookArgsFlow(flowkit.FlowSpec):
    """Keeps what its step is told of the run's hooks."""

    @flowkit.step
    def start(self) -> None:
        from flowkit.runtime.hooks import task_arguments

        self.mine = task_arguments("rec")
        self.other = task_arguments("nope")
        self.next(self.end)

    @flowkit.step
    def end(self) -> None:
        pass


@pytest.fixture
def rec_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    import flowkit.executor.registry  # binds the real load_plugin at its import
    import flowkit.plugins

    # only the hooks' lookup (flowkit.plugins.load_plugin, read at each call) sees this: a
    # module first imported while it is patched would keep the fake for the worker's life
    monkeypatch.setattr(flowkit.plugins, "load_plugin", lambda group, name, kind: Checked)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        ('{"colour": "red"}', r"got an unexpected keyword argument 'colour'.*it takes: fail"),
        ('{"fail": "no"}', r"AttributeError: 'no' has no truth here.*it takes: fail"),
    ],
)
def test_a_hook_is_checked_before_the_run_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rec_installed: None, args: str, said: str
) -> None:
    monkeypatch.setenv("FLOWKIT_HOOKS", f'{{"rec": {args}}}')
    with pytest.raises(FlowkitError, match=r"the run hook 'rec' does not take the arguments") as e:
        flowkit.run(HookArgsFlow, store=str(tmp_path), progress=Quiet())
    assert re.search(said, e.value.render(), re.S)
    assert open_store(str(tmp_path)).records.list_flows() == []  # no run was made


def test_a_step_reads_the_arguments_its_run_enabled_a_hook_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rec_installed: None
) -> None:
    monkeypatch.setenv("FLOWKIT_HOOKS", '{"rec": {"fail": false}}')
    run = flowkit.run(HookArgsFlow, store=str(tmp_path), progress=Quiet())
    assert run["start"].task.data.mine == {"fail": False}
    assert run["start"].task.data.other is None
