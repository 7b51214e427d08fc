"""Pure text layout of a run's progress: state in, lines out, no terminal involved."""

from __future__ import annotations

from collections import Counter

from flowkit.client.durations import format_duration as format_duration
from flowkit.fastdata import dataclass
from flowkit.runtime.events import RunDetached, TaskEvent, TaskOutput, TaskPhase
from flowkit.surfaces.state import RunProgress, StepPhase, StepState


@dataclass(frozen=True)
class Glyphs:
    """The marks the view draws, so a stream that cannot encode Unicode gets ASCII ones."""

    waiting: str
    running: str
    done: str
    failed: str
    killed: str
    cloned: str
    not_run: str
    retrying: str
    started: str
    cancelled: str
    ellipsis: str

    def phase(self, phase: StepPhase) -> str:
        return {
            "waiting": self.waiting,
            "running": self.running,
            "done": self.done,
            "failed": self.failed,
            "killed": self.killed,
            "cloned": self.cloned,
            "not run": self.not_run,
        }[phase]

    def encodable(self, encoding: str) -> bool:
        try:
            "".join(vars(self).values()).encode(encoding)
        except (UnicodeEncodeError, LookupError):
            return False
        return True


UNICODE = Glyphs(
    waiting="·",
    running="▸",
    done="✓",
    failed="✗",
    killed="⊘",
    cloned="↺",
    not_run="-",
    retrying="↻",
    started="▶",
    cancelled="■",
    ellipsis="…",
)
ASCII = Glyphs(
    waiting=".",
    running=">",
    done="+",
    failed="x",
    killed="k",
    cloned="=",
    not_run="-",
    retrying="~",
    started=">",
    cancelled="-",
    ellipsis="~",
)

# Order in which task counts are listed; "succeeded" reads as "done" to the user.
_COUNT_WORDS: tuple[tuple[TaskPhase, str], ...] = (
    ("succeeded", "done"),
    ("caught", "caught"),
    ("cloned", "cloned"),
    ("running", "running"),
    ("retrying", "retrying"),
    ("failed", "failed"),
    ("killed", "killed"),
)
_STATUSES = frozenset(status for status, _ in _COUNT_WORDS)


