"""``@schedule``, ``@trigger_on_finish`` and ``@trigger``, as Metaflow's, and what they ask for
as plain data: :func:`schedule_of`, :func:`triggers_of` and :func:`overlap_of`.

The decorators only record what was written; it is read, checked and turned into
:class:`Schedule` and :class:`Triggers` when asked (and by lint, which reports every problem
at the class's file and line). Metaflow's forms are accepted unchanged; what flowkit adds is
``catchup`` (run every missed slot, not only the latest) and ``overlap`` (what to do when a
run is due while the last one is still going: ``skip`` it, ``queue`` it, or ``allow`` both).

``@trigger_on_finish(flow={"name": ..., "project": ..., "project_branch": ...})`` and a
dotted ``project.branch.Flow`` name are accepted as Metaflow writes them; flowkit matches
the flow's name only. ``options=`` (tuning for Argo Events) is accepted and has no effect.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, cast

from flowkit.authoring.compat import Hinted, record_flow_check
from flowkit.authoring.config import configured_values, namespace, resolve_configs
from flowkit.authoring.delayed import UNPACK_PREFIX, ConfigExprError, is_delayed, resolve
from flowkit.authoring.parameters import parameters_of
from flowkit.errors import FlowDefinitionError
from flowkit.fastdata import dataclass, field
from flowkit.store import is_name, name_rule

if TYPE_CHECKING:
    from datetime import datetime

Overlap = Literal["skip", "queue", "allow"]
OVERLAPS: tuple[str, ...] = ("skip", "queue", "allow")

#: Where each decorator leaves what was written on the flow class.
_ATTRS = {
    "schedule": "_flowkit_schedule",
    "trigger": "_flowkit_trigger",
    "trigger_on_finish": "_flowkit_trigger_on_finish",
}


@dataclass(frozen=True)
class Schedule:
    """When a flow runs by the clock."""

    cron: str  #: normalized 5-field cron (flowkit.authoring.cron)
    timezone: str | None  #: IANA name; None is UTC
    catchup: bool  #: after missed slots: run each (True) or only the latest (False)
    overlap: str  #: "skip" | "queue" | "allow"
    written: str  #: what the user wrote, for messages: "@schedule(cron='0 2 * * *')"


@dataclass(frozen=True)
class EventTrigger:
    """An event that starts a run, and which flow parameters take which payload fields."""

    name: str
    parameters: tuple[tuple[str, str], ...] = ()  #: (flow parameter, payload field)


@dataclass(frozen=True)
class Triggers:
    """What starts a flow's runs besides the clock."""

    on_finish: tuple[str, ...] = ()  #: names of flows whose successful runs start one
    events: tuple[EventTrigger, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.on_finish or self.events)


@dataclass(frozen=True)
class _Written:
    """One decorator as written: its name, arguments and how to show them."""

    name: str
    args: Mapping[str, Any] = field(default_factory=dict)
    twice: bool = False  # the same decorator was put on the class again

    @property
    def text(self) -> str:
        shown = ", ".join(
            f"**{getattr(v, 'text', v)}" if k.startswith(UNPACK_PREFIX) else f"{k}={v!r}"
            for k, v in self.args.items()
        )
        return f"@{self.name}({shown})"


#: @schedule's defaults, left out of what it shows of itself.
_DEFAULTS: dict[str, Any] = {
    "cron": None,
    "hourly": False,
    "daily": True,
    "weekly": False,
    "timezone": None,
    "catchup": False,
    "overlap": "skip",
}


def schedule(
    cron: str | None = None,
    *,
    hourly: bool = False,
    daily: bool = True,
    weekly: bool = False,
    timezone: str | None = None,
    catchup: bool = False,
    overlap: Overlap = "skip",
    **from_config: Any,
) -> Any:
    """Run the flow by the clock (once ``flowkit deploy``-ed and ``flowkit scheduler`` runs).

    As Metaflow's: ``cron`` (5 fields, or Metaflow's 6-field AWS form) wins over ``weekly``
    (Sunday 00:00), ``hourly`` and ``daily`` (00:00, the default); ``daily=False`` with no
    other choice means no schedule. ``timezone`` (an IANA name, UTC if None) is the zone
    the cron's wall-clock times are in. ``catchup``: after slots were missed (the scheduler
    was down), run every one of them, oldest first, instead of only the latest. ``overlap``:
    when a run is due while the flow's last one still runs, ``skip`` it, ``queue`` it, or
    ``allow`` both to run; a flow has one policy, ``skip`` unless one of its decorators asks
    for another."""
    if isinstance(bare := cast(object, cron), type):  # bare @schedule: daily, as Metaflow's
        return _record(bare, _Written("schedule"))
    given: dict[str, Any] = {
        "cron": cron,
        "hourly": hourly,
        "daily": daily,
        "weekly": weekly,
        "timezone": timezone,
        "catchup": catchup,
        "overlap": overlap,
    }
    given = {k: v for k, v in given.items() if v != _DEFAULTS[k]}
    written = _Written("schedule", given | _unpacked("schedule", from_config))
    return lambda cls: _record(cls, written)


