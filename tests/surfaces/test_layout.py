"""Pure layout: a run's state in, the exact lines a user reads out."""

from __future__ import annotations

from collections import Counter

import pytest

from flowkit.runtime.events import FanOut, RunFinished, TaskPhase
from flowkit.surfaces.layout import (
    ASCII,
    UNICODE,
    count_text,
    finished_lines,
    format_duration,
    log_text,
    render,
    step_caption,
    step_done_text,
    task_text,
)
from flowkit.surfaces.state import RunProgress, StepState
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
        task_text(task("train", "7", "killed", exit_code=-9), ASCII) == "k train/7 killed (exit -9)"
    )
    assert task_text(task("train", "7", "succeeded"), UNICODE) is None


def test_summary_of_a_successful_run_uses_the_schedulers_clock() -> None:
    state = RunProgress()
    for event in successful_run(11):
        state.apply(event, 100.0)  # arrival times do not matter: the events' own times do
    assert finished_lines(state, 100.0, UNICODE) == [
        "✓ TrainFlow/1732442 succeeded: 14 tasks in 1.42s"
    ]


def test_a_fan_out_counts_against_its_total_as_soon_as_the_split_task_ends() -> None:
    state = state_of(("start", "1", "succeeded"))
    state.apply(FanOut("start", "1", "train", 10, 2.0), 2.0)
    # before any of its tasks starts, the body already says how many are coming
    assert render(state, 80, now=2.5)[2] == "  · train  waiting           0/10 done"
    for i in range(2):
        state.apply(task("train", f"t{i}", "running"), 3.0)
    state.apply(task("train", "t0", "succeeded"), 4.0)
    assert render(state, 80, now=5.0)[2] == "  ▸ train  running    2.00s  1/10 done, 1 running"
    assert step_caption(state.steps["train"]) == "1/10 done, 1 running"


def test_a_nested_fan_outs_total_sums_over_its_split_tasks() -> None:
    state = state_of(("start", "1", "succeeded"), ("train", "a", "succeeded"))
    state.apply(FanOut("train", "a", "pick", 3, 2.0), 2.0)
    assert state.steps["pick"].total == 3
    state.apply(FanOut("train", "b", "pick", 4, 2.5), 2.5)
    state.apply(FanOut("train", "a", "pick", 3, 2.6), 2.6)  # the same split task says it again
    assert state.steps["pick"].total == 7
    assert state.steps["end"].total is None  # no foreach fans out into it


def test_tasks_killed_by_a_cancel_show_as_killed_not_failed() -> None:
    state = state_of(("start", "1", "succeeded"), ("train", "2", "succeeded"))
    state.apply(FanOut("start", "1", "train", 3, 1.5), 1.5)
    state.apply(task("train", "3", "running"), 1.5)
    state.apply(task("train", "3", "killed", exit_code=-9), 2.0)
    state.apply(RunFinished("TrainFlow", "1732442", "cancelled", 2.5, {"killed": 1}), 2.5)
    train = state.steps["train"]
    assert train.phase(run_over=True) == "killed"
    assert render(state, 80, now=3.0)[2] == "  ⊘ train  killed     1.00s  1/3 done, 1 killed"
    assert render(state, 80, now=3.0, glyphs=ASCII)[2].startswith("  k train  killed")
    assert step_done_text(train, 3.0, UNICODE) == "⊘ step train: 1/3 done, 1 killed in 1.00s"
    # a failure of its own outweighs a kill
    both = StepState("train", {"3": "killed", "4": "failed"}, complete=True)
    assert both.phase(run_over=True) == "failed"
