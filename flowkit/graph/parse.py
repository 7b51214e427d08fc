"""Reading one step's ``def``: what it receives and what its ``self.next(...)`` says."""

from __future__ import annotations

import ast

from flowkit.authoring.flowspec import RESERVED_NAMES
from flowkit.errors import Problem
from flowkit.fastdata import dataclass, field
from flowkit.graph.model import TransitionKind

_SWITCH_HINT = 'to choose the next step at run time, use self.next({"a": self.a, "b": self.b}, condition="attr")'


@dataclass
class ParsedStep:
    """What the syntax of one step says about its place in the graph."""

    takes_inputs: bool = False
    transition: TransitionKind = "invalid"
    targets: tuple[str, ...] = ()
    foreach: str | None = None
    condition: str | None = None
    cases: tuple[tuple[str, str], ...] = ()
    next_line: int | None = None
    problems: list[Problem] = field(default_factory=list)


class _StepReader:
    def __init__(self, name: str, node: ast.FunctionDef | ast.AsyncFunctionDef, file: str) -> None:
        self.name, self.node, self.file = name, node, file
        self.out = ParsedStep()
        args = node.args
        self.self_name = (
            (args.posonlyargs + args.args)[0].arg if args.posonlyargs + args.args else "self"
        )

    def problem(self, message: str, hint: str, line: int | None = None) -> None:
        self.out.problems.append(
            Problem(message, hint, step=self.name, file=self.file, line=line or self.node.lineno)
        )

    def is_next(self, node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "next"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == self.self_name
        )

    def self_attr(self, node: ast.AST) -> str | None:
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == self.self_name
        ):
            return node.attr
        return None

    # -- checks ---------------------------------------------------------------------------------
    def signature(self) -> None:
        node, args = self.node, self.node.args
        if isinstance(node, ast.AsyncFunctionDef):
            self.problem("a step cannot be 'async def'", f"define it as 'def {self.name}(self)'")
        positional = args.posonlyargs + args.args
        if (
            args.vararg
            or args.kwarg
            or args.kwonlyargs
            or args.defaults
            or not 1 <= len(positional) <= 2
        ):
            self.problem(
                f"step '{self.name}' has an unsupported signature",
                f"a step is 'def {self.name}(self)', or 'def {self.name}(self, inputs)' for a join",
            )
        self.out.takes_inputs = len(positional) == 2

    def next_calls(self) -> None:
        body = self.node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]
        calls = [n for n in ast.walk(self.node) if isinstance(n, ast.Call) and self.is_next(n)]
        last = body[-1] if body else None
        main = last.value if isinstance(last, ast.Expr) and self.is_next(last.value) else None
        if self.name == "end":
            for call in calls:
                self.problem(
                    "the end step must not call self.next()",
                    "remove it: the flow finishes when 'end' returns",
                    call.lineno,
                )
            self.out.transition = "end"
            return
        if not calls:
            self.problem(
                f"step '{self.name}' never calls self.next()",
                f"end '{self.name}' with self.next(self.<next_step>); only 'end' finishes a flow",
            )
            return
        for call in calls:
            if call is main:
                continue
            if main is not None:
                self.problem(
                    "self.next() may be called only once, as the step's last statement",
                    _SWITCH_HINT,
                    call.lineno,
                )
            else:
                self.problem(
                    "self.next() must be the last statement of the step",
                    f"move it to the end of '{self.name}'; " + _SWITCH_HINT,
                    call.lineno,
                )
        if isinstance(main, ast.Call):
            self.transition(main)

    def transition(self, call: ast.Call) -> None:
        out = self.out
        out.next_line = call.lineno
        ok = True
        for kw in call.keywords:
            if kw.arg not in ("foreach", "condition"):
                ok = False
                self.problem(
                    f"self.next() has no argument '{kw.arg}'",
                    "self.next() takes steps, and optionally foreach='attr' or condition='attr'",
                    call.lineno,
                )
                continue
            value = kw.value
            if not (
                isinstance(value, ast.Constant)
                and isinstance(value.value, str)
                and value.value.isidentifier()
            ):
                ok = False
                self.problem(
                    f"{kw.arg}= must name an artifact as a string, got {ast.unparse(value)}",
                    f"write {kw.arg}='items' and assign self.items before self.next()",
                    call.lineno,
                )
                continue
            setattr(out, kw.arg, value.value)
        if out.condition is not None:
            ok = self.switch(call) and ok
        else:
            ok = self.plain_targets(call) and ok
        if ok:
            out.transition = (
                "switch"
                if out.condition
                else "foreach"
                if out.foreach
                else "split"
                if len(out.targets) > 1
                else "linear"
            )

    def switch(self, call: ast.Call) -> bool:
        if self.out.foreach is not None:
            self.problem(
                "self.next() cannot take both foreach= and condition=", _SWITCH_HINT, call.lineno
            )
            return False
        if len(call.args) != 1 or not isinstance(call.args[0], ast.Dict):
            self.problem("a switch takes exactly one dict of cases", _SWITCH_HINT, call.lineno)
            return False
        cases: list[tuple[str, str]] = []
        ok = True
        for key, value in zip(call.args[0].keys, call.args[0].values, strict=True):
            target = self.self_attr(value)
            if not isinstance(key, ast.Constant) or target is None:
                shown = "**" + ast.unparse(value) if key is None else ast.unparse(key)
                self.problem(
                    f"switch case {shown} must map a constant label to a step (self.<step>)",
                    _SWITCH_HINT,
                    call.lineno,
                )
                ok = False
                continue
            cases.append((str(key.value), target))
        self.out.cases = tuple(cases)
        self.out.targets = tuple(dict.fromkeys(t for _, t in cases))
        return ok and bool(cases)

    def plain_targets(self, call: ast.Call) -> bool:
        if any(isinstance(a, ast.Dict) for a in call.args):
            self.problem("a dict of cases needs condition='attr'", _SWITCH_HINT, call.lineno)
            return False
        targets = []
        for arg in call.args:
            target = self.self_attr(arg)
            if target is None:
                self.problem(
                    f"self.next() takes steps as self.<step>, got {ast.unparse(arg)}",
                    "e.g. self.next(self.train)",
                    call.lineno,
                )
                return False
            targets.append(target)
        if not targets:
            self.problem("self.next() names no step", "e.g. self.next(self.end)", call.lineno)
            return False
        if len(set(targets)) != len(targets):
            self.problem(
                "self.next() names the same step twice",
                "a static split names each branch once",
                call.lineno,
            )
            return False
        if self.out.foreach is not None and len(targets) != 1:
            self.problem(
                "a foreach fans out to exactly one step",
                f"write self.next(self.{targets[0]}, foreach='{self.out.foreach}')",
                call.lineno,
            )
            return False
        self.out.targets = tuple(targets)
        return True

    def assignments(self) -> None:
        # Assigning to a parameter is not refused here: as in Metaflow, it raises
        # AttributeError in the step at run time, where a step may catch it.
        for node in ast.walk(self.node):
            if isinstance(node, ast.Assign):
                targets: list[ast.expr] = list(node.targets)
            elif isinstance(node, ast.AugAssign | ast.AnnAssign):
                targets = [node.target]
            else:
                continue
            flat = [
                e for t in targets for e in (t.elts if isinstance(t, ast.Tuple | ast.List) else [t])
            ]
            for target in flat:
                attr = self.self_attr(target)
                if attr in RESERVED_NAMES:
                    self.problem(
                        f"'{attr}' is reserved by flowkit and cannot be an artifact",
                        f"rename the artifact, e.g. self.{attr}_value",
                        node.lineno,
                    )


def parse_step(name: str, node: ast.FunctionDef | ast.AsyncFunctionDef, file: str) -> ParsedStep:
    """Read the ``def`` of step ``name``; problems are collected, never raised."""
    reader = _StepReader(name, node, file)
    reader.signature()
    reader.next_calls()
    reader.assignments()
    return reader.out