def trigger_on_finish(
    flow: str | Mapping[str, str] | None = None,
    flows: Iterable[str | Mapping[str, str]] | None = None,
    *,
    options: Mapping[str, Any] | None = None,
    overlap: Overlap | None = None,
    **from_config: Any,
) -> Any:
    """Run the flow when a run of ``flow`` (or of any of ``flows``) succeeds. A flow is a
    name, ``project.branch.Name`` or ``{"name": ..., "project_branch": ...}``; flowkit
    matches the name. ``overlap`` is as for :func:`schedule`."""
    if isinstance(bare := cast(object, flow), type):  # bare: names no flow, reported by lint
        return _record(bare, _Written("trigger_on_finish"))
    args = {"flow": flow, "flows": flows, "options": options, "overlap": overlap}
    args = {k: v for k, v in args.items() if v is not None}
    written = _Written("trigger_on_finish", args | _unpacked("trigger_on_finish", from_config))
    return lambda cls: _record(cls, written)


def trigger(
    event: str | Mapping[str, Any] | None = None,
    events: Iterable[str | Mapping[str, Any]] | None = None,
    *,
    options: Mapping[str, Any] | None = None,
    overlap: Overlap | None = None,
    **from_config: Any,
) -> Any:
    """Run the flow when ``event`` (or any of ``events``) is published (``flowkit event
    publish NAME``). An event is a name or ``{"name": ..., "parameters": ...}``, where
    ``parameters`` maps flow parameters to payload fields: ``{"flow_param": "field"}``, or a
    list of names (``["alpha"]``: alpha from the field alpha) and ``(param, field)`` pairs.
    ``overlap`` is as for :func:`schedule`."""
    if isinstance(bare := cast(object, event), type):  # bare: names no event, reported by lint
        return _record(bare, _Written("trigger"))
    args = {"event": event, "events": events, "options": options, "overlap": overlap}
    args = {k: v for k, v in args.items() if v is not None}
    written = _Written("trigger", args | _unpacked("trigger", from_config))
    return lambda cls: _record(cls, written)


#: What each decorator takes (a config unpacked into it with ``**cfg`` may give only these).
_ARGUMENTS = {
    "schedule": tuple(_DEFAULTS),
    "trigger_on_finish": ("flow", "flows", "options", "overlap"),
    "trigger": ("event", "events", "options", "overlap"),
}


def _unpacked(name: str, from_config: Mapping[str, Any]) -> dict[str, Any]:
    """``**cfg.x`` written in the decorator's call: kept until the config's value is known."""
    for key in from_config:
        if not key.startswith(UNPACK_PREFIX):
            raise TypeError(
                f"@{name}() got an unexpected keyword argument {key!r}; it takes "
                f"{', '.join(_ARGUMENTS[name])}"
            )
    return dict(from_config)


def waits_for_configs(flow_cls: type) -> bool:
    """Whether the flow's scheduling decorators hold config expressions."""
    return any(
        (written := _written(flow_cls, name)) is not None and is_delayed(dict(written.args))
        for name in _ATTRS
    )


def _record(cls: Any, written: _Written) -> Any:
    if not isinstance(cls, type):
        code = getattr(cls, "__code__", None)
        where = {"file": code.co_filename, "line": code.co_firstlineno} if code else {}
        raise FlowDefinitionError(
            f"@{written.name} decorates a flow class, not {cls!r}",
            f"put @{written.name}(...) above `class MyFlow(FlowSpec):`, not above a step",
            **where,
        )
    attr = _ATTRS[written.name]
    if attr in cls.__dict__:
        written = _Written(written.name, written.args, twice=True)
    setattr(cls, attr, written)
    record_flow_check(cls, _problems)
    return cls


# -- reading what was written ------------------------------------------------------------


class _Wrong(Exception):
    """What is wrong with one decorator, and what to write instead."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def schedule_of(flow_cls: type) -> Schedule | None:
    """The flow's schedule (None without ``@schedule``, or with ``daily=False`` alone);
    a FlowDefinitionError at the class's file and line if it is written wrongly."""
    written = _written(flow_cls, "schedule")
    return None if written is None else _checked(flow_cls, written, _schedule)


