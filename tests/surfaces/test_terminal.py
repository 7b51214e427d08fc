"""The terminal view as a sink: what plain, quiet and live modes write for a run."""

from __future__ import annotations

import contextlib
import io
import os
import time
from collections.abc import Iterable

import pytest

from flowkit.runtime.events import Event, RunDetached, RunFinished, TaskOutput
from flowkit.surfaces.terminal import TerminalView
from tests.surfaces.events import failing_run, log, started, successful_run, task
from tests.surfaces.vt import Screen


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def play(events: Iterable[Event], **options: object) -> str:
    """Feed ``events`` to a view on a string stream, the clock following the events' times."""
    out = io.StringIO()
    clock = FakeClock()
    view = TerminalView(out, clock=clock, refresh_interval=None, **options)  # type: ignore[arg-type]
    for event in events:
        clock.now = event.time
        view.handle(event)
    view.close()
    return out.getvalue()


FAILURE_BLOCK = [
    "TrainFlow/1732442/train/3 failed:",
    "Traceback (most recent call last):",
    '  File "train.py", line 21, in train',
    '    raise ValueError("alpha must be positive")',
    "ValueError: alpha must be positive",
    "✗ TrainFlow/1732442 failed: 3 tasks (2 done, 1 failed) in 0.70s",
    "To resume, run:",
    "  python train.py resume",
]


def test_plain_mode_prints_prefixed_logs_step_lines_and_the_summary() -> None:
    assert play(successful_run(), live=False).splitlines() == [
        "▶ TrainFlow/1732442 started (store: /tmp/store)",
        "[start/1] loading rows",
        "✓ step start: 1 task done in 0.20s",
        "[train/2] fitting model 0",
        "[train/3] fitting model 1",
        "[train/4] fitting model 2",
        "✓ step train: 3 tasks done in 0.50s",
        "✓ step pick: 1 task done in 0.10s",
        "✓ step end: 1 task done in 0.10s",
        "✓ TrainFlow/1732442 succeeded: 6 tasks in 1.42s",
    ]


def test_plain_mode_is_the_default_off_a_terminal_and_writes_no_escape_codes() -> None:
    out = io.StringIO()
    view = TerminalView(out)
    assert not view.live
    for event in failing_run():
        view.handle(event)
    view.close()
    assert "\x1b" not in out.getvalue()
    assert "✗ train/3 failed (exit 1): ValueError: alpha must be positive" in out.getvalue()


def test_plain_mode_failure_shows_traceback_pathspec_and_resume_command() -> None:
    assert play(failing_run(), live=False).splitlines() == [
        "▶ TrainFlow/1732442 started (store: /tmp/store)",
        "✓ step start: 1 task done in 0.10s",
        "[train/3] about to fail",
        "✗ train/3 failed (exit 1): ValueError: alpha must be positive",
        "✗ step train: 1 done, 1 failed in 0.30s",
        *FAILURE_BLOCK,
    ]


def thousand_splits() -> Iterable[Event]:
    """A 1,000-task fan-out on two workers over 50 s, with one failure along the way."""
    yield started(0.0)
    yield task("start", "1", "running", 0.0)
    yield task("start", "1", "succeeded", 0.01)
    for i in range(1000):
        t = 0.05 * i
        yield task("train", str(i), "running", t)
        yield task("train", str(i), "failed" if i == 500 else "succeeded", t + 0.05)
    yield task("pick", "p", "running", 50.1)
    yield task("pick", "p", "succeeded", 50.2)
    yield RunFinished("TrainFlow", "1732442", "failed", 50.3, {"succeeded": 1001, "failed": 1})


def test_plain_mode_throttles_a_thousand_task_fan_out() -> None:
    lines = play(thousand_splits(), live=False).splitlines()
    progress = [line for line in lines if line.startswith("▸ ")]
    # one progress report per PROGRESS_EVERY (10 s) of a 50 s step, not one per task
    assert progress == [
        "▸ step train: 200 done (10.0s)",
        "▸ step train: 400 done (20.0s)",
        "▸ step train: 599 done, 1 failed (30.0s)",
        "▸ step train: 800 done, 1 failed (40.0s)",
    ]
    assert "✗ train/500 failed" in lines
    assert "✗ step train: 999 done, 1 failed in 50.0s" in lines
    assert lines[-1] == "✗ TrainFlow/1732442 failed: 1002 tasks (1001 done, 1 failed) in 50.3s"
    assert len(lines) == 10


def test_quiet_mode_shows_only_failures_and_the_summary() -> None:
    assert play(successful_run(), quiet=True).splitlines() == [
        "✓ TrainFlow/1732442 succeeded: 6 tasks in 1.42s"
    ]
    assert play(failing_run(), quiet=True, live=True).splitlines() == [
        "✗ train/3 failed (exit 1): ValueError: alpha must be positive",
        *FAILURE_BLOCK,
    ]


