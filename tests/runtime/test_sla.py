"""``@sla`` and learned SLAs: a task or a run that takes longer than its SLA is alerted on
(``sla_missed``, through the run's alert sinks) while it is still going: each step below
that should be alerted on waits for its alert to arrive before it ends."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import flowkit
from flowkit import FlowSpec, Parameter, sla, step
from flowkit.errors import FlowDefinitionError, LintError
from flowkit.lint.api import check
from flowkit.runtime import sla as sla_module
from flowkit.runtime.events import RunFinished, SlaMissed, TaskEvent
from flowkit.runtime.sla import SlaMonitor, SlaRules
from flowkit.store import open_store
from flowkit.testing.fake_run import FakeTask, write_fake_run
from tests.runtime.test_shapes import Quiet

#: A command sink: writes each alert it is given to a file of its own in ``argv[1]``, whole
#: (written aside, then renamed into place), for a step or the test to read.
_SINK = """
import os, sys, time
body = sys.stdin.read()
name = os.path.join(sys.argv[1], f"{time.time_ns()}-{os.getpid()}")
with open(name + ".tmp", "w") as fh:
    fh.write(body)
os.rename(name + ".tmp", name + ".json")
"""


def alerts_in(folder: str | Path) -> list[dict[str, Any]]:
    files = sorted(Path(folder).glob("*.json"))
    return [json.loads(f.read_text()) for f in files]


def wait_for_alert(folder: str, step: str | None, timeout: float = 60.0) -> dict[str, Any]:
    """The ``sla_missed`` alert for ``step`` (None: for the run), once it is there: a step
    that calls this ends only after its alert arrived, so the alert came while it ran."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for alert in alerts_in(folder):
            if alert["event"] == "sla_missed" and alert["step"] == step:
                return alert
        time.sleep(0.02)
    raise AssertionError(f"no sla_missed alert for {step or 'the run'} in {timeout:g} s")


class StepSlaFlow(FlowSpec):
    alerts = Parameter("alerts", default="")

    @step
    def start(self):
        self.next(self.slow)

    @step
    @sla(seconds=0.5)
    def slow(self):
        self.alert = wait_for_alert(self.alerts, "slow")
        self.next(self.end)

    @step
    def end(self):
        pass


@sla(seconds=0.5)
class WholeRunSlaFlow(FlowSpec):
    alerts = Parameter("alerts", default="")

    @step
    def start(self):
        self.alert = wait_for_alert(self.alerts, None)
        self.next(self.end)

    @step
    def end(self):
        pass


class LearnedFlow(FlowSpec):
    alerts = Parameter("alerts", default="")

    @step
    def start(self):
        self.next(self.slow)

    @step
    def slow(self):
        self.alert = wait_for_alert(self.alerts, "slow")
        self.next(self.end)

    @step
    def end(self):
        pass


class PlainFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