def triggers_of(flow_cls: type) -> Triggers:
    """What triggers the flow's runs; a FlowDefinitionError at the class's file and line
    if a trigger is written wrongly or maps an event to no parameter of the flow."""
    on_finish: tuple[str, ...] = ()
    events: tuple[EventTrigger, ...] = ()
    if (written := _written(flow_cls, "trigger_on_finish")) is not None:
        on_finish = _checked(flow_cls, written, _on_finish)
    if (written := _written(flow_cls, "trigger")) is not None:
        events = _checked(flow_cls, written, _events)
    return Triggers(on_finish, events)


def overlap_of(flow_cls: type) -> str:
    """The one overlap policy of the flow's schedule and triggers ("skip" unless one of them
    says otherwise); two decorators asking for different ones is a FlowDefinitionError."""
    asked: dict[str, str] = {}
    for name in _ATTRS:
        written = _written(flow_cls, name)
        if written is None:
            continue
        value = _checked(flow_cls, written, _asked_overlap)
        if value is not None:
            asked.setdefault(value, written.text)
    if len(asked) > 1:
        shown = " and ".join(f"{text} asks for overlap={value!r}" for value, text in asked.items())
        raise FlowDefinitionError(
            f"{flow_cls.__name__}: {shown}, but a flow has one overlap policy",
            "give the same overlap= on each decorator, or on one of them only",
            **_where(flow_cls),
        )
    return next(iter(asked), "skip")


def _problems(flow_cls: type) -> list[str]:
    """Every problem with the flow's scheduling decorators, for lint."""
    found: list[str] = []
    readers = {"schedule": _schedule, "trigger_on_finish": _on_finish, "trigger": _events}
    for name, read in readers.items():
        if (written := _written(flow_cls, name)) is None:
            continue
        try:
            _checked(flow_cls, written, read)
        except FlowDefinitionError as exc:
            found.append(Hinted(exc.problem.message, exc.problem.hint))
    if not found:
        try:
            overlap_of(flow_cls)
        except FlowDefinitionError as exc:
            found.append(Hinted(exc.problem.message, exc.problem.hint))
    return found


def _written(flow_cls: type, name: str) -> _Written | None:
    written = getattr(flow_cls, _ATTRS[name], None)
    return written if isinstance(written, _Written) else None


def _checked(flow_cls: type, written: _Written, read: Callable[[_Written, type], Any]) -> Any:
    try:
        if written.twice:
            raise _Wrong(
                f"{written.text} is on the class twice",
                f"keep one @{written.name}; list several flows or events in one decorator",
            )
        return read(_settled(flow_cls, written), flow_cls)
    except _Wrong as wrong:
        raise FlowDefinitionError(
            f"{written.text} on {flow_cls.__name__}: {wrong.message}",
            wrong.hint,
            **_where(flow_cls),
        ) from None


def _settled(flow_cls: type, written: _Written) -> _Written:
    """``written`` with its config expressions evaluated: with the configs the class was
    configured with for a run, else with the configs' defaults."""
    if not is_delayed(dict(written.args)):
        return written
    values = configured_values(flow_cls)
    if values is None:
        values = resolve_configs(flow_cls, {})
    try:
        args = resolve(dict(written.args), namespace(flow_cls, values))
    except ConfigExprError as exc:
        raise _Wrong(str(exc), "fix the expression, or the config it reads") from None
    unknown = sorted(str(k) for k in args if k not in _ARGUMENTS[written.name])
    if unknown:
        raise _Wrong(
            f"the config gives {', '.join(unknown)}, which @{written.name} does not take",
            f"@{written.name} takes {', '.join(_ARGUMENTS[written.name])}",
        )
    return _Written(written.name, args, written.twice)


def _where(flow_cls: type) -> dict[str, Any]:
    """The file and line of ``class Flow``, where lint reports these problems too."""
    import inspect  # here: only a decorator written wrongly is located

    for klass in flow_cls.__mro__:  # a class configured for a run is made from the user's
        if klass.__name__ != flow_cls.__name__:
            continue
        try:
            lines, start = inspect.getsourcelines(klass)
            file = inspect.getsourcefile(klass)
        except (OSError, TypeError):
            continue
        below = next((i for i, text in enumerate(lines) if text.lstrip().startswith("class ")), 0)
        return {"file": file, "line": start + below}
    for value in vars(flow_cls).values():  # no source found for the class: its first method
        code = getattr(value, "__code__", None)
        if code is not None:
            return {"file": code.co_filename, "line": code.co_firstlineno}
    return {}