def test_retries_are_shown_and_a_cancelled_run_names_its_killed_tasks() -> None:
    events = [
        started(0.0),
        task("start", "1", "running", 0.0),
        task("start", "1", "retrying", 1.0, error="OSError: busy", exit_code=1),
        task("start", "1", "running", 2.0, attempt=1),
        task("start", "1", "killed", 3.0, attempt=1, exit_code=-9),
        RunFinished(
            "TrainFlow", "1732442", "cancelled", 3.5, {"killed": 1}, resume_command="flowkit resume"
        ),
    ]
    assert play(events, live=False).splitlines()[1:] == [
        "↻ start/1 failed (exit 1), retrying (attempt 2): OSError: busy",
        "⊘ start/1 killed (exit -9)",  # killed by the cancel, not failed by itself
        "⊘ step start: 1 killed in 3.00s",
        "■ TrainFlow/1732442 cancelled: 1 task (1 killed) in 3.50s",
        "To resume, run:",
        "  flowkit resume",
    ]
    assert play(events, quiet=True).splitlines()[0] == "⊘ start/1 killed (exit -9)"


def test_a_run_that_fails_without_a_failing_task_shows_the_schedulers_reason() -> None:
    events = [
        started(0.0),
        RunFinished("TrainFlow", "1732442", "failed", 0.1, failure="step 'train' needs 2 GPUs"),
    ]
    assert play(events, quiet=True).splitlines() == [
        "step 'train' needs 2 GPUs",
        "✗ TrainFlow/1732442 failed: 0 tasks in 0.10s",
    ]


def test_ascii_fallback_when_the_stream_cannot_encode_the_glyphs() -> None:
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="ascii")
    view = TerminalView(out, live=False)
    for event in successful_run():
        view.handle(event)
    view.close()
    out.flush()
    text = raw.getvalue().decode("ascii")
    assert text.splitlines()[-1] == "+ TrainFlow/1732442 succeeded: 6 tasks in 1.42s"


def test_live_mode_redraws_in_place_with_logs_above_the_block() -> None:
    output = play(successful_run(), live=True, width=60)
    assert "\x1b[5A" in output and "\x1b[2K" in output  # cursor up over the block, erase
    screen = Screen(60).feed(output)
    assert screen.wrapped == 0
    assert screen.text == [
        "▶ TrainFlow/1732442 started (store: /tmp/store)",
        "[start/1] loading rows",
        "[train/2] fitting model 0",
        "[train/3] fitting model 1",
        "[train/4] fitting model 2",
        "TrainFlow/1732442  succeeded  1.42s  (6 done)",
        "  ✓ start  done       0.20s",
        "  ✓ train  done       0.50s  3 done",
        "  ✓ pick   done       0.10s",
        "  ✓ end    done       0.10s",
        "✓ TrainFlow/1732442 succeeded: 6 tasks in 1.42s",
    ]


def test_live_mode_failure_keeps_the_final_block_above_the_failure_block() -> None:
    assert Screen(80).feed(play(failing_run(), live=True, width=80)).text == [
        "▶ TrainFlow/1732442 started (store: /tmp/store)",
        "[train/3] about to fail",
        "✗ train/3 failed (exit 1): ValueError: alpha must be positive",
        "TrainFlow/1732442  failed  0.70s  (2 done, 1 failed)",
        "  ✓ start  done       0.10s",
        "  ✗ train  failed     0.30s  1 done, 1 failed",
        "  - pick   not run",
        "  - end    not run",
        *FAILURE_BLOCK,
    ]


def test_live_mode_redraws_at_most_ten_times_a_second() -> None:
    output = play(thousand_splits(), live=True, width=80)
    redraws = output.count("\x1b[2KTrainFlow/1732442  ")
    assert 400 <= redraws <= 10 * 50.3 + 2  # 50 s of events: about 10 a second, plus the end
    screen = Screen(80).feed(output)
    assert screen.text.count("✗ train/500 failed") == 1
    assert screen.text[-1].startswith("✗ TrainFlow/1732442 failed: 1002 tasks")


def test_live_block_keeps_moving_between_events() -> None:
    out = io.StringIO()
    view = TerminalView(out, live=True, width=80, refresh_interval=0.02)
    view.handle(started(0.0))
    view.handle(task("start", "1", "running"))
    before = out.getvalue().count("\x1b[2KTrainFlow")
    time.sleep(0.7)  # no events: the refresh thread redraws so elapsed times advance
    view.close()
    assert out.getvalue().count("\x1b[2KTrainFlow") > before


class BrokenStream(io.StringIO):
    writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        raise BrokenPipeError(32, "Broken pipe")


def test_a_broken_pipe_never_reaches_the_scheduler() -> None:
    stream = BrokenStream()
    view = TerminalView(stream, live=True, width=80, refresh_interval=None)
    for event in failing_run():
        view.handle(event)
    view.close()
    assert stream.writes == 1  # after the first failure the view stops writing


def test_a_real_pipe_closed_by_its_reader_does_not_raise() -> None:
    read_fd, write_fd = os.pipe()
    os.close(read_fd)  # like `| head` after it has read enough
    stream = open(write_fd, "w", encoding="utf-8")  # noqa: SIM115
    try:
        view = TerminalView(stream)
        for event in successful_run(50):
            view.handle(event)
        view.close()
        with pytest.raises(BrokenPipeError):  # the stream really is broken
            stream.write("x\n")
            stream.flush()
    finally:
        with contextlib.suppress(BrokenPipeError):
            stream.close()


