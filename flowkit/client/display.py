"""Rich displays of past runs for Jupyter: the DAG with statuses, a timeline of tasks, an
artifact browser with previews, and logs.

Everything is built from records, which are small; an artifact's value is loaded only when
it is small enough to preview, so a run with 1,000 tasks and large artifacts opens at once.
"""

from __future__ import annotations

import base64
import io
import sys
from collections import Counter
from html import escape
from typing import TYPE_CHECKING, Any

from flowkit.client.dag import PHASE_COLOURS, caption, dag_svg, phase

if TYPE_CHECKING:
    from flowkit.client.data import DataArtifact
    from flowkit.client.objects import Run, Step, Task
    from flowkit.store import TaskRecord

#: Artifacts up to this many stored bytes are loaded for a preview; larger ones are not.
PREVIEW_LIMIT = 64 << 10
#: A figure is there to be looked at, and a plot of a few thousand points pickles to more
#: than PREVIEW_LIMIT, so figures are drawn up to this size.
FIGURE_PREVIEW_LIMIT = 4 << 20
FIGURE_TYPE = "matplotlib.figure.Figure"
_STYLE = "font-family:sans-serif;font-size:13px"
#: Inline styles (JupyterLab strips <style> blocks from untrusted outputs, and its own rules
#: right-align every table cell and centre tables): a fixed-width table whose preview column
#: takes what the name, type and size leave, each preview in a box that scrolls sideways, so
#: one wide DataFrame never pushes the others off screen.
_TABLE = "table-layout:fixed;width:100%;max-width:100%;margin-left:0;margin-right:0"
_CELL = "text-align:left;vertical-align:top;overflow-wrap:break-word"
_BOX = "overflow-x:auto;max-width:100%;overflow-wrap:break-word"
_PRE = "overflow-x:auto;max-width:100%;text-align:left"
#: A small table of words (a run's steps, its parameters, a step's tasks): kept at the left.
_LEFT_TABLE = "margin-left:0;margin-right:auto"


def _records(run: Run) -> dict[str, list[TaskRecord]]:
    return {step.id: [t.record for t in step] for step in run}


def _status(record: TaskRecord) -> str:
    return "cloned" if record.origin_pathspec else record.status


def run_html(run: Run) -> str:
    """A run: its status, DAG, timeline, steps and why tasks ran or were cloned."""
    records = _records(run)
    known = run.record.graph  # every step and where it goes, when the run recorded them
    order = [s for s in run.record.steps if s in records or s in known]
    order += sorted(set(records) - set(order))
    edges: dict[str, set[str]] = {s: {t for t in known.get(s, ()) if t in order} for s in order}
    for step, tasks in records.items():
        for record in tasks:
            for parent in record.parents:
                parent_step = parent.split("/")[2]
                if parent_step in edges:
                    edges[parent_step].add(step)
    states = {}
    for step in order:
        counts = Counter(_status(r) for r in records.get(step, []))
        states[step] = (phase(counts), caption(counts))
    dag = dag_svg([(s, sorted(edges[s], key=order.index)) for s in order], states)
    params = "".join(
        _row(escape(k), f"<code>{escape(_short(repr(v)))}</code>")
        for k, v in sorted(run.parameters.items())
    )
    rows = "".join(
        _row(
            escape(s),
            escape(states[s][0]),
            str(len(records.get(s, []))),
            escape(_counts_text(Counter(_status(r) for r in records.get(s, [])))),
        )
        for s in order
    )
    parts = [
        f'<div class="flowkit-run" style="{_STYLE}">',
        f"<div><b>{escape(run.pathspec)}</b> &middot; {escape(run.status)} &middot; "
        f"started {run.created_at:%Y-%m-%d %H:%M:%S} UTC"
        + (f" &middot; resumed from {escape(run.origin_run_id)}" if run.origin_run_id else "")
        + "</div>",
        dag,
        timeline_svg(records, order),
        f'<table class="flowkit-steps" style="{_LEFT_TABLE}">'
        f"{_row('step', 'state', 'tasks', '', cell='th')}{rows}</table>",
    ]
    if params:
        parts.append(
            f"<details><summary>parameters</summary>"
            f'<table style="{_LEFT_TABLE}">{params}</table></details>'
        )
    explanation = run.explanation
    if explanation:
        from flowkit.plan.reuse import summarize

        lines = summarize(explanation, order)
        parts.append(
            f"<details><summary>why tasks ran or were reused</summary><pre>{escape(chr(10).join(lines))}</pre></details>"
        )
    parts.append("</div>")
    return "".join(parts)


