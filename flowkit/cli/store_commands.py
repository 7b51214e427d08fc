"""``flowkit runs``, ``flowkit show PATHSPEC`` and ``flowkit logs``: the store from a terminal."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable
from datetime import datetime

import click

from flowkit.cli.base import open_store_at, store_option
from flowkit.cli.show import describe_code
from flowkit.cli.task_paths import task_at
from flowkit.client import Flow, Run, Step, Task
from flowkit.client.durations import GAP, format_duration, sparkline
from flowkit.errors import FlowkitError
from flowkit.store import parse_pathspec
from flowkit.store.durations import percentile, recent_times
from flowkit.store.errors import NotFoundError
from flowkit.store.logs import STREAMS, LogLine
from flowkit.store.store import Store


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _run_rows(runs: list[Run]) -> str:
    rows = [["RUN", "STATUS", "STARTED", "FINISHED", "TAGS"]]
    for run in runs:
        tags = ",".join(sorted(run.user_tags))
        rows.append([run.id, run.status, _when(run.created_at), _when(run.finished_at), tags])
    return _table(rows)


@click.command("runs")
@click.argument("flow")
@click.option("--limit", default=20, show_default=True, help="Show at most this many runs.")
@store_option
def runs_cmd(flow: str, limit: int, store_url: str | None) -> None:
    """List the runs of FLOW, newest first."""
    store = open_store_at(store_url)
    runs: list[Run] = []
    for run in Flow(flow, store=store, _namespace_check=False).runs():
        if len(runs) == limit:
            break
        runs.append(run)
    click.echo(_run_rows(runs))


#: How many of a flow's latest successful runs ``flowkit show FLOW`` draws the trends of.
TREND_RUNS = 20


def _trends(store: Store, flow: str) -> str | None:
    """Each step's duration (its first task's start to its last task's end) and the whole
    run's, over the flow's latest successful runs: a sparkline, oldest first, with a gap
    where the step did not run (cloned by a resume, a branch not taken, not in the flow
    yet; the run's own time is a gap for a resume, whose clones took no time), so every
    line has a bar per run; then the median, the 95th percentile and the latest run's ("-"
    when it has none); None if no run succeeded."""
    history = recent_times(store, flow, runs=TREND_RUNS)[::-1]
    if not history:
        return None
    steps = list(store.records.get_run(flow, history[-1].run_id).steps)
    steps += sorted({s for r in history for s in r.steps} - set(steps))
    series: list[tuple[str, list[float | None]]] = [
        (s, [r.steps[s].wall if s in r.steps else None for r in history]) for s in steps
    ]
    series.append(("(run)", [r.seconds for r in history]))
    rows = [["STEP", "TREND", "MEDIAN", "P95", "LAST"]]
    for name, values in series:
        seen = [v for v in values if v is not None]
        if seen:
            typical = [
                format_duration(statistics.median(seen)),
                format_duration(percentile(seen, 95)),
            ]
            last = "-" if values[-1] is None else format_duration(values[-1])
            rows.append([name, sparkline(values), *typical, last])
    runs = f"{len(history)} successful runs" if len(history) > 1 else "successful run"
    text = f"durations over the latest {runs}, oldest first\n\n" + _table(rows)
    if any(v is None for _, values in series for v in values):
        text += (
            f"\n\n{GAP}: did not run in that run (cloned by a resume, a branch not taken, or "
            "not in the flow then); (run) has no time for a resume"
        )
    return text


def _show_run(run: Run) -> str:
    status = run.status
    lines = [
        f"run {run.pathspec}: {status}",
        f"  started   {_when(run.created_at)}",
        f"  finished  {_when(run.finished_at)}",
    ]
    if status in ("running", "crashed"):
        lines.append(f"  heartbeat {_when(run.heartbeat_at)}")
    if status == "crashed":
        lines.append(f"  {_CRASHED}; resume it: {run.resume_hint}")
    if run.record.parameters:
        lines.append("  parameters")
        lines += [f"    {k} = {v!r}" for k, v in sorted(run.record.parameters.items())]
    if run.user_tags:
        lines.append(f"  tags      {', '.join(sorted(run.user_tags))}")
    if run.system_tags:
        lines.append(f"  system    {', '.join(sorted(run.system_tags))}")
    if run.origin_run_id:
        lines.append(f"  resumed from {run.origin_run_id}")
    end = run.end_record
    if end is not None and end.sla_missed:
        lines.append("  sla missed")
        lines += [f"    {line}" for line in end.sla_missed]
    lines.append(describe_code(run))
    rows = [["STEP", "TASKS", "SUCCEEDED", "CAUGHT", "FAILED", "RUNNING"]]
    for step in run.graph_steps():
        statuses = [t.status for t in step]
        rows.append(
            [step.id, str(len(statuses))]
            + [str(statuses.count(s)) for s in ("succeeded", "caught", "failed", "running")]
        )
    text = "\n".join(lines) + "\n\n" + _table(rows)
    decisions = run.explanation
    if decisions:
        from flowkit.plan.reuse import summarize

        text += "\n\nwhy each task ran or was reused\n"
        text += "\n".join(f"  {line}" for line in summarize(decisions, run.record.steps))
    return text


def _show_step(step: Step) -> str:
    rows = [["TASK", "ATTEMPT", "STATUS", "STARTED", "FINISHED", "FOREACH"]]
    for task in step:
        foreach = ",".join(map(str, task.record.foreach)) or "-"
        started, finished = _when(task.created_at), _when(task.finished_at)
        rows.append([task.id, str(task.current_attempt), task.status, started, finished, foreach])
    return f"step {step.pathspec}: {len(step)} task(s)\n\n" + _table(rows)


def _show_task(task: Task) -> str:
    lines = [
        f"task {task.pathspec}: {task.status} (attempt {task.current_attempt})",
        f"  started   {_when(task.created_at)}",
        f"  finished  {_when(task.finished_at)}",
    ]
    if task.origin_pathspec:
        lines.append(f"  cloned from {task.origin_pathspec}")
    if task.exception is not None:
        lines.append(f"  exception {task.exception}")
    cards = task.record.cards
    for card in cards:  # @card reports, and the command that opens each
        pick = f" --id {card.id}" if card.id else f" --hash {card.digest[:12]}"
        pick = pick if len(cards) > 1 else ""
        lines.append(f"  card {card.type}: flowkit card view {task.pathspec}{pick}")
    rows = [["ARTIFACT", "TYPE", "SIZE", "DIGEST"]]
    rows += [[a.id, a.type, _size(a.size), a.sha[:12]] for a in task.artifacts]
    body = _table(rows) if len(rows) > 1 else "(no artifacts)"
    return "\n".join(lines) + "\n\n" + body


def show_pathspec(pathspec: str, store_url: str | None) -> None:
    """Print a flow's runs (and its steps' duration trends), a run's steps, a step's tasks,
    or a task's artifacts.

    PATHSPEC is Flow, Flow/run, Flow/run/step or Flow/run/step/task.
    """
    spec = parse_pathspec(pathspec)
    store = open_store_at(store_url)
    if spec.depth == 1:
        click.echo(_run_rows(list(Flow(spec.flow, store=store, _namespace_check=False).runs())))
        trends = _trends(store, spec.flow)
        if trends is not None:
            click.echo("\n" + trends)
    elif spec.depth == 2:
        click.echo(_show_run(Run(str(spec), store=store, _namespace_check=False)))
    elif spec.depth == 3:
        click.echo(_show_step(Step(str(spec), store=store, _namespace_check=False)))
    else:
        click.echo(_show_task(Task(str(spec), store=store, _namespace_check=False)))


@click.command("logs")
@click.argument("pathspec")
@click.option(
    "--stream",
    type=click.Choice(["both", *STREAMS]),
    default="both",
    show_default=True,
    help="Which output to show.",
)
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the task ends.")
@click.option("--timestamps", "-t", is_flag=True, help="Start each line with its time.")
@store_option
def logs_cmd(
    pathspec: str, stream: str, follow: bool, timestamps: bool, store_url: str | None
) -> None:
    """Print the output of a task (Flow/run/step/task, or a step that has one task)."""
    store = open_store_at(store_url)
    if follow and parse_pathspec(pathspec).depth == 3:
        _await_step(store, pathspec)  # the run may have only just started
    task = task_at(pathspec, store)
    streams = STREAMS if stream == "both" else (stream,)
    if follow:
        lines = store.logs.follow(task.record, streams)
    else:
        lines = ((s, line) for s in streams for line in store.logs.read(task.record, s))
    echo_log_lines(lines, timestamps=timestamps)
    if follow:
        _check_finished(store, task)


def echo_log_lines(
    lines: Iterable[tuple[str, LogLine]],
    *,
    timestamps: bool,
    stderr_apart: bool = True,
    millis: bool = False,
) -> None:
    """Print ``(stream, line)`` pairs as they come, each line started with its local time
    (to the millisecond with ``millis``) when ``timestamps``; ``stderr_apart`` prints
    stderr's lines on stderr."""
    for name, line in lines:
        when = datetime.fromtimestamp(line.timestamp)
        shown = _when(when) + (when.strftime(".%f")[:4] if millis else "")
        stamp = shown + " " if timestamps else ""
        click.echo(stamp + line.text, nl=line.complete, err=stderr_apart and name == "stderr")


