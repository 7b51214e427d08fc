"""Metrics a step logs (``current.log_metric``): kept in the task's memory while it runs, and
stored with its artifacts when it succeeds, as the private artifact :data:`METRICS_ARTIFACT`
(a list of ``(name, value, step, timestamp_ms)``), which the store keeps write-once like any
other. Logging one is an append: cheap in a training loop. A tracker (the MLflow extension)
reads them from the task's record, so ``sync`` can send them again later.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from flowkit.errors import FlowkitError

#: The artifact that holds a task's metrics (private: ``flowkit show`` lists it with --private).
METRICS_ARTIFACT = "_flowkit_metrics"

Metric = tuple[str, float, int, int]

#: This task's metrics so far. A task process runs one task at a time (:func:`start` empties it
#: as one starts), and a step's threads may log into it (an append is atomic).
_LOGGED: list[Metric] = []


def start() -> None:
    """A task starts: nothing logged yet."""
    _LOGGED.clear()


def log(name: str, value: Any, step: int | None) -> None:
    """Keep one metric; a bad name, value or step is the step's to fix."""
    if not isinstance(name, str) or not name:
        raise FlowkitError(
            f"current.log_metric: the metric name {name!r} is not a non-empty string",
            'name it with a string, e.g. current.log_metric("loss", 0.25)',
        )
    number_like = isinstance(value, int | float) or hasattr(value, "__float__")
    if isinstance(value, bool) or not number_like:
        raise FlowkitError(
            f"current.log_metric: metric '{name}' has the value {value!r}, not a number",
            "log a number (an int, a float, a numpy scalar); store anything else as an artifact",
        )
    number = float(value)
    if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
        raise FlowkitError(
            f"current.log_metric: metric '{name}' has step={step!r}, not an int",
            "give step as an int (the epoch or iteration), or leave it out",
        )
    _LOGGED.append((name, number, 0 if step is None else step, int(time.time() * 1000)))


def log_many(values: Mapping[str, Any], step: int | None) -> None:
    """Keep several metrics at once, with one time."""
    if not isinstance(values, Mapping):
        raise FlowkitError(
            f"current.log_metrics takes a dict of name -> number, not {type(values).__name__}",
            'e.g. current.log_metrics({"loss": 0.25, "accuracy": 0.9}, step=3)',
        )
    for name, value in values.items():
        log(name, value, step)


def taken() -> list[Metric]:
    """What the task logged, to store with its artifacts; empty after."""
    logged = list(_LOGGED)
    _LOGGED.clear()
    return logged
