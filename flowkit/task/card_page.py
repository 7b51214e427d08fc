"""A card as one self-contained HTML page: inline style, no scripts, nothing loaded from
anywhere. ``default`` cards show the task (its status, parameters, artifacts, exception)
and the components its code added; ``blank`` cards only the components."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from html import escape
from typing import Any

from flowkit.authoring.cards import Html, data_uri, fragment
from flowkit.client.dag import dag_svg
from flowkit.client.display import PREVIEW_LIMIT, value_preview
from flowkit.store.records import ArtifactRef, RunRecord, TaskRecord

_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:14px;color:#1f2937;
margin:0;background:#f9fafb}
main{max-width:1100px;margin:0 auto;padding:24px}
header{border-bottom:1px solid #e5e7eb;margin-bottom:16px}
header h1{font-size:20px;margin:0 0 4px}
header .fk-sub{color:#6b7280;margin-bottom:12px}
section{background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:12px 16px;margin:12px 0}
section>h2{font-size:15px;margin:0 0 8px;color:#374151}
table{border-collapse:collapse;margin:4px 0}
th,td{border:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f4f6}
pre{background:#f3f4f6;padding:8px;overflow:auto;white-space:pre-wrap;margin:4px 0}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}
img{max-width:100%}
figure{margin:8px 0}figcaption{color:#6b7280;font-size:12px}
.fk-error{border-left:4px solid #dc2626;background:#fef2f2;padding:8px;margin:6px 0}
.fk-status-failed{color:#dc2626;font-weight:600}.fk-status-succeeded{color:#16a34a;font-weight:600}
.fk-valuebox{display:inline-block;border:1px solid #e5e7eb;border-radius:6px;padding:8px 16px;margin:4px}
.fk-valuebox .fk-value{font-size:24px;font-weight:600}
.fk-valuebox[data-theme=success]{background:#f0fdf4}.fk-valuebox[data-theme=danger]{background:#fef2f2}
.fk-valuebox[data-theme=warning]{background:#fffbeb}
.fk-components>*{margin:8px 0}
"""


def page(title: str, subtitle: str, sections: Iterable[str]) -> str:
    """The whole HTML document."""
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>"
        f"<header><h1>{escape(title)}</h1><div class='fk-sub'>{escape(subtitle)}</div></header>"
        f"{''.join(sections)}</main></body></html>"
    )


def section(heading: str, body: str) -> str:
    return f"<section><h2>{escape(heading)}</h2>{body}</section>"


def components_html(components: Iterable[Any]) -> str:
    return f"<div class='fk-components'>{''.join(fragment(c) for c in components)}</div>"


def blank_card(record: TaskRecord, components: list[Any]) -> str:
    return page(record.pathspec, _subtitle(record), [components_html(components)])


def default_card(
    record: TaskRecord,
    components: list[Any],
    parameters: Iterable[str],
    load: Callable[[ArtifactRef], Any],
    limit: int = PREVIEW_LIMIT,
    run: RunRecord | None = None,
) -> str:
    """The task's status and times, what its code added, its parameters and artifacts (a
    preview of each up to ``limit`` stored bytes, loaded with ``load``), its exception, and
    the flow's graph with the task's step marked, from ``run``'s record."""
    sections = [section("Task", _metadata(record))]
    if record.exception is not None:
        text = record.exception.traceback or str(record.exception)
        sections.append(section("Exception", f"<pre class='fk-error'>{escape(text)}</pre>"))
    if components:
        sections.append(section("Components", components_html(components)))
    names = set(parameters)
    params = {n: r for n, r in record.artifacts.items() if n in names}
    if params:
        sections.append(section("Parameters", _artifacts(params, load, limit)))
    others = {n: r for n, r in record.artifacts.items() if n not in names}
    sections.append(
        section("Artifacts", _artifacts(others, load, limit) if others else "<i>none</i>")
    )
    if run is not None and run.graph:
        sections.append(section("Flow", _dag(run, record)))
    return page(record.pathspec, _subtitle(record), sections)


def _dag(run: RunRecord, record: TaskRecord) -> str:
    """The run's steps, this task's coloured by how it ended."""
    order = [s for s in run.steps if s in run.graph] or sorted(run.graph)
    phase = "done" if record.successful else record.status
    states = {step: (phase, "this task") if step == record.step else ("", "") for step in order}
    return dag_svg([(s, run.graph.get(s, [])) for s in order], states)


def error_card(record: TaskRecord, title: str, detail: str) -> str:
    """The page a card that could not be rendered shows instead, saying why."""
    body = f"<div class='fk-error'><b>{escape(title)}</b><pre>{escape(detail)}</pre></div>"
    return page(record.pathspec, _subtitle(record), [body])


def _subtitle(record: TaskRecord) -> str:
    return f"{record.status} · attempt {record.attempt}"


def _metadata(record: TaskRecord) -> str:
    rows: dict[str, str] = {
        "Pathspec": escape(record.pathspec),
        "Status": f"<span class='fk-status-{escape(record.status)}'>{escape(record.status)}</span>",
        "Attempt": str(record.attempt),
        "Started": _when(record.started_at),
    }
    if record.finished_at is not None:
        rows["Finished"] = _when(record.finished_at)
        rows["Duration"] = f"{record.finished_at - record.started_at:.3f}s"
    if record.foreach:
        rows["Foreach index"] = escape(", ".join(map(str, record.foreach)))
    if record.host:
        rows["Host"] = escape(record.host)
    return (
        "<table>"
        + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows.items())
        + "</table>"
    )


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _artifacts(
    refs: Mapping[str, ArtifactRef], load: Callable[[ArtifactRef], Any], limit: int
) -> str:
    rows = "".join(
        f"<tr><td><b>{escape(name)}</b></td><td>{escape(ref.type)}</td><td>{ref.size}</td>"
        f"<td>{_preview(ref, load, limit)}</td></tr>"
        for name, ref in sorted(refs.items())
    )
    return f"<table><tr><th>name</th><th>type</th><th>bytes</th><th>value</th></tr>{rows}</table>"


def _preview(ref: ArtifactRef, load: Callable[[ArtifactRef], Any], limit: int) -> str:
    """The artifact's value as the card shows it; one that cannot be loaded or shown is an
    error in its own cell, and the rest of the card stays."""
    try:
        return _shown(ref, load, limit)
    except Exception as exc:  # shown in the cell: one artifact must not cost the whole card
        return f"<i>not shown: {escape(type(exc).__name__)}: {escape(str(exc))}</i>"


def _shown(ref: ArtifactRef, load: Callable[[ArtifactRef], Any], limit: int) -> str:
    if ref.size > limit:
        return f"<i>not shown ({ref.size} bytes, over the card's {limit})</i>"
    value = load(ref)
    if isinstance(value, bytes) and (uri := data_uri(value)) is not None:
        return Html(f"<img src=\"{escape(uri)}\" alt='image'>")
    return value_preview(value)
