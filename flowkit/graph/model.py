"""The frozen graph of a flow: steps, transitions, parameters, with file and line for each."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal

from flowkit.authoring.decorators import DecoratorSpec
from flowkit.errors import Problem
from flowkit.fastdata import dataclass, field

TransitionKind = Literal["linear", "split", "foreach", "switch", "end", "invalid"]


@dataclass(frozen=True)
class StepNode:
    """One step as written: where it is, what it receives, where it goes next."""

    name: str
    file: str
    line: int
    doc: str
    takes_inputs: bool
    transition: TransitionKind
    targets: tuple[str, ...] = ()
    foreach: str | None = None
    condition: str | None = None
    cases: tuple[tuple[str, str], ...] = ()
    next_line: int | None = None
    decorators: tuple[DecoratorSpec, ...] = ()
    parents: tuple[str, ...] = ()
    #: The step's normalized source (see :mod:`flowkit.graph.code`), for explaining reuse.
    code: str = ""
    #: Digest of the normalized source and of the helpers it calls: part of the cache key.
    code_digest: str = ""
    #: Why the step always runs under reuse ("" if it need not): an argument of one of its
    #: user step decorators has no stable form for a cache key.
    unkeyed: str = ""
    #: Parameters the step reads (``self.<parameter>``).
    reads: tuple[str, ...] = ()
    #: File line of each statement of the step, in :func:`flowkit.graph.code.statements` order.
    statement_lines: tuple[int, ...] = ()

    @property
    def is_join(self) -> bool:
        return self.takes_inputs

    def decorator(self, name: str) -> DecoratorSpec | None:
        """The step's decorator called ``name``, if it has one."""
        return next((d for d in self.decorators if d.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.file,
            "line": self.line,
            "doc": self.doc,
            "join": self.takes_inputs,
            "transition": self.transition,
            "targets": list(self.targets),
            "foreach": self.foreach,
            "condition": self.condition,
            "cases": dict(self.cases),
            "parents": list(self.parents),
            "decorators": [d.to_json() for d in self.decorators],
        }


@dataclass(frozen=True)
class ParameterSpec:
    """A flow parameter as the graph records it (the value arrives when a run starts)."""

    attr: str
    name: str
    kind: str
    default: Any
    required: bool
    help: str
    line: int | None

    def to_json(self) -> dict[str, Any]:
        default = self.default
        if not isinstance(default, str | int | float | bool | list | dict | type(None)):
            default = repr(default)
        return {
            "attr": self.attr,
            "name": self.name,
            "type": self.kind,
            "default": default,
            "required": self.required,
            "help": self.help,
        }


@dataclass(frozen=True)
class FlowGraph:
    """A flow as frozen data. ``problems`` holds what was found while reading the source;
    lint adds the structural checks on top."""

    name: str
    file: str
    line: int
    doc: str
    steps: Mapping[str, StepNode]
    parameters: tuple[ParameterSpec, ...] = ()
    problems: tuple[Problem, ...] = field(default=(), compare=False)

    def __getitem__(self, name: str) -> StepNode:
        return self.steps[name]

    def __contains__(self, name: object) -> bool:
        return name in self.steps

    def __iter__(self) -> Iterator[StepNode]:
        return iter(self.ordered())

    def ordered(self) -> list[StepNode]:
        """Steps in the order a reader follows them: breadth-first from ``start``,
        then any step not reachable from it, in source order."""
        order: list[str] = []
        queue = ["start"] if "start" in self.steps else []
        while queue:
            name = queue.pop(0)
            if name in order or name not in self.steps:
                continue
            order.append(name)
            queue.extend(self.steps[name].targets)
        # 'end' last among reachable steps reads best
        if "end" in order:
            order.remove("end")
            order.append("end")
        rest = sorted((n for n in self.steps.values() if n.name not in order), key=lambda n: n.line)
        return [self.steps[n] for n in order] + rest

    def to_json(self) -> dict[str, Any]:
        return {
            "flow": self.name,
            "file": self.file,
            "line": self.line,
            "doc": self.doc,
            "parameters": [p.to_json() for p in self.parameters],
            "steps": [s.to_json() for s in self.ordered()],
        }
