"""@schedule, @trigger_on_finish and @trigger: Metaflow's forms accepted, read as plain data,
and written wrongly refused at the class's file and line with what to write instead."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from pathlib import Path

import pytest

import flowkit
from flowkit import (
    Config,
    FlowSpec,
    Parameter,
    config_expr,
    schedule,
    step,
    trigger,
    trigger_on_finish,
)
from flowkit.authoring.configure import configure
from flowkit.authoring.scheduling import (
    EventTrigger,
    Schedule,
    Triggers,
    describe,
    overlap_of,
    schedule_of,
    schedule_tag,
    scheduled_at,
    triggers_of,
)
from flowkit.cli.flow_commands import show_flow
from flowkit.errors import FlowDefinitionError
from flowkit.lint.api import check
from tests.runtime.test_shapes import Quiet

HERE = str(Path(__file__))


def _flow(*decorators: object) -> type:
    """TrainFlow, with ``alpha`` and ``beta`` parameters and the given decorators."""

    class TrainFlow(FlowSpec):
        alpha = Parameter("alpha", default=0.1)
        beta = Parameter("the_beta", default=2)

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    flow: type = TrainFlow
    for decorator in reversed(decorators):
        flow = decorator(flow)  # type: ignore[operator]
    return flow


FLOW_LINE = inspect.getsourcelines(_flow)[1] + 3  # the class statement in _flow


def _refusal(flow_cls: type, read=None, line: int = FLOW_LINE) -> FlowDefinitionError:  # type: ignore[no-untyped-def]
    with pytest.raises(FlowDefinitionError) as caught:
        (read or (lambda c: (schedule_of(c), triggers_of(c), overlap_of(c))))(flow_cls)
    problem = caught.value.problem
    assert (problem.file, problem.line) == (HERE, line)
    assert problem.hint
    return caught.value


# -- @schedule ----------------------------------------------------------------------------


def test_schedule_takes_metaflows_arguments_and_flowkits() -> None:
    flow = _flow(schedule(cron="0 0 ? * MON-FRI *", timezone="Europe/Berlin"))
    assert schedule_of(flow) == Schedule(
        cron="0 0 * * 1-5",
        timezone="Europe/Berlin",
        catchup=False,
        overlap="skip",
        written="@schedule(cron='0 0 ? * MON-FRI *', timezone='Europe/Berlin')",
    )
    flow = _flow(schedule("*/5 * * * *", catchup=True, overlap="queue"))
    assert schedule_of(flow) == Schedule(
        "*/5 * * * *",
        None,
        True,
        "queue",
        "@schedule(cron='*/5 * * * *', catchup=True, overlap='queue')",
    )
    assert overlap_of(flow) == "queue"


@pytest.mark.parametrize(
    ("decorator", "cron"),
    [
        (schedule, "0 0 * * *"),  # bare: daily, as Metaflow's
        (schedule(), "0 0 * * *"),
        (schedule(hourly=True), "0 * * * *"),
        (schedule(weekly=True), "0 0 * * 0"),
        (schedule(weekly=True, hourly=True), "0 0 * * 0"),  # Metaflow: weekly first
        (schedule(hourly=True, daily=False), "0 * * * *"),
        (schedule(cron="@hourly", weekly=True), "0 * * * *"),  # cron wins
    ],
)
def test_schedule_flags_are_read_as_metaflow_reads_them(decorator: object, cron: str) -> None:
    found = schedule_of(_flow(decorator))
    assert found is not None and found.cron == cron and found.timezone is None


def test_no_schedule_and_daily_false_alone_mean_none() -> None:
    assert schedule_of(_flow()) is None
    assert schedule_of(_flow(schedule(daily=False))) is None
    assert triggers_of(_flow()) == Triggers() and not triggers_of(_flow())
    assert overlap_of(_flow()) == "skip"


@pytest.mark.parametrize(
    ("decorator", "says", "instead"),
    [
        (schedule(cron="0 0 2 * * *"), "needs '?' in day-of-month", "write five fields"),
        (schedule(cron="0 2 * * *", timezone="Europe/Berln"), "unknown time zone", "IANA"),
        (schedule(overlap="wait"), "overlap='wait' is not a policy", "'queue'"),
        (schedule(catchup="yes"), "catchup='yes' is not True or False", "catchup=True"),
    ],
)
def test_a_bad_schedule_is_refused_at_the_class(decorator: object, says: str, instead: str) -> None:
    refused = _refusal(_flow(decorator), schedule_of)
    assert (
        refused.problem.message.startswith("@schedule(")
        and " on TrainFlow: " in refused.problem.message
    )
    assert says in refused.problem.message and instead in refused.problem.hint


def test_two_schedules_on_one_class_are_refused() -> None:
    refused = _refusal(_flow(schedule(hourly=True), schedule(weekly=True)), schedule_of)
    assert "on the class twice" in refused.problem.message


# -- @trigger_on_finish ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decorator", "names"),
    [
        (trigger_on_finish(flow="IngestFlow"), ("IngestFlow",)),
        (trigger_on_finish(flows=["IngestFlow", "FeatureFlow"]), ("IngestFlow", "FeatureFlow")),
        (trigger_on_finish(flow={"name": "IngestFlow", "project_branch": "prod"}), ("IngestFlow",)),
        (trigger_on_finish(flows=[{"name": "A"}, "my_project.prod.B"]), ("A", "B")),
        (trigger_on_finish(flow="IngestFlow", options={"retries": 2}), ("IngestFlow",)),
    ],
)
def test_trigger_on_finish_takes_metaflows_forms(decorator: object, names: tuple[str, ...]) -> None:
    assert triggers_of(_flow(decorator)) == Triggers(on_finish=names)


@pytest.mark.parametrize(
    ("decorator", "says"),
    [
        (trigger_on_finish(flow="A", flows=["B"]), "both flow= and flows= are given"),
        (trigger_on_finish(flow="TrainFlow"), "would trigger itself"),
        (trigger_on_finish(flows=["A", "prod.TrainFlow"]), "would trigger itself"),
        (trigger_on_finish(), "it names no flow"),
        (trigger_on_finish, "it names no flow"),
        (trigger_on_finish(flows="IngestFlow"), "flows='IngestFlow' is not a list"),
        (trigger_on_finish(flow={"project_branch": "prod"}), "has no 'name'"),
        (trigger_on_finish(flow="not a name"), "'not a name' is not a flow's name"),
        (trigger_on_finish(flow="A", overlap="sometimes"), "is not a policy"),
    ],
)
def test_a_bad_trigger_on_finish_is_refused_at_the_class(decorator: object, says: str) -> None:
    refused = _refusal(_flow(decorator), triggers_of)
    assert (
        "@trigger_on_finish(" in refused.problem.message and "TrainFlow" in refused.problem.message
    )
    assert says in refused.problem.message


# -- @trigger -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decorator", "events"),
    [
        (trigger(event="drift_detected"), (EventTrigger("drift_detected"),)),
        (
            trigger(event={"name": "drift_detected", "parameters": {"alpha": "score"}}),
            (EventTrigger("drift_detected", (("alpha", "score"),)),),
        ),
        (  # Metaflow's list form: a name maps to the field of the same name
            trigger(event={"name": "d", "parameters": ["alpha", ("the_beta", "b")]}),
            (EventTrigger("d", (("alpha", "alpha"), ("the_beta", "b"))),),
        ),
        (  # a parameter by its attribute's name too
            trigger(events=["a", {"name": "b", "parameters": {"beta": "x"}}]),
            (EventTrigger("a"), EventTrigger("b", (("beta", "x"),))),
        ),
    ],
)
def test_trigger_takes_metaflows_forms(decorator: object, events: tuple[EventTrigger, ...]) -> None:
    assert triggers_of(_flow(decorator)) == Triggers(events=events)


@pytest.mark.parametrize(
    ("decorator", "says"),
    [
        (
            trigger(event={"name": "drift", "parameters": {"gamma": "score"}}),
            "event 'drift' sets 'gamma', which is no Parameter of the flow (its parameters: "
            "alpha, beta, the_beta)",
        ),
        (trigger(event="a", events=["b"]), "both event= and events= are given"),
        (trigger(events=["a", "a"]), "event 'a' is named twice"),
        (trigger(event={"parameters": {}}), "has no name"),
        (trigger(event=lambda context: "a"), "deploy-time functions are not offered"),
        (trigger(event={"name": "a", "parameters": [("alpha",)]}), "is not a parameter mapping"),
        (trigger(), "it names no event"),
        (trigger(event="data.ready"), "event name 'data.ready' cannot be published"),
    ],
)
def test_a_bad_trigger_is_refused_at_the_class(decorator: object, says: str) -> None:
    refused = _refusal(_flow(decorator), triggers_of)
    assert says in refused.problem.message


def test_overlap_is_one_policy_for_the_flow() -> None:
    both = _flow(schedule(hourly=True), trigger(event="e", overlap="allow"))
    assert overlap_of(both) == "allow"
    clash = _flow(schedule(overlap="queue"), trigger_on_finish(flow="A", overlap="allow"))
    refused = _refusal(clash, overlap_of)
    assert "a flow has one overlap policy" in refused.problem.message
    assert (
        "overlap='queue'" in refused.problem.message
        and "overlap='allow'" in refused.problem.message
    )


def test_lint_reports_every_problem_at_the_class_line() -> None:
    flow = _flow(
        schedule(cron="0 0 ? * * 2027"),
        trigger_on_finish(flow="TrainFlow"),
        trigger(event={"name": "drift", "parameters": {"gamma": "score"}}),
    )
    with pytest.raises(flowkit.LintError) as caught:
        check(flow)
    messages = [p.message for p in caught.value.problems]
    assert len(messages) == 3, messages
    assert any("names the year '2027'" in m for m in messages)
    assert any("would trigger itself" in m for m in messages)
    assert any("sets 'gamma'" in m for m in messages)
    assert {p.file for p in caught.value.problems} == {HERE}


def test_a_decorated_flow_runs_as_any_other(tmp_path: Path) -> None:
    flow = _flow(
        schedule(cron="0 2 * * *", timezone="Europe/Berlin"),
        trigger_on_finish(flow="IngestFlow"),
        trigger(event={"name": "drift", "parameters": ["alpha"]}),
    )
    run = flowkit.run(flow, store=str(tmp_path), progress=Quiet(), alpha=0.5)
    assert run.successful and run.data.alpha == 0.5


@schedule(cron=config_expr("cfg.cron"), timezone=config_expr("cfg.zone"))
@trigger(**config_expr("cfg.trigger"))
class ConfiguredFlow(FlowSpec):
    cfg = Config(
        "cfg",
        default_value={
            "cron": "0 3 * * *",
            "zone": "Europe/Berlin",
            "trigger": {"event": {"name": "drift", "parameters": ["alpha"]}},
        },
    )
    alpha = Parameter("alpha", default=1)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_config_expressions_take_the_configs_of_the_run() -> None:
    found = schedule_of(ConfiguredFlow)  # not configured: the configs' defaults
    assert found is not None and (found.cron, found.timezone) == ("0 3 * * *", "Europe/Berlin")
    assert triggers_of(ConfiguredFlow).events == (EventTrigger("drift", (("alpha", "alpha"),)),)
    values = {"cron": "@hourly", "zone": "UTC", "trigger": {"event": "e", "overlap": "queue"}}
    configured = configure(ConfiguredFlow, {"cfg": values})
    found = schedule_of(configured)
    assert found is not None and (found.cron, found.timezone) == ("0 * * * *", "UTC")
    assert triggers_of(configured) == Triggers(events=(EventTrigger("e"),))
    assert overlap_of(configured) == "queue"
    wrong = configure(ConfiguredFlow, {"cfg": {**values, "trigger": {"event": "e", "when": 1}}})
    class_line = inspect.getsourcelines(ConfiguredFlow)[1] + 2
    refused = _refusal(wrong, triggers_of, class_line)
    assert "the config gives when, which @trigger does not take" in refused.problem.message


def test_a_misspelt_argument_is_a_type_error_naming_what_is_taken() -> None:
    with pytest.raises(TypeError, match=r"@schedule\(\) got an unexpected keyword argument 'crn'"):
        schedule(crn="0 2 * * *")


def test_show_says_when_the_flow_runs_next_and_what_triggers_it(capsys) -> None:  # type: ignore[no-untyped-def]
    flow = _flow(
        schedule(cron="0 0 ? * MON-FRI *", timezone="Europe/Berlin", catchup=True),
        trigger_on_finish(flow="IngestFlow"),
        trigger(event={"name": "drift", "parameters": {"alpha": "score"}}, overlap="queue"),
    )
    text = describe(flow, now=datetime(2026, 11, 28, 12, tzinfo=UTC))  # a Saturday
    assert text.splitlines()[2:] == [
        "Schedule and triggers (flowkit deploy, flowkit scheduler)",
        "  cron '0 0 * * 1-5' in Europe/Berlin  "
        "(@schedule(cron='0 0 ? * MON-FRI *', timezone='Europe/Berlin', catchup=True))",
        "  next 2026-11-29 23:00 UTC; after missed slots it runs every one, oldest first",
        "  after a run of IngestFlow succeeds",
        "  on event 'drift'  (alpha <- payload['score'])",
        "  a run due while the last one runs: queue",
    ]
    assert describe(_flow()) == ""
    assert "written wrongly: @schedule(cron='0 0 2 * * *')" in describe(
        _flow(schedule(cron="0 0 2 * * *"))
    )
    show_flow(flow, as_json=False)  # python flow.py show, flowkit show flow.py
    out = capsys.readouterr().out
    assert "finishes the flow\n\nSchedule and triggers (flowkit deploy" in out
    assert out.endswith("\n  a run due while the last one runs: queue\n")


def test_on_a_step_it_is_refused_where_it_was_put() -> None:
    def start(self):  # type: ignore[no-untyped-def]
        pass

    with pytest.raises(FlowDefinitionError) as caught:
        trigger(event="e")(start)
    problem = caught.value.problem
    assert problem.message.startswith("@trigger decorates a flow class, not <function")
    assert (problem.file, problem.line) == (HERE, start.__code__.co_firstlineno)
    assert "above `class MyFlow(FlowSpec):`" in problem.hint


def test_scheduled_at_is_the_slot_in_the_schedules_zone() -> None:
    slot = datetime(2026, 12, 1, 1, 0, tzinfo=UTC).timestamp()
    tag = schedule_tag(slot, "Europe/Berlin")
    assert tag == "trigger:schedule:2026-12-01T01:00:00Z@Europe/Berlin"
    found = scheduled_at(["deployment:v1", tag])
    assert found is not None and (found.day, found.hour) == (1, 2)
    assert str(found.tzinfo) == "Europe/Berlin" and found.timestamp() == slot
    assert scheduled_at([schedule_tag(slot, None)]) == datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    assert scheduled_at(["trigger:event:drift/1@1.0"]) is None  # an event's run has none
    assert scheduled_at(["trigger:schedule:2026-12-01T01:00:00Z@No/Such"]) is None