def _await_step(store: Store, pathspec: str, poll: float = 0.25) -> Step:
    """The step, once its first task is recorded: ``--follow`` right after a run started
    waits for it (a task's record appears only once it has run a moment) while the run
    goes, and says so if the run ends first."""
    while True:
        try:
            return Step(pathspec, store=store, _namespace_check=False)
        except NotFoundError:
            flow, run_id = pathspec.split("/")[:2]
            if Run(f"{flow}/{run_id}", store=store, _namespace_check=False).status != "running":
                raise
        time.sleep(poll)


#: What a crashed run is, in words.
_CRASHED = "its scheduler stopped without ending the run (killed, or its machine or kernel died)"


def _check_finished(store: Store, task: Task) -> None:
    """After ``--follow``: a task whose output stopped because it never finished says why."""
    record = task.record
    if record.origin_pathspec is not None:
        return  # a clone finished in the run it came from
    latest = store.records.get_attempt(
        record.flow, record.run_id, record.step, record.task_id, record.attempt
    )
    if latest is not None and latest.final:
        return
    run = Run(f"{record.flow}/{record.run_id}", store=store, _namespace_check=False)
    status = run.status
    where = f"task {record.pathspec} (attempt {record.attempt}) never finished"
    if status == "crashed":
        raise FlowkitError(
            f"{where}: its run crashed; {_CRASHED}, last heartbeat {_when(run.heartbeat_at)}",
            f"resume the run: {run.resume_hint}",
        )
    raise FlowkitError(
        f"{where}: its run ended ({status}) without recording how the task ended",
        f"see the run with: flowkit show {run.pathspec}",
    )


#: Commands for the ``flowkit`` group; ``show`` is shared with flow files (see cli.main).
COMMANDS: list[click.Command] = [runs_cmd, logs_cmd]