def _asked_overlap(written: _Written, flow_cls: type) -> str | None:
    return None if written.args.get("overlap") is None else _overlap(written)


def _overlap(written: _Written) -> str:
    value = written.args.get("overlap", "skip")
    if value not in OVERLAPS:
        raise _Wrong(
            f"overlap={value!r} is not a policy",
            "write overlap='skip' (the default: a run due while the last one runs is "
            "dropped), 'queue' (it starts when the last one ends) or 'allow' (both run)",
        )
    return str(value)


def _schedule(written: _Written, flow_cls: type) -> Schedule | None:
    # zoneinfo is imported by flows with a schedule, not by every run that configures a class
    from flowkit.authoring.cron import normalize_cron, zone_named

    args = written.args
    overlap = _overlap(written)
    catchup = args.get("catchup", False)
    if not isinstance(catchup, bool):
        raise _Wrong(f"catchup={catchup!r} is not True or False", "write catchup=True or False")
    cron = args.get("cron")
    if cron is not None:
        try:
            cron = normalize_cron(cron)
        except ValueError as exc:
            raise _Wrong(str(exc), _CRON_HINT) from None
    elif args.get("weekly"):
        cron = "0 0 * * 0"
    elif args.get("hourly"):
        cron = "0 * * * *"
    elif args.get("daily", True):
        cron = "0 0 * * *"
    else:
        return None  # as Metaflow's @schedule(daily=False): no schedule
    timezone = args.get("timezone")
    try:
        zone_named(timezone)
    except ValueError as exc:
        raise _Wrong(str(exc), "write timezone='Europe/Berlin' or another IANA name") from None
    return Schedule(cron, timezone, catchup, overlap, written.text)


_CRON_HINT = (
    "write five fields (minute hour day-of-month month day-of-week), e.g. cron='0 2 * * *' "
    "for 02:00 every day, or Metaflow's six, e.g. cron='0 2 ? * MON-FRI *'"
)


def _one_or_many(written: _Written, one: str, many: str) -> list[Any]:
    args = written.args
    if args.get(one) and args.get(many):
        raise _Wrong(
            f"both {one}= and {many}= are given",
            f"give one: {one}=... for one, {many}=[...] for several",
        )
    if args.get(one):
        return [args[one]]
    listed = args.get(many)
    if isinstance(listed, (str, bytes, Mapping)) or (
        listed and not isinstance(listed, (list, tuple))
    ):
        raise _Wrong(
            f"{many}={listed!r} is not a list", f"write {many}=[...], or {one}=... for one"
        )
    if not listed:
        raise _Wrong(f"it names no {one}", f"write {one}=... or {many}=[...]")
    return list(listed)


def _on_finish(written: _Written, flow_cls: type) -> tuple[str, ...]:
    _overlap(written)
    names: list[str] = []
    for flow in _one_or_many(written, "flow", "flows"):
        if isinstance(flow, Mapping):
            if not isinstance(flow.get("name"), str) or not flow["name"]:
                raise _Wrong(
                    f"{flow!r} has no 'name'",
                    "write {'name': 'IngestFlow'} (with 'project_branch' if you wish)",
                )
            flow = flow["name"]
        if not isinstance(flow, str) or not flow.split(".")[-1].isidentifier():
            raise _Wrong(
                f"{flow!r} is not a flow's name",
                "name the flow as its class is called, e.g. flow='IngestFlow'",
            )
        name = flow.split(".")[-1]  # Metaflow's project.branch.Name: flowkit matches Name
        if name == flow_cls.__name__:
            raise _Wrong(
                "the flow would trigger itself when it finishes, without end",
                "name another flow; to run again and again, use @schedule",
            )
        if name not in names:
            names.append(name)
    return tuple(names)


def _events(written: _Written, flow_cls: type) -> tuple[EventTrigger, ...]:
    _overlap(written)
    known = {n for p in parameters_of(flow_cls) for n in (p.name, p.attr) if n}
    found: dict[str, EventTrigger] = {}
    for event in _one_or_many(written, "event", "events"):
        made = _event(event, known)
        if made.name in found:
            raise _Wrong(f"event {made.name!r} is named twice", "name each event once")
        found[made.name] = made
    return tuple(found.values())