def _row(*cells: str, cell: str = "td") -> str:
    """A table row whose cells keep left (JupyterLab right-aligns every table cell)."""
    return "<tr>" + "".join(f'<{cell} style="{_CELL}">{c}</{cell}>' for c in cells) + "</tr>"


def _counts_text(counts: Counter[str]) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))


def timeline_svg(records: dict[str, list[TaskRecord]], order: list[str], width: int = 640) -> str:
    """One row per step, one bar per task from its start to its end (cloned tasks ran in
    another run, so they are left out)."""
    ran = [r for s in order for r in records.get(s, []) if not r.origin_pathspec]
    if not ran:
        return '<div class="flowkit-timeline">every task was cloned</div>'
    start = min(r.started_at for r in ran)
    end = max((r.finished_at or r.started_at) for r in ran)
    span = max(end - start, 1e-6)
    label, row = 110, 16
    plot = width - label - 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="flowkit-timeline" width="{width}" '
        f'height="{row * len(order) + 22}" font-family="sans-serif" font-size="11">'
    ]
    for i, step in enumerate(order):
        y = i * row + 4
        parts.append(f'<text x="0" y="{y + 11}">{escape(step)}</text>')
        for r in records.get(step, []):
            if r.origin_pathspec:
                continue
            x = label + (r.started_at - start) / span * plot
            w = max(1.5, ((r.finished_at or end) - r.started_at) / span * plot)
            colour = PHASE_COLOURS.get("done" if r.successful else r.status, "#e5e7eb")
            parts.append(
                f'<rect class="flowkit-task" data-step="{escape(step)}" x="{x:.1f}" y="{y}" '
                f'width="{w:.1f}" height="{row - 4}" fill="{colour}" stroke="#6b7280" '
                f'stroke-width="0.4"><title>{escape(r.step)}/{escape(r.task_id)}: {r.status}, '
                f"{(r.finished_at or end) - r.started_at:.3f}s</title></rect>"
            )
    parts.append(
        f'<text x="{label}" y="{row * len(order) + 18}" fill="#6b7280">0s</text>'
        f'<text x="{width - 60}" y="{row * len(order) + 18}" fill="#6b7280">{span:.2f}s</text></svg>'
    )
    return "".join(parts)


def step_html(step: Step, limit: int = 100) -> str:
    """A step: its tasks with status, foreach index, duration and origin."""
    rows = []
    for i, task in enumerate(step):
        if i >= limit:
            rows.append(
                f'<tr><td colspan=5 style="{_CELL}">… and {len(step) - limit} more</td></tr>'
            )
            break
        r = task.record
        took = f"{r.finished_at - r.started_at:.3f}s" if r.finished_at else ""
        rows.append(
            _row(
                escape(r.task_id),
                escape(_status(r)),
                "" if task.index is None else str(task.index),
                took,
                escape(r.origin_pathspec or ""),
            )
        )
    head = _row("task", "status", "index", "took", "cloned from", cell="th")
    return (
        f'<div class="flowkit-step" style="{_STYLE}"><b>{escape(step.pathspec)}</b> &middot; '
        f"{len(step)} task{'s' * (len(step) != 1)}"
        f'<table style="{_LEFT_TABLE}">{head}{"".join(rows)}</table></div>'
    )


