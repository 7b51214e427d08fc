"""The rich display of a :class:`~flowkit.client.objects.Flow` in Jupyter: its most recent
runs as a small table (id, status, started, duration), read from run records only; no task
or artifact is loaded, so a flow with thousands of runs displays at once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from html import escape
from itertools import islice
from typing import TYPE_CHECKING

from flowkit.client.dag import PHASE_COLOURS
from flowkit.client.durations import format_duration

if TYPE_CHECKING:
    from flowkit.client.objects import Run

#: How many runs the table lists, newest first.
RECENT = 10
_CELL = "text-align:left;padding:2px 10px 2px 0;vertical-align:top"
#: The DAG colour of a run's status: a cancelled run's like its killed tasks', a crashed
#: one's like a failure.
_STATUS = {
    "succeeded": "succeeded",
    "failed": "failed",
    "crashed": "failed",
    "cancelled": "killed",
    "running": "running",
}


def flow_html(name: str, runs: Iterable[Run], now: datetime | None = None) -> str:
    """``name``'s most recent runs (``runs``: newest first) as an HTML table."""
    shown = list(islice(runs, RECENT + 1))
    more = len(shown) > RECENT
    rows = "".join(_row(run, now or datetime.now(UTC)) for run in shown[:RECENT])
    head = "".join(
        f"<th style='{_CELL}'>{h}</th>" for h in ("run", "status", "started", "duration")
    )
    note = (
        f"<div>the {RECENT} most recent; all of them: <code>list(Flow({escape(repr(name))}))</code></div>"
        if more
        else ""
    )
    return (
        "<div class='flowkit-flow' style='font-family:sans-serif;font-size:13px'>"
        f"<b>Flow {escape(name)}</b> &middot; recent runs"
        f"<table style='margin-left:0'><tr>{head}</tr>{rows}</table>"
        f"{note}</div>"
    )


def _row(run: Run, now: datetime) -> str:
    status = run.status
    colour = PHASE_COLOURS.get(_STATUS.get(status, "not run"), PHASE_COLOURS["not run"])
    started = run.created_at
    ended = run.finished_at or (now if status == "running" else None)
    duration = "" if ended is None else format_duration((ended - started).total_seconds())
    cells = [
        f"<code>{escape(run.id)}</code>",
        f"<span style='background:{colour};padding:0 4px;border-radius:3px'>{escape(status)}</span>",
        escape(started.astimezone().strftime("%Y-%m-%d %H:%M:%S")),
        escape(duration),
    ]
    return "<tr>" + "".join(f"<td style='{_CELL}'>{c}</td>" for c in cells) + "</tr>"