def pluralize(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def truncate(line: str, width: int, glyphs: Glyphs = UNICODE) -> str:
    """Cut ``line`` to ``width`` characters, marking the cut, so it never wraps."""
    if len(line) <= width:
        return line
    if width <= len(glyphs.ellipsis):
        return line[:width]
    return line[: width - len(glyphs.ellipsis)] + glyphs.ellipsis


def count_text(counts: Counter[str], total: int | None = None) -> str:
    """``37 done, 2 running, 1 failed``: only the statuses that occur, in a fixed order.
    Given the ``total`` a foreach fans out into: ``37/100 done, 2 running, 1 failed``, where
    done counts every task that finished well (caught and cloned ones are also named)."""
    words = _COUNT_WORDS if total is None else _COUNT_WORDS[1:]  # "succeeded" goes in N/total
    parts = [f"{counts[status]} {word}" for status, word in words if counts[status]]
    if total is None:
        return ", ".join(parts)
    finished = counts["succeeded"] + counts["caught"] + counts["cloned"]
    return ", ".join([f"{finished}/{total} done", *parts])


def step_caption(step: StepState) -> str:
    """A step's tasks in a few words for the widget: the status of a lone task
    (``running``), else ``7/10 done, 2 running``, against the fan-out once it is known."""
    counts = step.counts()
    if step.total is None and len(step.tasks) <= 1:
        return next(iter(step.tasks.values()), "")
    return count_text(counts, len(step.tasks) if step.total is None else step.total)


def step_line(step: StepState, name_width: int, now: float, run_over: bool, g: Glyphs) -> str:
    phase = step.phase(run_over)
    counts = step.counts()
    # A lone task that simply runs or succeeds says all it needs with the phase word.
    total = step.total
    plain = total is None and len(step.tasks) == 1 and not (counts["failed"] or counts["killed"])
    detail = "" if plain or not (step.tasks or total) else count_text(counts, total)
    elapsed = step.elapsed(now)
    timing = "" if elapsed is None else format_duration(elapsed)
    return (
        f"  {g.phase(phase)} {step.name:<{name_width}}  {phase:<7}  {timing:>7}  {detail}".rstrip()
    )


def header_line(state: RunProgress, now: float, g: Glyphs) -> str:
    counts = state.task_counts()
    what = count_text(counts) or "starting"
    return f"{state.pathspec}  {state.status}  {format_duration(state.run_elapsed(now))}  ({what})"


def render(
    state: RunProgress, width: int, now: float, glyphs: Glyphs = UNICODE, height: int | None = None
) -> list[str]:
    """The live block: a header, then one line per step in graph order, none wider than
    ``width``. Given a ``height``, steps that are running or failed are kept first and the
    rest are folded into one closing line."""
    steps = list(state.steps.values())
    run_over = state.finished is not None
    if height is not None and len(steps) + 1 > max(height, 3):
        steps, hidden = _fit(steps, max(height, 3) - 2, run_over)
    else:
        hidden = []
    name_width = max((len(s.name) for s in state.steps.values()), default=0)
    lines = [header_line(state, now, glyphs)]
    lines += [step_line(s, name_width, now, run_over, glyphs) for s in steps]
    if hidden:
        phases = Counter(s.phase(run_over) for s in hidden)
        summary = ", ".join(f"{n} {phase}" for phase, n in sorted(phases.items()))
        lines.append(f"  {glyphs.ellipsis} {len(hidden)} more steps ({summary})")
    return [truncate(line, width, glyphs) for line in lines]


def _fit(
    steps: list[StepState], room: int, run_over: bool
) -> tuple[list[StepState], list[StepState]]:
    urgent = [s for s in steps if s.phase(run_over) in ("running", "failed", "killed")]
    keep = set(map(id, urgent[:room]))
    for s in steps:
        if len(keep) >= room:
            break
        keep.add(id(s))
    return [s for s in steps if id(s) in keep], [s for s in steps if id(s) not in keep]


def log_text(line: TaskOutput) -> str:
    """A task's output line with its ``step/task_id`` prefix. Carriage-return redraws
    (progress bars) keep only their last frame, as a terminal would have shown it."""
    text = line.text.rstrip("\r").rsplit("\r", 1)[-1]
    return f"[{line.step}/{line.task_id}] {text}"


def task_text(event: TaskEvent, g: Glyphs) -> str | None:
    """The line a failing, retried, caught or killed task earns; None for the ordinary ones."""
    where = f"{event.step}/{event.task_id}"
    exit_code = "" if event.exit_code is None else f" (exit {event.exit_code})"
    error = f": {event.error}" if event.error else ""
    if event.status == "failed":
        return f"{g.failed} {where} failed{exit_code}{error}"
    if event.status == "killed":
        return f"{g.killed} {where} killed{exit_code}"
    if event.status == "retrying":
        return (
            f"{g.retrying} {where} failed{exit_code}, retrying (attempt {event.attempt + 2}){error}"
        )
    if event.status == "caught":
        return f"{g.retrying} {where} failed and was caught by @catch; the flow goes on{error}"
    return None


def step_done_text(step: StepState, now: float, g: Glyphs) -> str:
    """``✓ step train: 100 tasks done in 3.21s``, said once when a step completes."""
    counts = step.counts()
    ok = not (counts["failed"] or counts["killed"])
    mark = g.done if ok else g.failed if counts["failed"] else g.killed
    n = len(step.tasks)
    if ok and counts["cloned"] == n:
        what = pluralize(n, "task") + " cloned"
    elif ok and counts["cloned"] == 0:
        what = pluralize(n, "task") + " done"
    else:
        what = count_text(counts, step.total)
    elapsed = step.elapsed(now)
    took = "" if elapsed is None else f" in {format_duration(elapsed)}"
    return f"{mark} step {step.name}: {what}{took}"


def started_text(state: RunProgress, g: Glyphs) -> str:
    """The start line, and the run a resume starts from when the user did not name it."""
    store = f" (store: {state.store})" if state.store else ""
    text = f"{g.started} {state.pathspec} started{store}"
    said = [t for t in (resuming_text(state), limit_text(state)) if t is not None]
    return "\n  ".join([text, *said])


def limit_text(state: RunProgress) -> str | None:
    """Why fewer tasks than max_workers run at once (``max_workers=4, but ...``); None if not."""
    event = state.started_event
    return None if event is None else event.limit


def resuming_text(state: RunProgress) -> str | None:
    """``resuming F/ID (the most recent run, by USER, TIME)``: the run a resume starts from,
    when the user did not name it; None otherwise."""
    event = state.started_event
    return None if event is None or event.resuming is None else f"resuming {event.resuming}"


def detached_lines(event: RunDetached, g: Glyphs) -> list[str]:
    """What ``--detach`` prints: where the scheduler went, and how to follow the run."""
    pathspec = f"{event.flow}/{event.run_id}"
    return [
        f"{g.started} {pathspec} detached: its scheduler runs as {event.where} "
        f"(store: {event.store})",
        f"  follow it: flowkit show {pathspec}  (tasks: flowkit logs {pathspec}/STEP/TASK "
        "--follow; runs: "
        f"flowkit runs {event.flow})",
    ]


def finished_lines(
    state: RunProgress, now: float, g: Glyphs, *, traceback_shown: bool = False
) -> list[str]:
    """The closing block: the failing task's traceback, one summary line, how to resume.

    ``traceback_shown``: the task's own output already showed the traceback, so only its
    last line (the exception) is repeated here.
    """
    event = state.finished
    assert event is not None
    # The view's own tally sees every task, clones included; the event's serves a late sink.
    seen = state.task_counts()
    counts: Counter[str] = Counter(seen) if seen else Counter(event.counts)
    total = sum(counts.values())
    breakdown = count_text(Counter({k: v for k, v in counts.items() if k in _STATUSES}))
    mixed = any(n for status, n in counts.items() if status != "succeeded")
    tasks = pluralize(total, "task") + (f" ({breakdown})" if mixed and breakdown else "")
    mark = {"succeeded": g.done, "failed": g.failed, "cancelled": g.cancelled}[event.status]
    summary = f"{mark} {state.pathspec} {event.status}: {tasks} in {format_duration(state.run_elapsed(now))}"
    lines: list[str] = []
    if event.failed_pathspec:
        lines.append(f"{event.failed_pathspec} failed:")
    if event.failure:  # a traceback, or the scheduler's own reason when no task failed
        failure = event.failure.rstrip("\n").splitlines()
        if traceback_shown:
            first, *rest = exception_lines(failure)
            shown = "traceback" if failure[0].startswith("Traceback") else "error"
            lines += [f"  {first}  ({shown} above)", *(f"  {line}" for line in rest)]
        else:
            lines += failure
    lines.append(summary)
    if event.resume_command:
        lines += ["To resume, run:", f"  {event.resume_command}"]
    return lines


def exception_lines(traceback: list[str]) -> list[str]:
    """The exception a traceback ends with, every line of it (a flowkit error's hint too)."""
    start = 1 if traceback and traceback[0].startswith("Traceback") else 0
    for i in range(len(traceback) - 1, -1, -1):
        if traceback[i].startswith("  File "):
            start = i + 1
            # the frame's source line and its ^^^ markers are indented further
            while start < len(traceback) - 1 and traceback[start].startswith("    "):
                start += 1
            break
    return traceback[start:] or traceback[-1:]
