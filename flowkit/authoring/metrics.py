"""Metrics a step logs (``current.log_metric``): kept in the task's memory while it runs, and
stored with its artifacts when it succeeds, as the private artifact :data:`METRICS_ARTIFACT`
(a list of ``(name, value, step, timestamp_ms)``), which the store keeps write-once like any
other. Logging one is an append: cheap in a training loop. A tracker (the MLflow extension)
reads them from the task's record, so ``sync`` can send them again later.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from flowkit.errors import FlowkitError

#: The artifact that holds a task's metrics (private: ``flowkit show`` lists it with --private).
METRICS_ARTIFACT = "_flowkit_metrics"

Metric = tuple[str, float, int, int]

#: What a tracker takes as a metric's name (MLflow's rule: letters, digits, ``_ - . / :`` and
#: spaces, no ``..``, at most 250 characters); a step is a signed 64-bit integer.
_NAME = re.compile(r"^[/\w.\- :]*$")
NAME_CHARS = 250
_STEP_LIMIT = 2**63

#: This task's metrics so far. A task process runs one task at a time (:func:`start` empties it
#: as one starts), and a step's threads may log into it (an append is atomic).
_LOGGED: list[Metric] = []


def start() -> None:
    """A task starts: nothing logged yet."""
    _LOGGED.clear()


def refusal(name: object, step: object) -> str | None:
    """Why ``name`` or ``step`` is not a metric's a tracker takes (None: it is); the store's
    metrics from before this rule are checked again with it before they are sent."""
    if not isinstance(name, str) or not name:
        return f"the metric name {name!r} is not a non-empty string"
    if len(name) > NAME_CHARS or not _NAME.match(name) or ".." in name:
        return (
            f"the metric name {name!r} is not one MLflow takes (letters, digits, spaces and "
            f"_ - . / : only, no '..', at most {NAME_CHARS} characters)"
        )
    if isinstance(step, bool) or not isinstance(step, int):
        return f"metric '{name}' has step={step!r}, not an int"
    if not -_STEP_LIMIT <= step < _STEP_LIMIT:
        return f"metric '{name}' has step={step}, past a 64-bit integer"
    return None


def log(name: str, value: Any, step: int | None) -> None:
    """Keep one metric; a bad name, value or step is the step's to fix."""
    wrong = refusal(name, 0 if step is None else step)
    if wrong is not None:
        raise FlowkitError(
            f"current.log_metric: {wrong}",
            'name it with letters, digits and _ - . / : (e.g. current.log_metric("acc_top5", '
            "0.5)) and give step as an int (the epoch or iteration), or leave it out",
        )
    number_like = isinstance(value, int | float) or hasattr(value, "__float__")
    number = None
    if number_like and not isinstance(value, bool):
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):  # a numpy array of several, ...
            number = None
    if number is None:
        raise FlowkitError(
            f"current.log_metric: metric '{name}' has the value {_short(value)}, not a number",
            "log a number (an int, a float, a numpy scalar); store anything else as an artifact",
        )
    _LOGGED.append((name, number, 0 if step is None else step, int(time.time() * 1000)))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


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
