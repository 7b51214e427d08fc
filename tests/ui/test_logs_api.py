"""GET .../logs and .../logs.txt on real runs: both streams with their times, the stream
filter, search, a clone's logs (its origin's), the download, and a live run's tail that
returns only the lines after the cursor until the attempt ends."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

import flowkit
from flowkit.store import Store, open_store
from flowkit.store.logs import LogTail
from flowkit.store.records import TaskRecord
from flowkit.ui import attempts
from flowkit.ui.app import create_app
from flowkit.ui.common import UiContext
from tests.flows.gated import GatedFlow
from tests.flows.ui import UiLiveFlow
from tests.runtime.test_shapes import Quiet
from tests.ui.conftest import UiStore, wait_for


def train_task(store: Store, run_id: str, index: int) -> TaskRecord:
    trains = store.records.list_tasks("UiShowcaseFlow", run_id, "train")
    return next(t for t in trains if t.foreach == (index,))


def texts(answer: dict[str, Any]) -> list[tuple[str, str]]:
    return [(line["stream"], line["text"]) for line in answer["lines"]]


def test_both_streams_in_time_order_with_timestamps(
    client: TestClient, store: Store, ui_store: UiStore
) -> None:
    task = train_task(store, ui_store.showcase, 2)

    answer = client.get(f"/api/runs/{task.pathspec}/logs").json()

    assert texts(answer) == [("stdout", "item 2: score 0.75"), ("stderr", "item 2: done")]
    times = [line["t"] for line in answer["lines"]]
    assert times == sorted(times)
    assert task.finished_at is not None
    assert all(task.started_at - 1 <= t <= task.finished_at + 1 for t in times)
    assert answer["final"] is True
    assert answer["cursor"] == "1.1"


def test_stream_filter_search_and_cursor(
    client: TestClient, store: Store, ui_store: UiStore
) -> None:
    logs = f"/api/runs/{train_task(store, ui_store.showcase, 1).pathspec}/logs"

    assert texts(client.get(logs, params={"stream": "stdout"}).json()) == [
        ("stdout", "item 1: score 0.5")
    ]
    assert texts(client.get(logs, params={"stream": "stderr"}).json()) == [
        ("stderr", "item 1: done")
    ]
    assert texts(client.get(logs, params={"q": "DONE"}).json()) == [("stderr", "item 1: done")]
    assert client.get(logs, params={"q": "no such text"}).json()["lines"] == []
    cursor = client.get(logs).json()["cursor"]
    after = client.get(logs, params={"after": cursor}).json()
    assert after["lines"] == [] and after["cursor"] == cursor
    assert texts(client.get(logs, params={"after": "1.0"}).json()) == [("stderr", "item 1: done")]
    for bad in ("1", "1.x", "-1.0", "\u00b2.0"):  # '²' is a digit to str.isdigit, not to int()
        refused = client.get(logs, params={"after": bad})
        assert refused.status_code == 400
        assert "not a log cursor" in refused.json()["error"]


def test_a_finished_log_is_read_once_then_served_from_memory(
    client: TestClient, store: Store, ui_store: UiStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = f"/api/runs/{train_task(store, ui_store.showcase, 2).pathspec}/logs"
    first = client.get(logs).json()

    def no_read(self: LogTail) -> Any:
        raise AssertionError("a finished log was read again")

    monkeypatch.setattr(LogTail, "read", no_read)
    monkeypatch.setattr(LogTail, "rest", no_read)

    assert client.get(logs).json() == first
    assert texts(client.get(logs, params={"q": "done"}).json()) == [("stderr", "item 2: done")]


def test_kept_logs_are_bounded(
    client: TestClient, store: Store, ui_store: UiStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(attempts, "LOGS_KEPT", 2)
    for index in range(4):
        client.get(f"/api/runs/{train_task(store, ui_store.showcase, index).pathspec}/logs")

    kept = [(path.rsplit("/", 1)[1], n) for s, path, n in attempts._LOGS if s is store]
    assert len(attempts._LOGS) == 2
    assert kept == [(train_task(store, ui_store.showcase, i).task_id, 0) for i in (2, 3)]


def test_bad_queries_answer_400_and_an_unknown_attempt_404(
    client: TestClient, store: Store, ui_store: UiStore
) -> None:
    logs = f"/api/runs/{train_task(store, ui_store.showcase, 0).pathspec}/logs"

    answer = client.get(logs, params={"stream": "stdlog"})
    assert answer.status_code == 400 and "stream='stdlog'" in answer.json()["error"]
    answer = client.get(logs, params={"after": "junk"})
    assert answer.status_code == 400 and "not a log cursor" in answer.json()["error"]
    for path in (logs, f"{logs}.txt"):
        answer = client.get(path, params={"attempt": 3})
        assert answer.status_code == 404
        assert answer.json()["hint"] == "its attempts are: 0"
    answer = client.get(f"/api/runs/UiShowcaseFlow/{ui_store.showcase}/train/nosuch/logs")
    assert answer.status_code == 404


def test_failed_attempts_each_have_their_own_traceback(
    client: TestClient, store: Store, ui_store: UiStore
) -> None:
    (work,) = store.records.list_tasks("FixableFlow", ui_store.failed, "work")

    for attempt in (0, 1):
        answer = client.get(
            f"/api/runs/{work.pathspec}/logs", params={"attempt": attempt, "stream": "stderr"}
        ).json()
        assert answer["final"] is True
        assert any("RuntimeError: the bug is still there" in t for _, t in texts(answer))


def test_download_has_iso_times_streams_and_a_file_name(
    client: TestClient, store: Store, ui_store: UiStore
) -> None:
    task = train_task(store, ui_store.showcase, 3)

    answer = client.get(f"/api/runs/{task.pathspec}/logs.txt")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    name = f"UiShowcaseFlow-{ui_store.showcase}-train-{task.task_id}-0.log"
    assert answer.headers["content-disposition"] == f'attachment; filename="{name}"'
    lines = answer.text.splitlines()
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert re.fullmatch(rf"{stamp} stdout item 3: score 1\.0", lines[0]), lines
    assert re.fullmatch(rf"{stamp} stderr item 3: done", lines[1]), lines
    assert len(lines) == 2
    only = client.get(f"/api/runs/{task.pathspec}/logs.txt", params={"stream": "stderr"})
    assert only.text.endswith(" stderr item 3: done\n") and "stdout" not in only.text


def test_a_clone_shows_the_logs_of_the_task_it_came_from(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "store"))
    first = flowkit.run(GatedFlow, store=store, progress=Quiet(), value=7)
    resumed = flowkit.resume(GatedFlow, "middle", store=store, progress=Quiet())
    (clone,) = store.records.list_tasks("GatedFlow", resumed.id, "start")
    assert clone.origin_pathspec is not None and first.id in clone.origin_pathspec

    with TestClient(create_app(UiContext(store))) as client:
        answer = client.get(f"/api/runs/{clone.pathspec}/logs").json()
        task = client.get(f"/api/runs/{clone.pathspec}").json()

    assert texts(answer) == [("stdout", "start 7")]
    assert answer["final"] is True
    assert task["logs"] == {"stdout": 1, "stderr": 0}


def _poll(what: str, get: Any, beats: int = 1) -> dict[str, Any]:
    """The first answer of ``get()`` holding at least ``beats`` beats."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer: dict[str, Any] = get()
        if len(_beats(answer)) >= beats:
            return answer
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _beats(answer: dict[str, Any]) -> list[int]:
    return [
        int(line["text"].rsplit(" ", 1)[1])
        for line in answer["lines"]
        if line["text"].startswith("still waiting, beat ")
    ]


