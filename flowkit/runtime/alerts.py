"""Alerts: tell someone when a run fails, a task is dead-lettered, a run succeeds, or a task
or a run takes longer than its SLA (``sla_missed``, while it goes on: see
:mod:`flowkit.runtime.sla`; the event says ``limit`` and ``elapsed`` in seconds and whether
the limit was ``learned`` from past runs or set with ``@sla``).

A sink is configured as a table: ``{kind = "webhook", url = "...", timeout = 10}`` posts the
event as JSON; ``{kind = "command", argv = ["notify", "--flow"]}`` runs the command (never a
shell) with the event as JSON on stdin and in ``FLOWKIT_ALERT``; any other ``kind`` names a
``flowkit.alerts`` entry point, loaded only when a sink asks for it, that is called with the
table's other keys and returns an object with ``send(event)``. Every table may say
``on = ["run_failed", ...]`` to pick events (default: all of :data:`EVENTS`).

Sinks come from settings (``alerts``) and from ``@alert(...)`` on the flow class. A sink that
fails never fails the run: the failure is written to stderr and the run goes on. A run's
scheduler sends its alerts through an :class:`AlertSender`, on a thread of its own and in
order, so that a slow sink never holds the run's tasks; the run's end waits for them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from typing import Any, Literal, Protocol

from flowkit.authoring.decorators import ALERTS_ATTR
from flowkit.errors import FlowkitError
from flowkit.fastdata import asdict, dataclass
from flowkit.runtime.inorder import InOrder

AlertKind = Literal["run_failed", "task_dead_lettered", "run_succeeded", "sla_missed"]
EVENTS: tuple[AlertKind, ...] = ("run_failed", "task_dead_lettered", "run_succeeded", "sla_missed")
ENTRY_POINT_GROUP = "flowkit.alerts"


@dataclass(frozen=True)
class AlertEvent:
    """What a sink receives (as :meth:`to_json`): the event and where it happened."""

    event: AlertKind
    flow: str
    run_id: str
    store: str
    time: float
    step: str | None = None
    task_id: str | None = None
    pathspec: str | None = None
    error: str | None = None
    traceback: str | None = None
    dead_letter: str | None = None
    message: str | None = None
    #: ``sla_missed``: the SLA and how long the task or run had taken, in seconds, and
    #: whether the SLA was learned from past runs (False: set with ``@sla``).
    limit: float | None = None
    elapsed: float | None = None
    learned: bool | None = None
    #: ``sla_missed`` for a step, sent with the run's end when more than one of its tasks
    #: passed the SLA (each step's first is alerted on alone, as it is seen): how many did.
    tasks_missed: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class AlertSink(Protocol):
    """Delivers one event; raising means it was not delivered."""

    def send(self, event: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class WebhookSink:
    """POSTs the event as a JSON body to ``url``."""

    url: str
    timeout: float = 10.0

    def send(self, event: Mapping[str, Any]) -> None:
        import urllib.request  # 25 ms of imports that a run without a webhook never needs

        request = urllib.request.Request(
            self.url,
            data=json.dumps(event).encode(),
            headers={"Content-Type": "application/json", "User-Agent": "flowkit"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            response.read()


@dataclass(frozen=True)
class CommandSink:
    """Runs ``argv`` (no shell) with the event as JSON on stdin and in ``FLOWKIT_ALERT``."""

    argv: tuple[str, ...]
    timeout: float = 30.0

    def send(self, event: Mapping[str, Any]) -> None:
        body = json.dumps(event)
        subprocess.run(
            self.argv,
            input=body.encode(),
            env={**os.environ, "FLOWKIT_ALERT": body},
            stdout=subprocess.DEVNULL,
            timeout=self.timeout,
            check=True,
        )


def build_sink(config: Mapping[str, Any]) -> AlertSink:
    """The sink a configuration table describes; a bad table is the user's to fix."""
    options = {k: v for k, v in config.items() if k not in ("kind", "on")}
    kind = config.get("kind")
    try:
        if kind == "webhook":
            return WebhookSink(str(options.pop("url")), **options)
        if kind == "command":
            argv = options.pop("argv")
            if isinstance(argv, str) or not all(isinstance(a, str) for a in argv):
                raise TypeError("argv must be a list of strings (no shell string)")
            return CommandSink(tuple(argv), **options)
    except (KeyError, TypeError) as exc:
        raise FlowkitError(
            f"alert sink {dict(config)!r} is not valid: {exc}",
            'a webhook takes url= (and timeout=); a command takes argv=["prog", "arg", ...]',
        ) from None
    return _plugin(str(kind), options)


