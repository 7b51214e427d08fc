"""Task output reaches the store while the task runs, with timestamps, in order."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from flowkit.store import LocalBackend, MemoryBackend, Store
from flowkit.store.logs import LogWriter, as_text, read_lines

ROOT = Path(__file__).resolve().parents[2]


def test_lines_fragments_and_timestamps_roundtrip() -> None:
    backend = MemoryBackend()
    clock = iter([100.0, 101.0, 102.0, 103.0, 104.0, 105.0])
    writer = LogWriter(backend, "logs/x", "stdout", flush_interval=1000, clock=lambda: next(clock))
    writer.write("hello\nwor")
    writer.write(b"ld\n")
    writer.write("progress 50%\r")
    writer.close()
    lines = read_lines(backend, "logs/x", "stdout")
    assert [(line.timestamp, line.text, line.complete) for line in lines] == [
        (101.0, "hello", True),
        (101.0, "world", True),
        (103.0, "progress 50%\r", False),
    ]
    assert as_text(lines) == "hello\nworld\nprogress 50%\r"


def test_fragment_flushed_early_joins_its_line() -> None:
    backend = MemoryBackend()
    writer = LogWriter(backend, "logs/y", "stderr", flush_interval=1000)
    writer.write("partial ")
    writer.flush()  # e.g. the periodic flush ran in the middle of a line
    assert as_text(read_lines(backend, "logs/y", "stderr")) == "partial "
    writer.write("line\nnext\n")
    writer.close()
    assert backend.list("logs/y") == ["stderr.0000000000", "stderr.0000000001"]
    assert as_text(read_lines(backend, "logs/y", "stderr")) == "partial line\nnext\n"


def test_buffer_limit_flushes_without_waiting() -> None:
    backend = MemoryBackend()
    writer = LogWriter(backend, "logs/z", "stdout", flush_interval=1000, max_buffer=100)
    for i in range(20):
        writer.write(f"line {i}\n")
    assert len(backend.list("logs/z")) >= 3  # readable before close
    writer.close()
    assert [line.text for line in read_lines(backend, "logs/z", "stdout")] == [
        f"line {i}" for i in range(20)
    ]


_TASK = """
import sys, time, os
sys.path.insert(0, {root!r})
from flowkit.store import open_store
store = open_store({store!r})
start = store.records.start_task("LogFlow", "r1", "train", "t1")
with store.logs.writer(start, "stdout", flush_interval=0.05) as out:
    with store.logs.writer(start, "stderr", flush_interval=0.05) as err:
        out.write("loading data\\n")
        err.write("warning: slow disk\\n")
        while not os.path.exists({go!r}):
            time.sleep(0.01)
        out.write("done\\n")
store.records.finish_task(start.finished("succeeded"))
store.logs.end(start)
"""


def test_logs_are_readable_by_another_process_before_the_task_ends(tmp_path: Path) -> None:
    root, go = tmp_path / "store", tmp_path / "go"
    store = Store(LocalBackend(root))
    store.records.create_run("LogFlow", run_id="r1")
    script = _TASK.format(root=str(ROOT), store=str(root), go=str(go))
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)])
    try:
        deadline = time.monotonic() + 20
        record = None
        # each stream flushes on its own: wait until both have written their first line
        while record is None or not all(store.logs.read(record, s) for s in ("stdout", "stderr")):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.02)
            tasks = store.records.list_tasks("LogFlow", "r1", "train")
            record = tasks[0] if tasks else None
        assert record.status == "running"  # the task has not ended ...
        assert as_text(store.logs.read(record, "stdout")) == "loading data\n"  # ... yet we read
        assert [line.text for line in store.logs.read(record, "stderr")] == ["warning: slow disk"]
        go.touch()
        followed = [(s, line.text) for s, line in store.logs.follow(record, poll=0.02)]
    finally:
        proc.wait(timeout=20)
    assert proc.returncode == 0
    assert followed == [
        ("stdout", "loading data"),
        ("stderr", "warning: slow disk"),
        ("stdout", "done"),
    ]
    lines = store.logs.read(record, "stdout")
    assert lines[0].timestamp <= lines[1].timestamp <= time.time()
    assert store.records.get_task("LogFlow", "r1", "train", "t1").successful


def test_follow_takes_output_stored_after_the_final_record() -> None:
    # the process relaying a task's output stores its last lines after the task wrote its
    # final record; the log's end mark, not the record, says nothing more will come
    store = Store(MemoryBackend())
    store.records.create_run("LogFlow", run_id="r1")
    start = store.records.start_task("LogFlow", "r1", "train", "t1")
    out = store.logs.writer(start, "stdout")
    out.write("first\n")
    out.flush()
    store.records.finish_task(start.finished("succeeded"))
    assert not store.logs.ended(start)

    def relay_the_rest() -> None:
        time.sleep(0.3)
        out.write("last\n")
        out.flush()
        store.logs.end(start)

    relay = threading.Thread(target=relay_the_rest)
    relay.start()
    followed = [line.text for _, line in store.logs.follow(start, poll=0.02)]
    relay.join()
    assert followed == ["first", "last"]
    assert store.logs.ended(start)


def test_a_log_is_over_once_its_run_ended_even_without_an_end_mark() -> None:
    # a task killed with its relaying process never gets the mark; its run's end says it
    store = Store(MemoryBackend())
    store.records.create_run("LogFlow", run_id="r1")
    start = store.records.start_task("LogFlow", "r1", "train", "t1")
    assert not store.logs.ended(start)
    store.records.end_run("LogFlow", "r1", "failed")
    assert store.logs.ended(start)


class _RemoteMemory(MemoryBackend):
    remote = True


def _chunks_for_ten_seconds_of_output(backend: MemoryBackend) -> int:
    store = Store(backend)
    start = store.records.start_task("LogFlow", "r1", "train", "t1")
    now = [1000.0]
    writer = store.logs.writer(start, "stdout", clock=lambda: now[0])
    for i in range(100):  # a line every 0.1 s
        now[0] += 0.1
        writer.write(f"step {i}\n")
    writer.close()
    assert len(read_lines(backend, "logs/LogFlow/r1/train/t1/0", "stdout")) == 100
    return len(backend.list("logs/LogFlow/r1/train/t1/0"))


def test_a_remote_store_gets_fewer_bigger_chunks() -> None:
    # one request per chunk on an object store: a chunk every 2 s, not every second
    assert _chunks_for_ten_seconds_of_output(_RemoteMemory()) in (5, 6)
    assert _chunks_for_ten_seconds_of_output(MemoryBackend()) in (10, 11)


def test_every_attempt_a_run_ran_has_its_log_end_mark(tmp_path: Path) -> None:
    import flowkit
    from flowkit.store import layout
    from tests.flows.failures import FixableFlow
    from tests.runtime.test_shapes import Quiet

    store = Store(LocalBackend(tmp_path))
    with pytest.raises(flowkit.RunFailed):
        flowkit.run(FixableFlow, store=str(tmp_path), progress=Quiet())
    (run_id,) = store.records.list_runs("FixableFlow")
    marked = []
    for step in store.records.list_steps("FixableFlow", run_id):
        for task in store.records.list_tasks("FixableFlow", run_id, step):
            for attempt in range(task.attempt + 1):
                key = layout.log_end_key("FixableFlow", run_id, step, task.task_id, attempt)
                marked.append((step, attempt, store.backend.exists(key)))
    # work failed twice (a retry): each attempt's log was completed, the failed ones too
    assert sorted(marked) == [("start", 0, True), ("work", 0, True), ("work", 1, True)]
