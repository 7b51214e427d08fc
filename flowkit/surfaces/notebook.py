"""The live view of a run in a Jupyter cell: an ipywidgets HTML widget redrawn as events come.

It shows the DAG with each step's state and task counts, a table of steps with elapsed
times, and the latest lines the tasks printed; at the end, the summary and, on failure, the
failing task's traceback and how to resume.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from html import escape
from typing import Any

from flowkit.client.dag import dag_svg
from flowkit.runtime.events import (
    Event,
    RunDetached,
    RunFinished,
    RunStarted,
    SlaMissed,
    TaskOutput,
)
from flowkit.surfaces.layout import UNICODE, limit_text, resuming_text, step_caption
from flowkit.surfaces.state import RunProgress

_LOG_LINES = 12
#: The steps table: columns set apart, headings over their words (a browser centres a bare
#: <th>), its text in line with the head line above.
_TABLE = "text-align:left;border-spacing:14px 2px;margin-left:-14px"


class NotebookView:
    """A :class:`~flowkit.runtime.events.ProgressSink` drawing into a widget in the cell.

    Events only fold into the state and mark the view stale; a background thread redraws it
    every ``refresh_interval`` seconds when it is stale, and at least twice a second while the
    run goes, so elapsed times move and a new log line shows within a fraction of a second
    even while no task changes state, and a 1,000-task foreach costs a few redraws a second,
    not one per event. (ipywidgets send a changed value to the front end from any thread.)
    """

    TICK = 0.5  # while the run goes, redraw at least this often: elapsed times move

    def __init__(
        self,
        *,
        quiet: bool = False,
        refresh_interval: float = 0.25,
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
        self._dirty = False  # the state changed since the widget was last drawn
        self._lock = threading.Lock()  # the scheduler's thread and the ticker share the state
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._logs: deque[str] = deque(maxlen=_LOG_LINES)
        self._targets: list[tuple[str, tuple[str, ...]]] = []
        self._detached: RunDetached | None = None
        if display is None:
            from IPython.display import display as show

            display = show
        display(self.widget)

    def handle(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, RunDetached):
                self._detached = event
                self.widget.value = _detached_html(event)
                return
            now = self._clock()
            self.state.apply(event, now)
            self._dirty = True
            if isinstance(event, RunStarted):
                self._targets = [(s.name, s.targets) for s in event.steps]
            elif isinstance(event, TaskOutput) and not self._quiet:
                self._logs.append(f"[{event.step}/{event.task_id}] {event.text}")
            elif isinstance(event, SlaMissed):  # with --quiet too: someone should know
                from flowkit.runtime.sla import missed_text

                self._logs.append(f"[sla] {missed_text(event)}")
            if isinstance(event, RunStarted | RunFinished):
                self._draw(now)
        if isinstance(event, RunStarted) and self._ticker is None:
            self._ticker = threading.Thread(
                target=self._tick, name="flowkit-notebook-view", daemon=True
            )
            self._ticker.start()
        elif isinstance(event, RunFinished):
            self._stop.set()

    def close(self) -> None:
        self._stop.set()
        ticker, self._ticker = self._ticker, None
        if ticker is not None and ticker is not threading.current_thread():
            ticker.join(timeout=1.0)
        with self._lock:
            if self._detached is None:  # a detached run's view stays what it said
                self._draw(self._clock())

    def _tick(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                now = self._clock()
                if not self._stop.is_set() and (self._dirty or now - self._last >= self.TICK):
                    self._draw(now)

    def _draw(self, now: float) -> None:
        """Redraw from the state; the front end hears of it only if what it shows changed."""
        html = self.render(now)
        self._last, self._dirty = now, False
        if html != self.widget.value:
            self.widget.value = html

    def render(self, now: float) -> str:
        """The whole view as HTML, from the state alone."""
        state = self.state
        over = state.finished is not None
        phases = {name: (s.phase(over), step_caption(s)) for name, s in state.steps.items()}
        head = (
            f"<b>{escape(state.pathspec)}</b> &middot; {escape(state.status)} &middot; "
            f"{state.run_elapsed(now):.2f}s &middot; store <code>{escape(state.store)}</code>"
        )
        rows = "".join(
            f'<tr data-phase="{phases[name][0]}"><td>{escape(name)}</td>'
            f"<td>{UNICODE.phase(phases[name][0])} {escape(phases[name][0])}</td>"
            f"<td>{escape(phases[name][1])}</td><td>{_seconds(s.elapsed(now))}</td></tr>"
            for name, s in state.steps.items()
        )
        table = (
            f'<table class="flowkit-steps" style="{_TABLE}"><tr><th>step</th><th>state</th>'
            "<th>tasks</th>"
            f"<th>elapsed</th></tr>{rows}</table>"
        )
        resuming, limit = resuming_text(state), limit_text(state)
        parts = [
            f'<div class="flowkit-run"><div>{head}</div>',
            "" if resuming is None else f"<div>{escape(resuming)}</div>",
            "" if limit is None else f'<div class="flowkit-limit">{escape(limit)}</div>',
            dag_svg(self._targets, phases),
            table,
        ]
        tail = _log_tail(self._logs, state)
        if tail:
            parts.append(f"<pre>{escape(chr(10).join(tail))}</pre>")
        if state.finished is not None:
            parts.append(_finished(state))
        parts.append("</div>")
        return "".join(parts)


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}s"


def _finished(state: RunProgress) -> str:
    # One line: the cell's own error display under the view (RunFailed._render_traceback_)
    # shows the traceback and the resume call once; that one stays in a saved notebook and
    # in papermill's output, where a widget's content does not. A user who catches RunFailed
    # sees no error display, so the line also says where the traceback and the call are.
    event = state.finished
    assert event is not None
    if not (event.failure or event.resume_command):
        return ""
    caught = "where RunFailed is caught as exc"
    resume = f"how to resume is below (or in <code>exc.hint</code> {caught})"
    if event.status == "cancelled":  # no traceback: say why, and that a resume loses nothing
        reason = event.failure.splitlines()[0] if event.failure else "cancelled"
        said = reason if reason.startswith("cancelled") else f"cancelled ({reason})"
        mark, line = (
            UNICODE.cancelled,
            f"{escape(said)}: nothing finished is lost &middot; {resume}",
        )
    elif event.failed_pathspec:
        error = _error_line(event.failure or "")
        step, task_id = event.failed_pathspec.split("/")[-2:]
        task = escape(f"exc.run[{step!r}][{task_id!r}]")  # its run's store, whichever it is
        mark, line = (
            UNICODE.failed,
            (
                f"{escape(event.failed_pathspec)} failed"
                + (f": <code>{escape(error)}</code>" if error else "")
                + " &middot; the traceback and how to resume are below "
                f"(or <code>{task}</code> and <code>exc.hint</code> {caught})"
            ),
        )
    else:  # the scheduler's own reason, no task's traceback
        why = (event.failure or "").strip().splitlines()
        said = f": <code>{escape(why[0])}</code>" if why else ""
        mark, line = UNICODE.failed, f"{escape(event.status)}{said} &middot; {resume}"
    return f'<div class="flowkit-failure">{mark} {line}</div>'


def _log_tail(logs: Iterable[str], state: RunProgress) -> list[str]:
    """The latest log lines, less the failed task's traceback once the run ended on it (the
    task echoed it to stderr): the cell's error display below shows it, once."""
    event = state.finished
    if event is None or not event.failure or not event.failed_pathspec:
        return list(logs)
    step, task_id = event.failed_pathspec.split("/")[-2:]
    prefix = f"[{step}/{task_id}] "
    said = set(event.failure.splitlines())
    return [line for line in logs if not (line.startswith(prefix) and line[len(prefix) :] in said)]


def _error_line(failure: str) -> str:
    """The exception's first line in a traceback (``ValueError: bad``), after its frames."""
    for line in failure.splitlines():
        if line and not line[0].isspace() and not line.startswith("Traceback ("):
            return line
    return ""


def _detached_html(event: RunDetached) -> str:
    """Where a detached run's scheduler went, and how to follow the run from here."""
    return (
        f"<b>{escape(event.flow)}/{escape(event.run_id)}</b> &middot; detached: its scheduler "
        f"runs as {escape(event.where)} &middot; store <code>{escape(event.store)}</code><br>"
        f"follow it with <code>Flow({event.flow!r})[{event.run_id!r}]</code> "
        f"or <code>flowkit show {escape(event.flow)}/{escape(event.run_id)}</code>"
    )