def _plugin(kind: str, options: Mapping[str, Any]) -> AlertSink:
    from flowkit.plugins import find_plugin

    factory = find_plugin(ENTRY_POINT_GROUP, kind)
    if factory is None:
        raise FlowkitError(
            f"no alert sink of kind '{kind}' is installed",
            f"use kind webhook or command, or install the package that provides the "
            f"'{kind}' sink (a '{ENTRY_POINT_GROUP}' entry point)",
        )
    sink: AlertSink = factory(**options)
    return sink


class Alerts:
    """The run's sinks; :meth:`emit` delivers an event to those that want it."""

    def __init__(self, configs: Iterable[Mapping[str, Any]]) -> None:
        self._sinks: list[tuple[str, frozenset[str], AlertSink]] = []
        for config in configs:
            wanted = config.get("on", EVENTS)
            unknown = set(wanted) - set(EVENTS)
            if isinstance(wanted, str) or unknown:
                raise FlowkitError(
                    f"alert sink {dict(config)!r}: 'on' must list events among {', '.join(EVENTS)}",
                    'e.g. on = ["run_failed", "task_dead_lettered"]',
                )
            self._sinks.append((str(config["kind"]), frozenset(wanted), build_sink(config)))

    def __bool__(self) -> bool:
        return bool(self._sinks)

    def emit(self, event: AlertEvent) -> list[str]:
        """Deliver ``event``; the failures (also written to stderr), one line each."""
        failures = []
        for kind, wanted, sink in self._sinks:
            if event.event not in wanted:
                continue
            try:
                sink.send(event.to_json())
            except Exception as exc:  # any sink, extensions' too: reported, never fatal
                failures.append(_failed(kind, event, exc))
        return failures


class AlertSender:
    """Sends a run's alerts to its sinks on one thread of its own, in the order given: the
    scheduler's loop never waits for a sink (a webhook may take seconds, a command tenths of
    one). :meth:`close` waits until every alert given so far was sent, which each sink's own
    timeout bounds."""

    def __init__(self, alerts: Alerts) -> None:
        self._alerts = alerts
        self._line: InOrder[AlertEvent] = InOrder(alerts.emit, "flowkit-alerts")

    def __bool__(self) -> bool:
        return bool(self._alerts)

    def emit(self, event: AlertEvent) -> None:
        """Queue ``event`` to be sent (a sink's failure is written to stderr, as ever)."""
        self._line.put(event)

    def close(self) -> None:
        """Wait until every alert queued was sent (or failed); a later one starts again."""
        self._line.close()


def _failed(kind: str, event: AlertEvent, exc: BaseException) -> str:
    line = (
        f"flowkit: the {kind} alert for {event.event} of {event.flow}/{event.run_id} "
        f"was not delivered: {type(exc).__name__}: {exc}"
    )
    print(line, file=sys.stderr, flush=True)
    return line


def alerts_for(flow_cls: type, settings: Iterable[Mapping[str, Any]]) -> Alerts:
    """The sinks of a run: those in settings, then those ``@alert`` put on the flow."""
    return Alerts([*settings, *getattr(flow_cls, ALERTS_ATTR, ())])