def _event(event: Any, known: set[str]) -> EventTrigger:
    if isinstance(event, str):
        event = {"name": event}
    if not isinstance(event, Mapping):
        raise _Wrong(
            f"{event!r} is not an event"
            + (" (deploy-time functions are not offered)" if callable(event) else ""),
            "write event='name' or event={'name': 'name', 'parameters': {'param': 'field'}}",
        )
    name = event.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _Wrong(
            f"event {event!r} has no name",
            "write event={'name': 'drift_detected', 'parameters': {...}}",
        )
    if not is_name(name):  # flowkit event publish refuses it: the flow would never run
        raise _Wrong(f"event name {name!r} cannot be published", name_rule("event"))
    pairs = _pairs(event.get("parameters") or {}, name)
    for param, _ in pairs:
        if param not in known:
            shown = ", ".join(sorted(known)) or "none"
            raise _Wrong(
                f"event {name!r} sets {param!r}, which is no Parameter of the flow "
                f"(its parameters: {shown})",
                f"map the payload field to one of the flow's parameters, or add "
                f"{param} = Parameter({param!r}) to the flow",
            )
    return EventTrigger(name, pairs)


def _pairs(parameters: Any, name: str) -> tuple[tuple[str, str], ...]:
    """Metaflow's forms of an event's parameters: a dict, or a list of names and pairs."""
    hint = (
        "write parameters={'flow_param': 'payload_field'}, or a list of names and "
        "('flow_param', 'payload_field') pairs"
    )
    pairs: list[tuple[str, str]] = []
    if isinstance(parameters, Mapping):
        pairs = list(parameters.items())
    elif isinstance(parameters, (list, tuple)):
        for item in parameters:
            if isinstance(item, str):
                pairs.append((item, item))
            elif isinstance(item, (list, tuple)) and len(item) == 2:
                pairs.append((item[0], item[1]))
            else:
                raise _Wrong(f"event {name!r}: {item!r} is not a parameter mapping", hint)
    else:
        raise _Wrong(f"event {name!r}: parameters={parameters!r} is not a mapping", hint)
    for param, payload_field in pairs:
        if not isinstance(param, str) or not isinstance(payload_field, str):
            raise _Wrong(f"event {name!r}: {(param, payload_field)!r} is not two names", hint)
    return tuple(pairs)


#: The system tag naming the slot a scheduled run is for: ``trigger:schedule:<slot, ISO
#: UTC>@<the schedule's time zone>``.
SCHEDULE_TAG = "trigger:schedule:"


def schedule_tag(slot: float, timezone: str | None) -> str:
    """The system tag of a run ``flowkit scheduler`` starts for the slot ``slot``."""
    from datetime import UTC, datetime

    at = datetime.fromtimestamp(slot, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{SCHEDULE_TAG}{at}@{timezone or 'UTC'}"


def scheduled_at(system_tags: Iterable[str]) -> datetime | None:
    """``current.scheduled_at``: the slot :func:`schedule_tag` names among a run's system
    tags, aware, in the schedule's zone; None if there is none."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    for tag in system_tags:
        if not tag.startswith(SCHEDULE_TAG):
            continue
        at, _, zone = tag[len(SCHEDULE_TAG) :].partition("@")
        try:
            slot = datetime.strptime(at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            return slot.astimezone(ZoneInfo(zone) if zone and zone != "UTC" else UTC)
        except (ValueError, ZoneInfoNotFoundError):
            continue
    return None


def describe(flow_cls: type, now: datetime | None = None) -> str:
    """The flow's schedule and triggers as text a person reads ("" if it has none), with the
    next fire time after ``now``; what is written wrongly is said, not raised."""
    from datetime import UTC, datetime

    from flowkit.authoring.cron import CronSchedule

    lines: list[str] = []
    try:
        found, triggers, overlap = (
            schedule_of(flow_cls),
            triggers_of(flow_cls),
            overlap_of(flow_cls),
        )
    except FlowDefinitionError as exc:
        return f"\n\nSchedule and triggers\n  written wrongly: {exc.problem.message}"
    if found is not None:
        timing = CronSchedule(found.cron, found.timezone)
        upcoming = timing.next_after(now or datetime.now(UTC))
        missed = "every one, oldest first" if found.catchup else "the latest only"
        lines += [
            f"  cron '{found.cron}' in {found.timezone or 'UTC'}  ({found.written})",
            f"  next {upcoming:%Y-%m-%d %H:%M} UTC; after missed slots it runs {missed}",
        ]
    lines += [f"  after a run of {name} succeeds" for name in triggers.on_finish]
    for event in triggers.events:
        mapped = ", ".join(f"{param} <- payload[{field!r}]" for param, field in event.parameters)
        lines.append(f"  on event {event.name!r}" + (f"  ({mapped})" if mapped else ""))
    if not lines:
        return ""
    lines.append(f"  a run due while the last one runs: {overlap}")
    return "\n\n" + "\n".join(["Schedule and triggers (flowkit deploy, flowkit scheduler)", *lines])