def test_a_closed_stream_does_not_raise() -> None:
    out = io.StringIO()
    view = TerminalView(out, live=False)
    out.close()
    for event in successful_run():
        view.handle(event)
    view.close()


def test_echo_prints_above_the_live_block() -> None:
    out = io.StringIO()
    view = TerminalView(out, live=True, width=80, refresh_interval=None)
    view.handle(started())
    view.echo("store: /tmp/store")
    view.handle(log("start", "1", "hi"))
    view.close()
    assert Screen(80).feed(out.getvalue()).text[:3] == [
        "▶ TrainFlow/1732442 started (store: /tmp/store)",
        "store: /tmp/store",
        "[start/1] hi",
    ]


def test_a_traceback_already_echoed_is_not_printed_again(tmp_path) -> None:
    import io

    import flowkit
    from flowkit.surfaces.terminal import TerminalView
    from tests.flows.crashes import CrashFlow

    out = io.StringIO()
    with pytest.raises(flowkit.RunFailed):
        flowkit.run(
            CrashFlow, store=str(tmp_path), progress=TerminalView(out, live=False), modes="raise"
        )
    text = out.getvalue()
    assert text.count("line 30, in work") == 1, text
    assert "  ValueError: split 0 was told to fail  (traceback above)" in text
    quiet = io.StringIO()
    with pytest.raises(flowkit.RunFailed):
        flowkit.run(
            CrashFlow, store=str(tmp_path), progress=TerminalView(quiet, quiet=True), modes="raise"
        )
    assert quiet.getvalue().count("line 30, in work") == 1
    assert "(traceback above)" not in quiet.getvalue()


FLOWKIT_ERROR_TRACEBACK = """Traceback (most recent call last):
  File "flow.py", line 21, in join
    self.merge_artifacts(inputs)
    ^^^^^^^^^^^^^^^^^^^^^^^^^^^^
flowkit.errors.MergeConflictError: step 'join': merge_artifacts found different values for 'x'
    hint: set 'x' yourself in 'join' before calling merge_artifacts"""


def test_the_closing_block_repeats_a_flowkit_errors_message_not_only_its_hint() -> None:
    out = io.StringIO()
    view = TerminalView(out, live=False)
    view.handle(started())
    view.handle(task("start", "1", "running"))
    for line in FLOWKIT_ERROR_TRACEBACK.splitlines():
        view.handle(TaskOutput("start", "1", "stderr", line, 0.1))
    view.handle(task("start", "1", "failed", error="MergeConflictError: ...", exit_code=1))
    view.handle(
        RunFinished(
            "TrainFlow",
            "1732442",
            "failed",
            0.5,
            {"failed": 1},
            failure=FLOWKIT_ERROR_TRACEBACK,
            failed_pathspec="TrainFlow/1732442/start/1",
            resume_command="python train.py resume",
        )
    )
    view.close()
    tail = out.getvalue().split("TrainFlow/1732442/start/1 failed:\n", 1)[1].splitlines()
    assert tail[:2] == [
        "  flowkit.errors.MergeConflictError: step 'join': merge_artifacts found different "
        "values for 'x'  (traceback above)",
        "      hint: set 'x' yourself in 'join' before calling merge_artifacts",
    ]
    assert tail[2].startswith("✗ TrainFlow/1732442 failed")


DETACHED_LINES = [
    "▶ TrainFlow/1732442 detached: its scheduler runs as Slurm job 42 (store: /tmp/store)",
    "  follow it: flowkit show TrainFlow/1732442  (tasks: flowkit logs "
    "TrainFlow/1732442/STEP/TASK --follow; runs: flowkit runs TrainFlow)",
]


@pytest.mark.parametrize("options", [{"quiet": True}, {"live": False}, {"live": True}])
def test_a_detached_run_says_where_its_scheduler_runs_even_when_quiet(
    options: dict[str, bool],
) -> None:
    event = RunDetached("TrainFlow", "1732442", "/tmp/store", "slurm", "Slurm job 42", 1.0)
    # and no live block under them: no run goes on in this process
    assert Screen(200).feed(play([event], **options)).text == DETACHED_LINES


def test_a_real_nested_foreach_counts_against_the_fan_out_summed_over_split_tasks(
    tmp_path,
) -> None:
    import io

    import flowkit
    from flowkit.surfaces.terminal import TerminalView
    from tests.flows.nested_foreach import NestedForeachFlow

    out = io.StringIO()
    view = TerminalView(out, live=False)
    flowkit.run(NestedForeachFlow, store=str(tmp_path), progress=view)
    assert view.state.steps["outer"].total == 3
    assert view.state.steps["inner"].total == 6  # 3 outer split tasks fan out 2 each
    assert view.state.steps["inner_join"].total is None
    text = out.getvalue()
    assert "✓ step outer: 3 tasks done in " in text
    assert "✓ step inner: 6 tasks done in " in text
