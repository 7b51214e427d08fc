"""The run's alerts are sent on a thread of their own (:class:`AlertSender`): queuing one
never waits for a sink, they arrive in the order given, a failing sink stops none of the
others, and :meth:`AlertSender.close` returns once every alert queued was sent."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from flowkit.runtime.alerts import AlertEvent, Alerts, AlertSender

#: A command sink that waits until the file ``argv[1]`` exists, then appends the alert's
#: event and step to ``argv[2]`` (one line each).
_GATED = """
import json, os, sys, time
body = json.load(sys.stdin)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.01)
with open(sys.argv[2], "a") as fh:
    fh.write(f"{body['event']} {body['step']}\\n")
"""


def _event(kind: str, step: str | None = None) -> AlertEvent:
    return AlertEvent(kind, "F", "1", "/store", 0.0, step=step)  # type: ignore[arg-type]


def test_alerts_are_sent_off_the_caller_s_thread_in_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gate, sent = tmp_path / "open", tmp_path / "sent.txt"
    sinks = [
        {"kind": "command", "argv": [sys.executable, "-c", _GATED, str(gate), str(sent)]},
        {"kind": "command", "argv": [sys.executable, "-c", "import sys; sys.exit(3)"]},
    ]
    sender = AlertSender(Alerts(sinks))
    assert sender
    events = [_event("sla_missed", "a"), _event("task_dead_lettered", "b"), _event("run_failed")]
    for event in events:
        sender.emit(event)  # returns at once: the sink waits for the gate
    assert not sent.exists()  # nothing could be sent yet
    gate.touch()
    sender.close()  # waits for all three
    assert sent.read_text().splitlines() == [
        "sla_missed a",
        "task_dead_lettered b",
        "run_failed None",
    ]
    # the failing sink failed each time, said so, and stopped nothing
    err = capsys.readouterr().err
    assert err.count("the command alert for") == 3 and "run_failed of F/1 was not delivered" in err
    # a sender closed can be used again (and closing one that sent nothing is a no-op)
    sender.emit(_event("run_succeeded"))
    sender.close()
    sender.close()
    assert sent.read_text().splitlines()[-1] == "run_succeeded None"


def test_no_sinks_no_thread() -> None:
    sender = AlertSender(Alerts([]))
    assert not sender
    sender.close()
