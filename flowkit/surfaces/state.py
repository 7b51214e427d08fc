"""The progress of one run as the surfaces see it, folded from the scheduler's events.

Plain mutable data with no I/O, so every surface (terminal, notebook) can share it and tests
can build any state directly. Times are the surface's own clock readings when an event arrived,
so "now" and the step timings always come from the same clock.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

from flowkit.fastdata import dataclass, field
from flowkit.runtime.events import (
    Event,
    FanOut,
    RunFinished,
    RunStarted,
    TaskEvent,
    TaskOutput,
    TaskPhase,
)
from flowkit.store.records import RunStatus

StepPhase = Literal["waiting", "running", "done", "failed", "killed", "cloned", "not run"]

ACTIVE: frozenset[TaskPhase] = frozenset({"running", "retrying"})
FAILED: frozenset[TaskPhase] = frozenset({"failed", "killed"})


@dataclass
class StepState:
    """One step: the latest status of each of its tasks, and when it started and last changed."""

    name: str
    tasks: dict[str, TaskPhase] = field(default_factory=dict)
    started: float | None = None
    changed: float | None = None
    # Set once no task of the step runs and a successor has started (or the run ended):
    # only then do we know no more tasks of this step are coming.
    complete: bool = False
    #: A foreach body's fan-out: split task id -> how many tasks it fans out into.
    splits: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int | None:
        """How many tasks the step will have, once a split task said so (None before, and
        for a step that no foreach fans out into)."""
        return sum(self.splits.values()) if self.splits else None

    def counts(self) -> Counter[str]:
        return Counter(self.tasks.values())

    @property
    def active(self) -> bool:
        return any(status in ACTIVE for status in self.tasks.values())

    def phase(self, run_over: bool = False) -> StepPhase:
        if not self.tasks:
            return "not run" if run_over else "waiting"
        if not self.complete:
            return "running"
        counts = self.counts()
        if counts["failed"]:
            return "failed"
        if counts["killed"]:  # stopped by a cancel (Ctrl-C), not by its own failure
            return "killed"
        if counts["cloned"] == len(self.tasks):
            return "cloned"
        return "done"

    def elapsed(self, now: float) -> float | None:
        if self.started is None:
            return None
        end = self.changed if self.complete and self.changed is not None else now
        return max(0.0, end - self.started)


@dataclass
class RunProgress:
    """A run as it goes: its steps in graph order, plus what is known about how it started and
    ended. (What the store says of a finished or crashed run is its ``RunState``.)"""

    flow: str = ""
    run_id: str = ""
    store: str = ""
    steps: dict[str, StepState] = field(default_factory=dict)
    predecessors: dict[str, tuple[str, ...]] = field(default_factory=dict)
    started: float | None = None
    finished: RunFinished | None = None
    started_event: RunStarted | None = None

    @property
    def pathspec(self) -> str:
        return f"{self.flow}/{self.run_id}"

    @property
    def status(self) -> RunStatus | Literal["running"]:
        return self.finished.status if self.finished else "running"

    def task_counts(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for step in self.steps.values():
            total.update(step.counts())
        return total

    def step(self, name: str) -> StepState:
        if name not in self.steps:
            self.steps[name] = StepState(name)
        return self.steps[name]

    def apply(self, event: Event, now: float) -> list[StepState]:
        """Fold ``event`` in; return the steps that this event showed to be complete."""
        if isinstance(event, RunStarted):
            self._start(event, now)
        elif isinstance(event, TaskEvent):
            return self._task(event, now)
        elif isinstance(event, RunFinished):
            return self._finish(event, now)
        elif isinstance(event, TaskOutput):
            self.step(event.step)
        elif isinstance(event, FanOut):
            self.step(event.body).splits[event.split_task_id] = event.count
        return []

    def _start(self, event: RunStarted, now: float) -> None:
        self.flow, self.run_id, self.store = event.flow, event.run_id, event.store
        self.started, self.started_event = now, event
        preds: dict[str, list[str]] = {}
        for info in event.steps:
            self.step(info.name)
            for target in info.targets:
                preds.setdefault(target, []).append(info.name)
        self.predecessors = {name: tuple(names) for name, names in preds.items()}

    def _task(self, event: TaskEvent, now: float) -> list[StepState]:
        step = self.step(event.step)
        if event.task_id not in step.tasks and step.complete:
            step.complete = False  # recursion or a later nested fan-out reopened it
        step.tasks[event.task_id] = event.status
        step.started = now if step.started is None else step.started
        step.changed = now
        if event.status != "running":
            return []
        done = []
        for name in self.predecessors.get(event.step, ()):
            pred = self.steps[name]
            if pred.tasks and not pred.complete and not pred.active:
                pred.complete = True
                done.append(pred)
        return done

    def _finish(self, event: RunFinished, now: float) -> list[StepState]:
        self.finished = event
        if self.started is None:
            self.flow, self.run_id, self.started = event.flow, event.run_id, now
        done = []
        for step in self.steps.values():
            if step.tasks and not step.complete:
                step.complete = True
                step.changed = now if step.active else step.changed
                done.append(step)
        return done

    def run_elapsed(self, now: float) -> float:
        """Seconds the run took, from the scheduler's own timestamps once it ended."""
        if self.finished is not None and self.started_event is not None:
            return max(0.0, self.finished.time - self.started_event.time)
        return 0.0 if self.started is None else max(0.0, now - self.started)
