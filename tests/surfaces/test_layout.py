"""Pure layout: a run's state in, the exact lines a user reads out."""

from __future__ import annotations

from collections import Counter

import pytest

from flowkit.runtime.events import RunFinished, TaskPhase
from flowkit.surfaces.layout import (
    ASCII,
    UNICODE,
    count_text,
    finished_lines,
    format_duration,
    log_text,
    render,
    task_text,
)
from flowkit.surfaces.state import RunProgress
from tests.surfaces.events import log, started, successful_run, task


def state_of(*statuses: tuple[str, str, TaskPhase], now: float = 5.0) -> RunProgress:
    """A TrainFlow run in which each (step, task_id, status) happened at t=1."""
    state = RunProgress()
    state.apply(started(), 0.0)
    for step, task_id, status in statuses:
        state.apply(task(step, task_id, "running"), 1.0)
        if status != "running":
            state.apply(task(step, task_id, status), 2.0)
    return state


def test_waiting_run_lists_every_step_in_graph_order() -> None:
    assert render(state_of(), 80, now=0.5) == [
        "TrainFlow/1732442  running  0.50s  (starting)",
        "  · start  waiting",
        "  · train  waiting",
        "  · pick   waiting",
        "  · end    waiting",
    ]


def test_running_done_and_failed_steps_with_fan_out_counts() -> None:
    state = state_of(("start", "1", "succeeded"))
    for i in range(37):
        state.apply(task("train", f"t{i}", "running"), 2.0)
        state.apply(task("train", f"t{i}", "succeeded"), 3.0)
    state.apply(task("train", "r1", "running"), 3.0)
    state.apply(task("train", "r2", "running"), 3.0)
    state.apply(task("train", "f1", "running"), 3.0)
    state.apply(task("train", "f1", "failed"), 4.0)
    assert render(state, 80, now=12.5) == [
        "TrainFlow/1732442  running  12.5s  (38 done, 2 running, 1 failed)",
        "  ✓ start  done       1.00s",
        "  ▸ train  running    10.5s  37 done, 2 running, 1 failed",
        "  · pick   waiting",
        "  · end    waiting",
    ]


def test_finished_run_marks_failed_cloned_and_unrun_steps() -> None:
    state = state_of(
        ("start", "1", "cloned"), ("train", "2", "succeeded"), ("train", "3", "failed")
    )
    state.apply(RunFinished("TrainFlow", "1732442", "failed", 3.0), 3.0)
    assert render(state, 80, now=9.0)[1:] == [
        "  ↺ start  cloned     1.00s",
        "  ✗ train  failed     1.00s  1 done, 1 failed",
        "  - pick   not run",
        "  - end    not run",
    ]


def test_a_step_between_tasks_stays_running_until_a_successor_starts() -> None:
    state = state_of(("start", "1", "succeeded"))
    assert render(state, 80, now=2.0)[1] == "  ▸ start  running    1.00s"
    state.apply(task("train", "2", "running"), 2.5)
    assert render(state, 80, now=3.0)[1] == "  ✓ start  done       1.00s"


def test_lines_are_cut_to_the_width_and_never_wrap() -> None:
    state = state_of(*[("train", str(i), "succeeded") for i in range(3)], ("train", "9", "failed"))
    lines = render(state, 33, now=4.0)
    assert all(len(line) <= 33 for line in lines)
    assert lines[2] == "  ▸ train  running    3.00s  3 d…"
    assert render(state, 33, now=4.0, glyphs=ASCII)[2].endswith("  3 d~")


def test_ascii_glyphs_encode_in_ascii_and_unicode_ones_do_not() -> None:
    state = state_of(("start", "1", "succeeded"), ("train", "2", "running"))
    lines = render(state, 80, now=3.0, glyphs=ASCII)
    assert lines[1].startswith("  + start") and lines[2].startswith("  > train")
    "\n".join(lines).encode("ascii")
    assert ASCII.encodable("ascii") and not UNICODE.encodable("ascii")
    assert UNICODE.encodable("utf-8")


def test_a_short_terminal_keeps_running_steps_and_folds_the_rest() -> None:
    state = state_of(("start", "1", "succeeded"), ("train", "2", "running"))
    assert render(state, 80, now=3.0, height=3) == [
        "TrainFlow/1732442  running  3.00s  (1 done, 1 running)",
        "  ▸ train  running    2.00s",
        "  … 3 more steps (1 done, 2 waiting)",
    ]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.0, "0.00s"), (1.4249, "1.42s"), (12.34, "12.3s"), (245, "4m05s"), (7380, "2h03m")],
)
def test_durations(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_counts_list_only_what_occurs_in_a_fixed_order() -> None:
    counts: Counter[TaskPhase] = Counter(failed=1, running=2, succeeded=37)
    assert count_text(counts) == "37 done, 2 running, 1 failed"


def test_log_lines_carry_their_task_and_keep_the_last_progress_bar_frame() -> None:
    assert log_text(log("train", "7", "epoch 3")) == "[train/7] epoch 3"
    assert log_text(log("train", "7", " 10%\r 50%\r100%\r")) == "[train/7] 100%"


def test_task_lines_for_failures_retries_and_kills() -> None:
    failed = task("train", "7", "failed", error="KeyError: 'x'", exit_code=1)
    assert task_text(failed, UNICODE) == "✗ train/7 failed (exit 1): KeyError: 'x'"
    retry = task("train", "7", "retrying", attempt=0, error="OSError: busy")
    assert task_text(retry, ASCII) == "~ train/7 failed, retrying (attempt 2): OSError: busy"
    assert (
        task_text(task("train", "7", "killed", exit_code=-9), ASCII) == "x train/7 killed (exit -9)"
    )
    assert task_text(task("train", "7", "succeeded"), UNICODE) is None


def test_summary_of_a_successful_run_uses_the_schedulers_clock() -> None:
    state = RunProgress()
    for event in successful_run(11):
        state.apply(event, 100.0)  # arrival times do not matter: the events' own times do
    assert finished_lines(state, 100.0, UNICODE) == [
        "✓ TrainFlow/1732442 succeeded: 14 tasks in 1.42s"
    ]