def task_html(task: Task) -> str:
    """A task: status, exception, an artifact browser with previews, and its logs."""
    r = task.record
    parts = [
        f'<div class="flowkit-task" style="{_STYLE};max-width:100%"><b>{escape(task.pathspec)}</b> &middot; '
        f"{escape(_status(r))} &middot; attempt {r.attempt}"
    ]
    if r.origin_pathspec:
        parts.append(f" &middot; cloned from {escape(r.origin_pathspec)}")
    if r.exception is not None:
        parts.append(
            f"<pre class='flowkit-exception' style='{_PRE}'>{escape(r.exception.traceback or str(r.exception))}</pre>"
        )
    parts.append(artifacts_html(list(task)))
    if r.cards:
        from flowkit.client.cards import get_cards

        parts.append(get_cards(task)._repr_html_())
    for stream in ("stdout", "stderr"):
        lines = task.log_lines(stream)
        if lines:
            tail = "\n".join(line.text for line in lines[-30:])
            parts.append(
                f"<details><summary>{stream} ({len(lines)} lines)</summary>"
                f"<pre style='{_PRE}'>{escape(tail)}</pre></details>"
            )
    parts.append("</div>")
    return "".join(parts)


def artifacts_html(artifacts: list[DataArtifact]) -> str:
    """A table of artifacts: name, type, size, and a preview of the small ones."""
    rows = "".join(
        f'<tr class="flowkit-artifact" data-name="{escape(a.id)}"><td style="{_CELL}">'
        f'<b>{escape(a.id)}</b></td><td style="{_CELL}">{escape(a.type)}</td>'
        f'<td style="{_CELL};white-space:nowrap">{_size(a.size)}</td><td style="{_CELL}">'
        f'<div class="flowkit-preview" style="{_BOX}">{preview(a)}</div></td></tr>'
        for a in sorted(artifacts, key=lambda a: a.id)
    )
    head = "".join(f'<th style="{_CELL}">{h}</th>' for h in ("artifact", "type", "size", "preview"))
    return (
        f'<table class=\'flowkit-artifacts\' style="{_TABLE}"><colgroup><col style="width:16%">'
        '<col style="width:16%"><col style="width:6em"><col></colgroup>'
        f"<tr>{head}</tr>{rows}</table>"
    )


def artifact_html(artifact: DataArtifact) -> str:
    return f'<div style="{_STYLE}">{escape(artifact.pathspec)}{artifacts_html([artifact])}</div>'


def preview(artifact: DataArtifact) -> str:
    """HTML for a glance at the value: arrays by shape, dtype and a slice; DataFrames by
    their head; matplotlib figures as a PNG; scalars and short text as they are. Large
    values are not loaded."""
    figure = artifact.type == FIGURE_TYPE
    if artifact.size > (FIGURE_PREVIEW_LIMIT if figure else PREVIEW_LIMIT):
        return f"<i>not loaded ({_size(artifact.size)})</i>"
    value = artifact.data
    return _figure_preview(value) if figure else value_preview(value)


def _figure_preview(figure: Any) -> str:
    """A loaded matplotlib Figure as a PNG. Unpickling a figure made with pyplot registers it
    with pyplot's figure manager, and the inline backend would then draw it again under the
    cell, so it is closed once drawn (it is this preview's own copy, no one else holds it)."""
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", dpi=72, bbox_inches="tight")
    finally:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close(figure)
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img class="flowkit-figure" src="data:image/png;base64,{png}" style="max-width:100%;height:auto">'


def value_preview(value: Any) -> str:
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    head = getattr(value, "head", None)
    if callable(head) and hasattr(value, "to_html"):
        return str(head().to_html(max_cols=12))
    if shape is not None and dtype is not None:
        flat = getattr(value, "ravel", lambda: value)()
        head = flat[:6]
        sample = ", ".join(repr(x) for x in (head.tolist() if hasattr(head, "tolist") else head))
        return f"<code>shape {tuple(shape)}, {escape(str(dtype))}: [{escape(sample)}{', …' if flat.size > 6 else ''}]</code>"
    return f"<code>{escape(_short(repr(value)))}</code>"


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"
