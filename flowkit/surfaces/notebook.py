"""The live view of a run in a Jupyter cell: an ipywidgets HTML widget redrawn as events come.

It shows the DAG with each step's state and task counts, a table of steps with elapsed
times, and the latest lines the tasks printed; at the end, the summary and, on failure, the
failing task's traceback and how to resume.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from html import escape
from typing import Any

from flowkit.client.dag import caption, dag_svg
from flowkit.runtime.events import Event, RunDetached, RunFinished, RunStarted, TaskOutput
from flowkit.surfaces.layout import resuming_text
from flowkit.surfaces.state import RunProgress, StepState

_LOG_LINES = 12


class NotebookView:
    """A :class:`~flowkit.runtime.events.ProgressSink` drawing into a widget in the cell."""

    def __init__(
        self,
        *,
        quiet: bool = False,
        refresh_interval: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
        display: Callable[[Any], Any] | None = None,
    ) -> None:
        import ipywidgets

        self.widget = ipywidgets.HTML(value="<i>starting…</i>")
        self.state = RunProgress()
        self._quiet = quiet
        self._interval = refresh_interval
        self._clock = clock
        self._last = float("-inf")
        self._logs: deque[str] = deque(maxlen=_LOG_LINES)
        self._targets: list[tuple[str, tuple[str, ...]]] = []
        self._detached: RunDetached | None = None
        if display is None:
            from IPython.display import display as show

            display = show
        display(self.widget)

    def handle(self, event: Event) -> None:
        if isinstance(event, RunDetached):
            self._detached = event
            self.widget.value = _detached_html(event)
            return
        now = self._clock()
        self.state.apply(event, now)
        if isinstance(event, RunStarted):
            self._targets = [(s.name, s.targets) for s in event.steps]
        elif isinstance(event, TaskOutput) and not self._quiet:
            self._logs.append(f"[{event.step}/{event.task_id}] {event.text}")
        if isinstance(event, RunStarted | RunFinished) or now - self._last >= self._interval:
            self._last = now
            self.widget.value = self.render(now)

    def close(self) -> None:
        if self._detached is None:  # a detached run's view stays what it said
            self.widget.value = self.render(self._clock())

    def render(self, now: float) -> str:
        """The whole view as HTML, from the state alone."""
        state = self.state
        over = state.finished is not None
        phases = {name: (s.phase(over), _caption(s)) for name, s in state.steps.items()}
        head = (
            f"<b>{escape(state.pathspec)}</b> &middot; {escape(state.status)} &middot; "
            f"{state.run_elapsed(now):.2f}s &middot; store <code>{escape(state.store)}</code>"
        )
        rows = "".join(
            f"<tr><td>{escape(name)}</td><td>{escape(phases[name][0])}</td>"
            f"<td>{escape(_caption(s))}</td><td>{_seconds(s.elapsed(now))}</td></tr>"
            for name, s in state.steps.items()
        )
        table = (
            '<table class="flowkit-steps"><tr><th>step</th><th>state</th><th>tasks</th>'
            f"<th>elapsed</th></tr>{rows}</table>"
        )
        resuming = resuming_text(state)
        parts = [
            f'<div class="flowkit-run"><div>{head}</div>',
            "" if resuming is None else f"<div>{escape(resuming)}</div>",
            dag_svg(self._targets, phases),
            table,
        ]
        if self._logs:
            parts.append(f"<pre>{escape(chr(10).join(self._logs))}</pre>")
        if state.finished is not None:
            parts.append(_finished(state))
        parts.append("</div>")
        return "".join(parts)


def _caption(step: StepState) -> str:
    return caption(step.counts())


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}s"


def _finished(state: RunProgress) -> str:
    event = state.finished
    assert event is not None
    out = ""
    if event.failure:
        where = f"{escape(event.failed_pathspec)} failed:" if event.failed_pathspec else ""
        out += f'<div class="flowkit-failure">{where}<pre>{escape(event.failure)}</pre></div>'
    if event.resume_command:
        out += f"<div>To resume: <code>{escape(event.resume_command)}</code></div>"
    return out


def _detached_html(event: RunDetached) -> str:
    """Where a detached run's scheduler went, and how to follow the run from here."""
    return (
        f"<b>{escape(event.flow)}/{escape(event.run_id)}</b> &middot; detached: its scheduler "
        f"runs as {escape(event.where)} &middot; store <code>{escape(event.store)}</code><br>"
        f"follow it with <code>Flow({event.flow!r})[{event.run_id!r}]</code> "
        f"or <code>flowkit show {escape(event.flow)}/{escape(event.run_id)}</code>"
    )