@pytest.fixture
def alerts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder every alert of a run started in this test lands in (one file each)."""
    folder = tmp_path / "alerts"
    folder.mkdir()
    sink = {"kind": "command", "argv": [sys.executable, "-c", _SINK, str(folder)]}
    monkeypatch.setenv("FLOWKIT_ALERTS", json.dumps([sink]))
    return folder


def _index(events: list[object], wanted: type, **fields: Any) -> int:
    return next(
        i
        for i, e in enumerate(events)
        if isinstance(e, wanted) and all(getattr(e, k) == v for k, v in fields.items())
    )


def test_a_step_past_its_sla_is_alerted_on_while_it_runs(tmp_path: Path, alerts: Path) -> None:
    view = Quiet()
    run = flowkit.run(StepSlaFlow, store=str(tmp_path / "store"), progress=view, alerts=str(alerts))
    assert run.successful
    task = run["slow"].task
    seen = task.data.alert  # what the step itself read before it ended
    assert seen["event"] == "sla_missed" and seen["flow"] == "StepSlaFlow"
    assert (seen["step"], seen["task_id"]) == ("slow", task.id)
    assert seen["pathspec"] == task.pathspec and seen["run_id"] == run.id
    assert seen["limit"] == 0.5 and seen["elapsed"] >= 0.5 and seen["learned"] is False
    assert "past its SLA of 0.50s (set with @sla)" in seen["message"]
    # once, and only for the step with an SLA; then the run's own end
    assert [(a["event"], a["step"]) for a in alerts_in(alerts)] == [
        ("sla_missed", "slow"),
        ("run_succeeded", None),
    ]
    # the views heard of it before the task ended, and before the run did
    missed = _index(view.events, SlaMissed, step="slow", task_id=task.id)
    ended = _index(view.events, TaskEvent, step="slow", status="succeeded")
    assert missed < ended < _index(view.events, RunFinished)
    event = view.events[missed]
    assert isinstance(event, SlaMissed) and event.limit == 0.5 and not event.learned
    # and the run's end record says so, for the client and `flowkit show RUN`
    end = run.end_record
    assert end is not None and end.sla_missed == (
        f"task slow/{task.id} ran past its SLA of 0.50s (set with @sla)",
    )


def test_a_run_past_its_flow_sla_is_alerted_on_while_it_runs(tmp_path: Path, alerts: Path) -> None:
    view = Quiet()
    run = flowkit.run(
        WholeRunSlaFlow, store=str(tmp_path / "store"), progress=view, alerts=str(alerts)
    )
    assert run.successful
    seen = run["start"].task.data.alert
    assert (seen["step"], seen["task_id"], seen["pathspec"]) == (
        None,
        None,
        f"WholeRunSlaFlow/{run.id}",
    )
    assert seen["limit"] == 0.5 and seen["elapsed"] >= 0.5 and seen["learned"] is False
    assert [a["event"] for a in alerts_in(alerts)] == ["sla_missed", "run_succeeded"]
    missed = _index(view.events, SlaMissed, step=None)
    assert missed < _index(view.events, TaskEvent, step="start", status="succeeded")
    end = run.end_record
    assert end is not None and end.sla_missed == (
        f"run WholeRunSlaFlow/{run.id} ran past its SLA of 0.50s (set with @sla)",
    )


def _history(store_path: Path, runs: int = 20) -> None:
    """``runs`` past successful runs of LearnedFlow: start and end took 30 s a task, slow
    took no time at all (as long as writing its records did)."""
    store = open_store(str(store_path))
    normal = [FakeTask(seconds=30.0)]
    for _ in range(runs):
        write_fake_run(store, "LearnedFlow", {"start": normal, "slow": [FakeTask()], "end": normal})


def test_a_task_much_slower_than_its_history_is_alerted_on(
    tmp_path: Path, alerts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_path = tmp_path / "store"
    _history(store_path)
    # the floor is a minute; one second keeps the test short (p95 of slow is ~1 ms)
    monkeypatch.setattr(sla_module, "LEARNED_FLOOR", 1.0)
    view = Quiet()
    run = flowkit.run(LearnedFlow, store=str(store_path), progress=view, alerts=str(alerts))
    assert run.successful
    seen = run["slow"].task.data.alert
    assert seen["learned"] is True and 1.0 <= seen["limit"] < 1.1 <= seen["elapsed"] + 0.1
    assert "learned from" in seen["message"]
    by_step = {a["step"]: a for a in alerts_in(alerts) if a["event"] == "sla_missed"}
    # start and end took far less than the 30 s they usually take; the run took longer
    # than the 20 fake runs (a few ms each), by more than the floor
    assert set(by_step) == {"slow", None}
    assert by_step[None]["learned"] is True and by_step[None]["elapsed"] >= 1.0


def test_learned_slas_are_off_with_the_setting_and_need_enough_history(tmp_path: Path) -> None:
    from flowkit.store.records import RunRecord

    store_path = tmp_path / "store"
    _history(store_path, runs=sla_module.LEARNED_MIN_RUNS)
    store, graph = open_store(str(store_path)), check(LearnedFlow)
    now = RunRecord("LearnedFlow", "now", created_at=1000.0)
    seen: list[SlaMissed] = []
    monitor = SlaMonitor.start(graph, SlaRules(learned=True), store, now, None, seen.append)
    assert monitor is not None
    floor = sla_module.LEARNED_FLOOR
    monitor.task_event("start", "t1", "running", 1000.0)
    monitor.check(1000.0 + floor - 0.01)
    assert seen == []
    # the fake runs took a few ms: the run's limit is the floor and a few ms
    monitor.check(1000.0 + floor + 1.0)
    assert [(e.step, e.learned) for e in seen] == [(None, True)]
    # start ran the floor: its step's times are being read, in a thread of their own
    reader = monitor._reader
    assert reader is not None
    reader.join(30)
    assert floor < seen[0].limit < floor + 1.0
    # start took 30 s a task: its limit, learned once it ran the floor, is 30 s + the floor
    monitor.check(1000.0 + 30.0 + floor - 0.01)
    assert len(seen) == 1
    monitor.check(1000.0 + 30.0 + floor)
    assert [(e.step, e.task_id, e.limit, e.learned) for e in seen[1:]] == [
        ("start", "t1", 30.0 + floor, True)
    ]
    # off with the setting; nothing learned from one run fewer than the minimum
    assert SlaMonitor.start(graph, SlaRules(learned=False), store, now, None, print) is None
    fewer = tmp_path / "fewer"
    _history(fewer, runs=sla_module.LEARNED_MIN_RUNS - 1)
    assert SlaMonitor.start(graph, SlaRules(), open_store(str(fewer)), now, None, print) is None


def test_the_setting_reaches_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from flowkit.settings import Settings

    assert Settings.resolve(environ={}).sla_learned is True
    assert Settings.resolve(environ={"FLOWKIT_SLA_LEARNED": "false"}).sla_learned is False
    with pytest.raises(Exception, match="sla_learned must be true or false"):
        Settings.resolve(environ={"FLOWKIT_SLA_LEARNED": "sometimes"})
    assert sla_module.sla_rules(WholeRunSlaFlow, learned=False) == SlaRules(0.5, False)
    assert sla_module.sla_rules(PlainFlow, learned=True) == SlaRules(None, True)


def test_no_sla_and_no_history_no_alert_and_no_monitor(tmp_path: Path, alerts: Path) -> None:
    store_path = tmp_path / "store"
    run = flowkit.run(PlainFlow, store=str(store_path), progress=Quiet())
    assert [a["event"] for a in alerts_in(alerts)] == ["run_succeeded"]
    store = open_store(str(store_path))
    record = store.records.get_run("PlainFlow", run.id)
    # one past run is no history: the scheduler watches nothing and pays nothing per task
    monitor = SlaMonitor.start(check(PlainFlow), SlaRules(), store, record, None, print)
    assert monitor is None


def test_learned_limits_rule() -> None:
    from flowkit.runtime.sla import learned_run_limit, learned_step_limits
    from flowkit.store.durations import PastRun, RunTimes, StepTimes
    from flowkit.store.records import RunEndRecord, RunRecord

    history = [
        RunTimes(str(i), 0.0, None, {"a": StepTimes((10.0, 10.0 + i), 1.0)}) for i in range(20)
    ]
    # nearest rank: the 38th of the 40 task times (21 x 10, then 11..29) is 27
    assert learned_step_limits(history)["a"].seconds == max(27.0 * 1.5, 27.0 + 60.0) == 87.0
    assert learned_step_limits(history[:4]) == {}
    past = [
        PastRun(RunRecord("F", str(i), 0.0), RunEndRecord("F", str(i), "succeeded", 1000.0 + i))
        for i in range(20)
    ]
    # the 19th of the 20 runs' durations (1000..1019) is 1018: 1.5 x it is more than + 60 s
    limit = learned_run_limit(past)
    assert limit is not None and limit.learned and limit.seconds == 1018.0 * 1.5
    assert learned_run_limit(past[:4]) is None
    resumed = [
        PastRun(RunRecord("F", p.record.run_id, 0.0, origin_run_id="0"), p.end) for p in past
    ]
    assert learned_run_limit(resumed) is None  # a resume's clones took no time: no sample


def test_a_monitor_alerts_each_task_and_the_run_once() -> None:
    from flowkit.runtime.sla import Limit
    from flowkit.store.records import RunRecord

    record = RunRecord("F", "1", created_at=100.0)
    seen: list[object] = []
    monitor = SlaMonitor(
        record, "mem://", {"a": Limit(5.0, False)}, Limit(20.0, True), None, seen.append
    )
    monitor.task_event("a", "t1", "running", 101.0)
    monitor.task_event("a", "t2", "running", 101.0)
    monitor.task_event("b", "t3", "running", 101.0)  # no SLA: not watched
    monitor.task_event("a", "t2", "succeeded", 105.0)  # ended in time
    monitor.check(105.9)
    assert seen == []
    monitor.task_event("a", "t1", "retrying", 106.0)
    monitor.task_event("a", "t1", "running", 106.5)  # its next attempt: the clock goes on
    monitor.check(106.0)
    monitor.check(107.0)
    assert [(e.step, e.task_id, e.elapsed) for e in seen] == [("a", "t1", 5.0)]  # type: ignore[attr-defined]
    monitor.task_event("a", "t1", "running", 108.0)
    monitor.check(200.0)
    assert [(e.step, e.task_id, e.elapsed) for e in seen] == [  # type: ignore[attr-defined]
        ("a", "t1", 5.0),
        (None, None, 100.0),
    ]
    monitor.check(300.0)
    assert len(seen) == 2


def test_bad_sla_values_are_reported_at_the_step_and_class() -> None:
    class BadSteps(FlowSpec):
        @sla(minutes=0)
        @step
        def start(self):
            self.next(self.middle)

        @step
        @sla(seconds=-1)
        def middle(self):
            self.next(self.other)

        @sla
        @step
        def other(self):
            self.next(self.end)

        @sla(days=1)
        @step
        def end(self):
            pass

    with pytest.raises(LintError) as raised:
        check(BadSteps)
    problems = {p.step: p for p in raised.value.problems}
    here = Path(__file__).name
    assert problems["start"].message == "@sla(minutes=0) allows no time at all"
    assert (
        problems["middle"].message == "@sla(seconds=-1) is invalid: seconds must be a number >= 0"
    )
    assert problems["other"].message == "@sla needs a duration"
    assert problems["end"].message.startswith("@sla has no argument 'days'")
    for p in problems.values():
        assert p.file is not None and p.file.endswith(here) and p.line
        assert "@sla(minutes=30)" in p.hint
    assert problems["start"].line == BadSteps.start.__code__.co_firstlineno

    @sla(hours=0, minutes=0)
    class BadFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    with pytest.raises(LintError) as raised:
        check(BadFlow)
    (problem,) = raised.value.problems
    assert problem.message == "@sla(hours=0, minutes=0) allows no time at all"
    assert problem.file is not None and problem.file.endswith(here) and problem.step is None

    with pytest.raises(FlowDefinitionError) as wrong:

        @sla(minutes=5)
        class NotAFlow:
            pass

    assert "@sla applies to a step or a flow class, not to class NotAFlow" in str(wrong.value)
    assert wrong.value.file == __file__ and wrong.value.line is not None
    assert os.path.basename(wrong.value.problem.where()).startswith("test_sla.py:")


class MisplacedSlaFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @sla(minutes=5)
    def helper(self):
        pass

    @step
    def end(self):
        pass


def test_an_sla_on_a_method_that_is_no_step_refuses_the_run(tmp_path: Path) -> None:
    with pytest.raises(FlowDefinitionError) as wrong:
        flowkit.run(MisplacedSlaFlow, store=str(tmp_path), progress=Quiet())
    assert wrong.value.message == "@sla is on MisplacedSlaFlow.helper, which is not a step"
    assert "add @step to helper" in wrong.value.hint
    assert wrong.value.file == __file__
    assert wrong.value.line == MisplacedSlaFlow.helper.__code__.co_firstlineno
    assert open_store(str(tmp_path)).records.list_runs("MisplacedSlaFlow") == []  # nothing ran


def test_the_terminal_and_the_notebook_say_so_even_when_quiet() -> None:
    import io

    from flowkit.runtime.events import RunStarted
    from flowkit.surfaces.terminal import TerminalView
    from tests.conftest import require
    from tests.surfaces.events import STEPS

    started = RunStarted("TrainFlow", "r1", "/tmp/store", STEPS, 0.0)
    missed = SlaMissed("TrainFlow", "r1", "train", "t7", 1800.0, 1801.5, False, 1.0)
    whole = SlaMissed("TrainFlow", "r1", None, None, 5400.0, 5400.2, True, 2.0)
    out = io.StringIO()
    view = TerminalView(out, quiet=True, live=False, refresh_interval=None)
    for event in (started, missed, whole):
        view.handle(event)
    view.close()
    assert out.getvalue().splitlines() == [
        "▸ task train/t7 has run 30m01s, past its SLA of 30m00s (set with @sla); it goes on",
        "▸ run TrainFlow/r1 has run 1h30m, past its SLA of 1h30m (learned from the flow's "
        "recent runs); it goes on",
    ]
    require("ipywidgets")
    from flowkit.surfaces.notebook import NotebookView

    widget = NotebookView(quiet=True, display=lambda widget: None)
    for event in (started, missed):
        widget.handle(event)
    widget.close()
    assert "[sla] task train/t7 has run 30m01s, past its SLA of 30m00s" in widget.widget.value


class _Sent:
    """An alert sender that keeps what it is given (the scheduler's sends it on a thread)."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def __bool__(self) -> bool:
        return True

    def emit(self, event: Any) -> None:
        self.events.append(event)


def test_a_step_is_alerted_on_once_then_with_how_many_missed_at_the_run_s_end(
    tmp_path: Path,
) -> None:
    from flowkit.runtime.sla import Limit
    from flowkit.store.records import RunRecord

    store = open_store(str(tmp_path))
    record = RunRecord("F", "1", created_at=100.0)
    views: list[Any] = []
    sent = _Sent()
    limits = {"fan": Limit(5.0, False), "one": Limit(5.0, True)}
    run_limit = Limit(20.0, True)
    monitor = SlaMonitor(record, store, limits, run_limit, sent, views.append)  # type: ignore[arg-type]
    for task in ("t1", "t2", "t3", "t4"):
        monitor.task_event("fan", task, "running", 101.0)
    monitor.task_event("one", "t9", "running", 101.0)
    monitor.check(107.0)
    # the views and the alerts: each step's first miss alone
    assert [(e.step, e.task_id) for e in views] == [("fan", "t1"), ("one", "t9")]
    assert [(a.step, a.task_id, a.tasks_missed) for a in sent.events] == [
        ("fan", "t1", None),
        ("one", "t9", None),
    ]
    monitor.check(200.0)  # the run, too (20 s)
    assert sent.events[-1].step is None and len(sent.events) == 3
    # with the run's end, a count for the step that missed more than once; what missed,
    # for the run's end record
    assert monitor.finish(210.0) == (
        "run F/1 ran past its SLA of 20.0s (learned from the flow's recent runs)",
        "4 tasks of step fan ran past their SLA of 5.00s (set with @sla)",
        "task one/t9 ran past its SLA of 5.00s (learned from the flow's recent runs)",
    )
    summary = sent.events[-1]
    assert len(sent.events) == 4 and summary.event == "sla_missed"
    assert (summary.step, summary.task_id, summary.tasks_missed) == ("fan", None, 4)
    assert summary.pathspec == "F/1/fan" and summary.limit == 5.0 and summary.learned is False
    assert summary.message == (
        "4 tasks of step fan passed their SLA of 5.00s (set with @sla), the first fan/t1 "
        "(alerted on then)"
    )
    assert monitor.finish(211.0) == () and len(sent.events) == 4  # once


class FanOutSlaFlow(FlowSpec):
    alerts = Parameter("alerts", default="")

    @step
    def start(self):
        self.items = [0, 1, 2, 3]
        self.next(self.slow, foreach="items")

    @step
    @sla(seconds=0.3)
    def slow(self):
        self.alert = wait_for_alert(self.alerts, "slow")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_a_fan_out_past_its_sla_is_one_alert_then_a_count(tmp_path: Path, alerts: Path) -> None:
    view = Quiet()
    run = flowkit.run(
        FanOutSlaFlow, store=str(tmp_path / "store"), progress=view, alerts=str(alerts)
    )
    assert run.successful
    (missed,) = [e for e in view.events if isinstance(e, SlaMissed)]  # one line, not one a task
    assert missed.step == "slow"
    sent = [
        (a["event"], a["step"], a["task_id"] is None, a["tasks_missed"]) for a in alerts_in(alerts)
    ]
    # how many tasks missed depends on how soon each saw the first alert: the end record says
    end = run.end_record
    assert end is not None
    (line,) = end.sla_missed
    many = re.fullmatch(
        r"([234]) tasks of step slow ran past their SLA of 0.30s \(set with @sla\)", line
    )
    if many is None:
        assert line == f"task slow/{missed.task_id} ran past its SLA of 0.30s (set with @sla)"
    # the first miss while it ran (the tasks waited for it), a count if more tasks missed,
    # then the run's end: in order, every one sent before the run returned
    count = [("sla_missed", "slow", True, int(many[1]))] if many else []
    assert sent == [
        ("sla_missed", "slow", False, None),
        *count,
        ("run_succeeded", None, True, None),
    ]


def test_a_retried_task_s_time_counts_from_its_first_attempt(tmp_path: Path) -> None:
    """What a step's SLA is learned from is measured as a live task is: a task whose first
    attempt failed 30 s before its second took 1 s took 31 s."""
    from flowkit.store.durations import run_times, successful_runs

    store = open_store(str(tmp_path))
    run = store.records.create_run("RetriedFlow", steps=["start"])
    task_id = store.records.new_task_id()
    first = store.records.start_task("RetriedFlow", run.run_id, "start", task_id, attempt=0)
    store.records.finish_task(first.finished("failed", exit_code=1))
    second = store.records.start_task("RetriedFlow", run.run_id, "start", task_id, attempt=1)
    began = first.started_at + 30.0
    store.records.finish_task(
        second.finished("succeeded", exit_code=0, started_at=began, finished_at=began + 1.0)
    )
    once = write_fake_run(store, "RetriedFlow", {"start": [FakeTask(seconds=2.0)]})
    store.records.end_run("RetriedFlow", run.run_id, "succeeded")
    times = {p.record.run_id: run_times(store, p) for p in successful_runs(store, "RetriedFlow")}
    assert times[run.run_id].steps["start"].tasks == (31.0,)
    assert times[run.run_id].steps["start"].wall == 31.0
    assert times[once.run_id].steps["start"].tasks == (2.0,)  # never retried: its one attempt


def test_the_runtime_reads_past_runs_from_the_store_not_the_client() -> None:
    """The history SLAs are learned from is read at store level (flowkit.store.durations);
    of the client, runtime.sla uses only how a duration is worded."""
    import ast

    tree = ast.parse(Path(sla_module.__file__).read_text())
    from_client = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("flowkit.client")
        for alias in node.names
    }
    assert from_client == {"format_duration"}