@pytest.mark.slow
def test_a_live_tail_returns_only_newer_lines_until_the_attempt_ends(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "store"))
    gate = tmp_path / "gate"
    errors: list[BaseException] = []

    def go() -> None:
        try:
            flowkit.run(UiLiveFlow, store=store, progress=Quiet(), gate=str(gate))
        except BaseException as exc:  # the test's thread reports it
            errors.append(exc)

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    try:
        runs = wait_for(lambda: store.records.list_runs("UiLiveFlow"), what="the run")
        (task,) = wait_for(
            lambda: store.records.list_tasks("UiLiveFlow", runs[0], "wait"), what="the wait task"
        )
        logs = f"/api/runs/{task.pathspec}/logs"
        with TestClient(create_app(UiContext(store))) as client:
            first = _poll("two beats", lambda: client.get(logs).json(), 2)
            assert first["final"] is False
            assert _beats(first) == list(range(len(_beats(first))))
            newer = _poll(
                "newer beats", lambda: client.get(logs, params={"after": first["cursor"]}).json()
            )
            assert newer["final"] is False
            assert _beats(newer)[0] == _beats(first)[-1] + 1  # nothing seen twice, none missed
            gate.write_text("open")
            cursor, tail = newer["cursor"], []
            deadline = time.monotonic() + 60
            while True:
                assert time.monotonic() < deadline, "the attempt never answered final"
                answer = client.get(logs, params={"after": cursor}).json()
                tail += texts(answer)
                cursor = answer["cursor"]
                if answer["final"]:
                    break
                time.sleep(0.2)
            everything = client.get(logs).json()
    finally:
        gate.write_text("open")
        thread.join(60)
    assert not errors
    assert tail[-1] == ("stdout", "the gate opened")
    seen = _beats(first) + _beats(newer) + [int(t.rsplit(" ", 1)[1]) for _, t in tail[:-1]]
    assert seen == _beats(everything) == list(range(len(seen)))
    assert everything["final"] is True


def test_a_tail_is_not_final_until_the_log_is_complete() -> None:
    # the relay stores a task's last output after the task wrote its final record: a tail
    # that called the log final at the record would never show those lines
    from flowkit.store import MemoryBackend

    store = Store(MemoryBackend())
    store.records.create_run("RelayFlow", run_id="r1")
    start = store.records.start_task("RelayFlow", "r1", "work", "t1")
    out = store.logs.writer(start, "stdout")
    out.write("first\n")
    out.flush()
    record = store.records.finish_task(start.finished("succeeded"))
    path = f"/api/runs/{record.pathspec}/logs"
    with TestClient(create_app(UiContext(store))) as client:
        before = client.get(path).json()
        assert (texts(before), before["final"]) == ([("stdout", "first")], False)
        out.write("last\n")
        out.flush()
        store.logs.end(start)
        after = client.get(path, params={"after": before["cursor"]}).json()
    assert (texts(after), after["final"]) == ([("stdout", "last")], True)
