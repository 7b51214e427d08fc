"""A task that exhausts its retries is dead-lettered, alerted on, listed, shown and retried
to success after the fix; alert sinks get the run, step and error and never fail a run."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import flowkit
from flowkit.errors import FlowkitError
from flowkit.runtime.alerts import AlertEvent, Alerts
from flowkit.store import open_store
from flowkit.store.deadletters import list_letters
from tests.failure.helpers import assert_sound, flow_cli, flowkit_cli, letters_json
from tests.flows.failures import AlertedFlow, FixableFlow
from tests.runtime.test_shapes import Quiet


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An HTTP server on 127.0.0.1 that keeps every JSON body posted to it."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def test_dead_letter_alert_list_show_and_retry_after_the_fix(
    tmp_path: Path, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = webhook
    alerts = json.dumps([{"kind": "webhook", "url": url}])
    failed = flow_cli("FixableFlow", "run", "--store", tmp_path, FLOWKIT_ALERTS=alerts)
    assert failed.returncode == 1
    store = open_store(str(tmp_path))
    (run_id,) = store.records.list_runs("FixableFlow")

    by_event = {e["event"]: e for e in received}
    assert set(by_event) == {"task_dead_lettered", "run_failed"}
    for event in by_event.values():
        assert event["run_id"] == run_id and event["flow"] == "FixableFlow"
        assert event["step"] == "work"
        assert event["error"] == "RuntimeError: the bug is still there"
    assert "in work" in by_event["run_failed"]["traceback"]

    (letter,) = letters_json(tmp_path)
    assert letter["run_id"] == run_id and letter["step"] == "work" and letter["attempt"] == 1
    assert letter["state"] == "open" and letter["failure"] == "error"
    assert by_event["task_dead_lettered"]["dead_letter"] == letter["id"]
    (start,) = store.records.list_tasks("FixableFlow", run_id, "start")
    assert letter["inputs"] == [f"start/{start.task_id}/0"]
    listed = flowkit_cli("dlq", "list", "--store", tmp_path)
    assert (
        f"{letter['id']}" in listed.stdout
        and "RuntimeError: the bug is still there" in listed.stdout
    )

    shown = flowkit_cli("dlq", "show", str(letter["id"]), "--store", tmp_path)
    assert shown.returncode == 0
    assert f"FixableFlow/{run_id}/work/" in shown.stdout
    assert f"inputs: FixableFlow/{run_id}/start/{start.task_id}/0" in shown.stdout
    assert "raise RuntimeError" in shown.stdout and "flowkit logs FixableFlow/" in shown.stdout

    runs_before = open_store(str(tmp_path)).records.list_runs("FixableFlow")
    still = flowkit_cli("dlq", "retry", str(letter["id"]), "--store", tmp_path, "--quiet")
    assert still.returncode == 1  # not fixed yet: the task alone fails again, and says so
    assert "failed again (attempt " in still.stderr and "Traceback" not in still.stderr
    # nothing resumed
    assert open_store(str(tmp_path)).records.list_runs("FixableFlow") == runs_before
    retried = flowkit_cli(
        "dlq",
        "retry",
        str(letter["id"]),
        "--store",
        tmp_path,
        "--quiet",
        FLOWKIT_TEST_FIXED="1",
        FLOWKIT_ALERTS=alerts,
    )
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert f"dead letter {letter['id']} retried: run FixableFlow/" in retried.stdout
    latest = flowkit.Flow("FixableFlow", store=str(tmp_path)).latest_run
    assert latest is not None and latest.successful and latest.origin_run_id is not None
    assert latest.data.result == 42
    work = latest["work"].task  # run alone first, then cloned into the resumed run
    assert work.origin_pathspec is not None and work.origin_pathspec.split("/")[1] == run_id
    assert [e["event"] for e in received][-1] == "run_succeeded"
    (after, *_) = [x for x in letters_json(tmp_path) if x["id"] == letter["id"]]
    assert after["state"] == f"retried (succeeded, run {latest.id})"
    assert_sound(tmp_path)


def test_dlq_show_of_an_unknown_letter_is_a_clear_error(tmp_path: Path) -> None:
    result = flowkit_cli("dlq", "show", "nope", "--store", tmp_path)
    assert result.returncode == 1
    assert "error: dead letter nope is not in the store" in result.stderr
    assert "flowkit dlq list" in result.stderr and "Traceback" not in result.stderr


def test_a_command_sink_gets_the_event_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "event.json"
    argv = [sys.executable, "-c", f"import sys; open({str(out)!r}, 'w').write(sys.stdin.read())"]
    alerts = Alerts([{"kind": "command", "argv": argv, "on": ["run_succeeded"]}])
    event = AlertEvent("run_succeeded", "F", "r1", "/s", 1.0)
    assert alerts.emit(event) == []
    assert json.loads(out.read_text())["run_id"] == "r1"
    assert alerts.emit(AlertEvent("run_failed", "F", "r2", "/s", 1.0)) == []  # not wanted
    assert json.loads(out.read_text())["run_id"] == "r1"


def test_a_failing_sink_never_fails_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLOWKIT_TEST_FIXED", "1")
    monkeypatch.setenv(
        "FLOWKIT_ALERTS",
        json.dumps(
            [
                {"kind": "webhook", "url": "http://127.0.0.1:9/nothing-listens", "timeout": 2},
                {"kind": "command", "argv": ["false"]},
            ]
        ),
    )
    run = flowkit.run(FixableFlow, store=str(tmp_path), progress=Quiet())
    assert run.successful and run.data.result == 42
    err = capsys.readouterr().err
    assert "the webhook alert for run_succeeded of FixableFlow/" in err
    assert "the command alert for run_succeeded" in err and "CalledProcessError" in err


def test_bad_alert_settings_stop_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWKIT_ALERTS", json.dumps([{"kind": "command", "argv": "rm -rf /"}]))
    with pytest.raises(FlowkitError, match="argv must be a list of strings"):
        flowkit.run(FixableFlow, store=str(tmp_path), progress=Quiet())
    monkeypatch.setenv("FLOWKIT_ALERTS", json.dumps([{"kind": "pager"}]))
    with pytest.raises(FlowkitError, match="no alert sink of kind 'pager' is installed"):
        flowkit.run(FixableFlow, store=str(tmp_path), progress=Quiet())
    assert not list_letters(open_store(str(tmp_path)))


def test_flow_level_alert_decorator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "event.json"
    monkeypatch.setenv("ALERT_OUT", str(out))
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(AlertedFlow, store=str(tmp_path / "s"), progress=Quiet())
    event = json.loads(out.read_text())
    assert event["event"] == "run_failed" and event["run_id"] == info.value.run.id
    assert (event["step"], event["error"]) == ("start", "OSError: the disk is on fire")
