"""Synthetic event sequences for the terminal view's tests: a run as a scheduler would report it."""

from __future__ import annotations

from collections.abc import Iterator

from flowkit.runtime.events import Event, RunFinished, RunStarted, StepInfo, TaskEvent, TaskOutput

STEPS = (
    StepInfo("start", ("train",), "foreach", False),
    StepInfo("train", ("pick",), "linear", False),
    StepInfo("pick", ("end",), "linear", True),
    StepInfo("end", (), "end", False),
)
TRACEBACK = """Traceback (most recent call last):
  File "train.py", line 21, in train
    raise ValueError("alpha must be positive")
ValueError: alpha must be positive"""


def started(t: float = 0.0) -> RunStarted:
    return RunStarted("TrainFlow", "1732442", "/tmp/store", STEPS, t)


def task(step: str, task_id: str, status: str, t: float = 0.0, **kw: object) -> TaskEvent:
    return TaskEvent(step, task_id, status, kw.pop("attempt", 0), t, **kw)  # type: ignore[arg-type]


def log(step: str, task_id: str, text: str, t: float = 0.0) -> TaskOutput:
    return TaskOutput(step, task_id, "stdout", text, t)


def successful_run(splits: int = 3) -> Iterator[Event]:
    """start -> train x splits (foreach) -> pick -> end, everything succeeding."""
    yield started(0.0)
    yield task("start", "1", "running", 0.1)
    yield log("start", "1", "loading rows", 0.2)
    yield task("start", "1", "succeeded", 0.3)
    for i in range(splits):
        yield task("train", str(2 + i), "running", 0.4)
        yield log("train", str(2 + i), f"fitting model {i}", 0.5)
    for i in range(splits):
        yield task("train", str(2 + i), "succeeded", 0.9)
    n = 2 + splits
    yield task("pick", str(n), "running", 1.0)
    yield task("pick", str(n), "succeeded", 1.1)
    yield task("end", str(n + 1), "running", 1.2)
    yield task("end", str(n + 1), "succeeded", 1.3)
    yield RunFinished("TrainFlow", "1732442", "succeeded", 1.42, {"succeeded": splits + 3})


def failing_run() -> Iterator[Event]:
    """start -> train x 2, where train/3 fails and the run stops before pick."""
    yield started(0.0)
    yield task("start", "1", "running", 0.1)
    yield task("start", "1", "succeeded", 0.2)
    yield task("train", "2", "running", 0.3)
    yield task("train", "3", "running", 0.3)
    yield log("train", "3", "about to fail", 0.4)
    yield task("train", "3", "failed", 0.5, error="ValueError: alpha must be positive", exit_code=1)
    yield task("train", "2", "succeeded", 0.6)
    yield RunFinished(
        "TrainFlow",
        "1732442",
        "failed",
        0.7,
        {"succeeded": 2, "failed": 1},
        failure=TRACEBACK,
        failed_pathspec="TrainFlow/1732442/train/3",
        resume_command="python train.py resume",
    )
