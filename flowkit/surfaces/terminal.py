"""The terminal view of a running flow: a progress sink that draws the scheduler's events.

On a terminal it keeps a live block (one line per step) redrawn in place, with task output
printed above it; on a pipe or a CI log it prints plain lines with no escape codes. Either way
the run ends with a one-line summary and, on failure, the traceback and the resume command.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from flowkit.runtime.events import (
    Event,
    RunDetached,
    RunFinished,
    RunStarted,
    SlaMissed,
    TaskEvent,
    TaskOutput,
)
from flowkit.surfaces.layout import (
    ASCII,
    UNICODE,
    Glyphs,
    count_text,
    detached_lines,
    finished_lines,
    format_duration,
    log_text,
    render,
    started_text,
    step_done_text,
    task_text,
)
from flowkit.surfaces.state import RunProgress, StepState

_UP = "\x1b[{}A"
_ERASE_LINE = "\x1b[2K"
_ERASE_DOWN = "\x1b[J"


class TerminalView:
    """Shows a run's progress on ``stream`` (default: ``sys.stderr``); a ``ProgressSink``.

    ``live`` picks the mode: None (the default) draws a live block when ``stream`` is a
    terminal and ``TERM`` is not ``dumb``, and plain lines otherwise; True or False forces it.
    ``quiet`` shows only failures and the closing summary (and never a live block). ``width``
    fixes the line width instead of asking the terminal. ``refresh_interval`` is how often a
    background thread may redraw the live block so elapsed times keep moving between events
    (None: only on events).
    """

    MIN_REDRAW = 0.1  # at most ten redraws a second, however fast events come
    IDLE_REDRAW = 0.5  # keep elapsed times moving while nothing happens (needs the thread)
    PROGRESS_EVERY = 10.0  # plain mode: how often unfinished steps report their counts

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        quiet: bool = False,
        live: bool | None = None,
        width: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        refresh_interval: float | None = 0.1,
    ) -> None:
        self._stream = sys.stderr if stream is None else stream
        self._quiet = quiet
        self._live = not quiet and (is_terminal(self._stream) if live is None else live)
        self._width = width
        self._clock = clock
        self._refresh_interval = refresh_interval
        encoding = getattr(self._stream, "encoding", None)
        self._glyphs: Glyphs = UNICODE if not encoding or UNICODE.encodable(encoding) else ASCII
        self.state = RunProgress()
        self._lock = threading.RLock()
        self._drawn = 0  # lines of the live block now on screen, below the cursor's row
        self._last_draw = float("-inf")
        self._dirty = False  # the state changed since the block was last drawn
        self._last_progress = float("-inf")
        self._broken = False
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._last_stderr: dict[str, str] = {}  # task id -> its last line echoed from stderr

    @property
    def live(self) -> bool:
        return self._live

    def handle(self, event: Event) -> None:
        with self._lock:
            now = self._clock()
            completed = self.state.apply(event, now)
            self._dirty = True
            if isinstance(event, RunStarted):
                self._started(now)
            elif isinstance(event, TaskOutput):
                if not self._quiet:
                    self._print([log_text(event)], now)
                    if event.stream == "stderr":
                        self._last_stderr[event.task_id] = event.text
            elif isinstance(event, TaskEvent):
                self._task(event, completed, now)
            elif isinstance(event, RunFinished):
                self._finished(completed, now)
            elif isinstance(event, SlaMissed):  # shown even with --quiet: someone should know
                from flowkit.runtime.sla import missed_text

                self._print([f"{self._glyphs.running} {missed_text(event)}"], now)
            elif isinstance(event, RunDetached):  # shown even with --quiet: it is the answer
                # no live block after it: no run goes on in this process to draw
                self._print(detached_lines(event, self._glyphs), now, redraw=False)

    def echo(self, text: str) -> None:
        """Print ``text`` for the user without tearing the live block."""
        with self._lock:
            self._print(text.splitlines(), self._clock())

    def close(self) -> None:
        self._stop.set()
        ticker, self._ticker = self._ticker, None
        if ticker is not None and ticker is not threading.current_thread():
            ticker.join(timeout=1.0)
        with self._lock:
            if self._live and self._drawn:
                self._redraw(self._clock())
                self._drawn = 0

    # -- events ---------------------------------------------------------------------------

    def _started(self, now: float) -> None:
        self._last_progress = now
        if not self._quiet:
            self._print([started_text(self.state, self._glyphs)], now)
        if self._live and self._refresh_interval is not None and self._ticker is None:
            self._ticker = threading.Thread(
                target=self._tick, name="flowkit-terminal-view", daemon=True
            )
            self._ticker.start()

    def _task(self, event: TaskEvent, completed: list[StepState], now: float) -> None:
        lines = []
        text = task_text(event, self._glyphs)
        if text is not None and not (self._quiet and event.status == "retrying"):
            lines.append(text)
        if not self._live and not self._quiet:
            lines += [step_done_text(step, now, self._glyphs) for step in completed]
            if now - self._last_progress >= self.PROGRESS_EVERY:
                self._last_progress = now
                lines += self._progress_lines(now)
        if lines:
            self._print(lines, now)
        elif self._live and now - self._last_draw >= self.MIN_REDRAW:
            self._redraw(now)

    def _finished(self, completed: list[StepState], now: float) -> None:
        self._stop.set()
        lines = []
        if not self._live and not self._quiet:
            lines += [step_done_text(step, now, self._glyphs) for step in completed]
        if self._live:
            # The final block stays on screen above the summary, so it may be taller than it.
            self._redraw(now, fit=False)
            self._drawn = 0
        lines += finished_lines(
            self.state, now, self._glyphs, traceback_shown=self._traceback_shown()
        )
        self._print(lines, now, redraw=False)

    def _traceback_shown(self) -> bool:
        """Whether the failed task's echoed stderr already ended with its traceback."""
        event = self.state.finished
        if event is None or not event.failure or not event.failed_pathspec:
            return False
        task_id = event.failed_pathspec.rsplit("/", 1)[-1]
        last = event.failure.rstrip("\n").splitlines()[-1]
        return self._last_stderr.get(task_id) == last

    def _progress_lines(self, now: float) -> list[str]:
        """Where long-running steps stand; a step that just began has nothing to report yet."""
        lines = []
        for step in self.state.steps.values():
            elapsed = step.elapsed(now) or 0.0
            if step.tasks and not step.complete and elapsed >= self.PROGRESS_EVERY / 2:
                counts = count_text(step.counts(), step.total)
                lines.append(
                    f"{self._glyphs.running} step {step.name}: {counts} ({format_duration(elapsed)})"
                )
        return lines

    # -- drawing --------------------------------------------------------------------------

    def _print(self, lines: list[str], now: float, redraw: bool = True) -> None:
        """Write whole lines; in live mode above the block, which is redrawn if it is time."""
        text = "".join(line + "\n" for line in lines)
        if not self._live:
            self._write(text)
            return
        # Line by line, not one erase-to-end: tmux files a whole-screen erase into scrollback.
        erase = (_UP.format(1) + _ERASE_LINE) * self._drawn + "\r"
        self._drawn = 0
        self._write(erase + text)
        # Under a flood of output the block stays away until the throttle allows a redraw.
        if redraw and self.state.finished is None and now - self._last_draw >= self.MIN_REDRAW:
            self._redraw(now)

    def _redraw(self, now: float, fit: bool = True) -> None:
        width, height = self._size()
        lines = render(self.state, max(width - 1, 10), now, self._glyphs, height if fit else None)
        up = _UP.format(self._drawn) + "\r" if self._drawn else "\r"
        body = "".join(_ERASE_LINE + line + "\n" for line in lines)
        self._write(up + body + _ERASE_DOWN)
        self._drawn = len(lines)
        self._last_draw = now
        self._dirty = False

    def _tick(self) -> None:
        assert self._refresh_interval is not None
        while not self._stop.wait(self._refresh_interval):
            with self._lock:
                if self._stop.is_set():
                    return
                now = self._clock()
                stale = self._dirty or self._drawn == 0 or now - self._last_draw >= self.IDLE_REDRAW
                if stale and now - self._last_draw >= self.MIN_REDRAW:
                    self._redraw(now)

    def _size(self) -> tuple[int, int | None]:
        try:
            size = os.get_terminal_size(self._stream.fileno())
        except (OSError, ValueError, AttributeError):
            return (self._width or 80, None)
        return (self._width or size.columns, size.lines - 1 if size.lines > 2 else None)

    def _write(self, text: str) -> None:
        if self._broken or not text:
            return
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):
            # The reader went away (BrokenPipeError under `| head`) or the stream was closed:
            # the run goes on without a view rather than failing over its own progress output.
            self._broken = True


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is an interactive terminal that understands cursor movement."""
    try:
        tty = stream.isatty()
    except (ValueError, AttributeError):
        return False
    return tty and os.environ.get("TERM", "") != "dumb"
