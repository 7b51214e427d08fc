"""The flow's DAG as a small SVG: steps left to right by depth, coloured by state.

Used by the live notebook view and by the rich display of past runs; plain data in, markup
out, so it is testable without a browser.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

PHASE_COLOURS = {
    "waiting": "#eef0f3",
    "running": "#fde68a",
    "done": "#bbf7d0",
    "succeeded": "#bbf7d0",
    "failed": "#fecaca",
    "killed": "#fed7aa",  # stopped by a cancel: not its own failure
    "cloned": "#bfdbfe",
    "not run": "#f6f7f9",
}
_W, _H, _XGAP, _YGAP, _PAD = 124, 42, 44, 14, 8


def depths(steps: Sequence[tuple[str, Sequence[str]]]) -> dict[str, int]:
    """Longest distance from the first step, ignoring edges that go back (recursion)."""
    targets = {name: [t for t in outs if t != name] for name, outs in steps}
    order = [name for name, _ in steps]
    depth = {name: 0 for name in order}
    on_path: set[str] = set()
    done: set[str] = set()

    def visit(name: str) -> None:
        on_path.add(name)
        for t in targets.get(name, []):
            if t in on_path or t not in depth:
                continue  # a back edge, or a step we do not know
            depth[t] = max(depth[t], depth[name] + 1)
            if t not in done:
                visit(t)
        on_path.discard(name)
        done.add(name)

    if order:
        visit(order[0])
    return depth


def dag_svg(
    steps: Sequence[tuple[str, Sequence[str]]],
    states: Mapping[str, tuple[str, str]],
) -> str:
    """SVG markup for ``steps`` (name, targets) in graph order; ``states`` maps a step to
    (phase, caption), e.g. ``("running", "37/100")``."""
    depth = depths(steps)
    layers: dict[int, list[str]] = {}
    for name, _ in steps:
        layers.setdefault(depth[name], []).append(name)
    pos: dict[str, tuple[int, int]] = {}
    for d, names in layers.items():
        for i, name in enumerate(names):
            pos[name] = (_PAD + d * (_W + _XGAP), _PAD + i * (_H + _YGAP))
    width = _PAD * 2 + (max(layers, default=0) + 1) * (_W + _XGAP) - _XGAP
    height = _PAD * 2 + max((len(v) for v in layers.values()), default=1) * (_H + _YGAP) - _YGAP
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="flowkit-dag" '
        f'viewBox="0 0 {width} {height + 12}" width="{width}" height="{height + 12}" '
        'style="max-width:100%;height:auto;display:block" '
        'font-family="sans-serif" font-size="12">'
    ]
    for name, outs in steps:
        x1, y1 = pos[name]
        for target in outs:
            if target not in pos:
                continue
            x2, y2 = pos[target]
            if depth[target] > depth[name]:
                parts.append(
                    f'<line x1="{x1 + _W}" y1="{y1 + _H // 2}" x2="{x2}" y2="{y2 + _H // 2}" '
                    'stroke="#9aa3af" stroke-width="1.2"/>'
                )
            else:  # recursion: an arc back over the boxes
                parts.append(
                    f'<path d="M{x1 + _W // 2},{y1} C{x1 + _W // 2},{y1 - 10} '
                    f'{x2 + _W // 2},{y2 - 10} {x2 + _W // 2},{y2}" fill="none" '
                    'stroke="#9aa3af" stroke-dasharray="3,2"/>'
                )
    for name, _ in steps:
        x, y = pos[name]
        phase, caption = states.get(name, ("waiting", ""))
        colour = PHASE_COLOURS.get(phase, PHASE_COLOURS["waiting"])
        title = escape(f"{name}: {phase}" + (f", {caption}" if caption else ""))
        parts.append(
            f'<g class="flowkit-step" data-step="{escape(name)}" data-phase="{escape(phase)}">'
            f"<title>{title}</title>"
            f'<rect x="{x}" y="{y}" width="{_W}" height="{_H}" rx="6" fill="{colour}" '
            'stroke="#6b7280" stroke-width="0.8"/>'
            f'<text x="{x + 8}" y="{y + 17}" font-weight="bold">{escape(_fit(name))}</text>'
            f'<text x="{x + 8}" y="{y + 33}" fill="#374151">{escape(_fit(caption or phase))}</text>'
            "</g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def phase(counts: Mapping[str, int]) -> str:
    """A step's state from its tasks' statuses (``cloned`` for a copied task): ``not run``,
    ``failed``, ``killed`` (stopped by a cancel, none failed), ``running``, ``cloned``
    (every task copied) or ``done``; the notebook's display and the web UI draw steps by
    this one rule."""
    if not any(counts.values()):
        return "not run"
    if counts.get("failed"):
        return "failed"
    if counts.get("killed"):
        return "killed"
    if counts.get("running"):
        return "running"
    return "cloned" if counts.get("cloned", 0) == sum(counts.values()) else "done"


def caption(counts: Mapping[str, int]) -> str:
    """A step's tasks in a few words: ``succeeded``, or ``37/100 done, 2 running, 1 failed``
    (``1 killed`` for a task a cancel stopped)."""
    total = sum(counts.values())
    if total <= 1:
        return next((status for status, n in counts.items() if n), "")
    caught = counts.get("caught", 0)
    done = counts.get("succeeded", 0) + counts.get("cloned", 0) + caught
    text = f"{done}/{total} done"
    if caught:
        text += f", {caught} caught"
    running = counts.get("running", 0) + counts.get("retrying", 0)
    if running:
        text += f", {running} running"
    for status in ("failed", "killed"):
        if counts.get(status):
            text += f", {counts[status]} {status}"
    return text


def _fit(text: str, limit: int = 22) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
