"""The checks lint runs over a :class:`FlowGraph`; each returns problems, none raises."""

from __future__ import annotations

from collections import Counter

from flowkit.authoring.flowspec import RESERVED_NAMES
from flowkit.authoring.names import run_option_named
from flowkit.errors import Problem
from flowkit.graph.model import FlowGraph
from flowkit.graph.structure import Structure, analyze
from flowkit.store import is_name, name_rule


def lint(graph: FlowGraph) -> list[Problem]:
    """Every problem with ``graph``: what reading it found, then its shape, sorted by line."""
    problems = list(graph.problems)
    problems += _start_and_end(graph)
    problems += _names(graph)
    unknown = _unknown_targets(graph)
    problems += unknown
    # A transition that could not be read hides where the flow goes; checking the shape
    # then would only report the consequences, so wait until the transitions are fixed.
    if not unknown and all(n.transition != "invalid" for n in graph.steps.values()):
        structure = analyze(graph)
        problems += _unreachable(graph, structure)
        problems += structure.problems
    problems += _parameters(graph)
    problems += _catch_on_fan_out(graph)
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.file or "", p.line or 0))


def _start_and_end(graph: FlowGraph) -> list[Problem]:
    out = []
    if not graph.steps:
        return [
            Problem(
                f"{graph.name} has no steps",
                "mark methods with @step: at least 'start' and 'end'",
                file=graph.file,
                line=graph.line,
            )
        ]
    for name, role in (("start", "the flow begins"), ("end", "the flow finishes")):
        if name not in graph.steps:
            out.append(
                Problem(
                    f"{graph.name} has no '{name}' step",
                    f"add '@step def {name}(self)': {role} there",
                    file=graph.file,
                    line=graph.line,
                )
            )
    return out


def _names(graph: FlowGraph) -> list[Problem]:
    out = []
    if not is_name(graph.name):
        out.append(
            Problem(
                f"'{graph.name}' cannot be a flow name: the store could not hold its runs",
                f"rename the class; {name_rule('flow')}",
                file=graph.file,
                line=graph.line,
            )
        )
    for node in graph.steps.values():
        if not is_name(node.name):
            out.append(
                Problem(
                    f"'{_shortened(node.name)}' cannot be a step name: the store could not "
                    "hold its tasks",
                    f"rename the step{_suggestion(node.name)}; {name_rule('step')}",
                    step=node.name,
                    file=node.file,
                    line=node.line,
                )
            )
        elif node.name in RESERVED_NAMES or node.name.startswith("_"):
            out.append(
                Problem(
                    f"'{node.name}' cannot be a step name: flowkit reserves it",
                    f"rename the step, e.g. '{node.name.strip('_')}_step'",
                    step=node.name,
                    file=node.file,
                    line=node.line,
                )
            )
    return out


def _unknown_targets(graph: FlowGraph) -> list[Problem]:
    out = []
    for node in graph.steps.values():
        for target in node.targets:
            if target in graph.steps:
                continue
            import difflib  # here: every run lints its flow, few name a step that is not there

            close = difflib.get_close_matches(target, list(graph.steps), n=1)
            hint = (
                f"did you mean self.{close[0]}?"
                if close
                else (f"the steps are: {', '.join(sorted(graph.steps))}")
            )
            out.append(
                Problem(
                    f"self.next() goes to '{target}', which is not a step of {graph.name}",
                    hint,
                    step=node.name,
                    file=node.file,
                    line=node.next_line or node.line,
                )
            )
    return out


def _unreachable(graph: FlowGraph, structure: Structure) -> list[Problem]:
    if "start" not in graph.steps:
        return []
    return [
        Problem(
            f"step '{node.name}' can never run: no step leads to it from start",
            f"reach it with self.next(self.{node.name}) from another step, or delete it",
            step=node.name,
            file=node.file,
            line=node.line,
        )
        for node in graph.steps.values()
        if node.name not in structure.reachable
    ]


def _parameters(graph: FlowGraph) -> list[Problem]:
    out = []
    counts = Counter(p.name for p in graph.parameters)
    for param in graph.parameters:
        names = {param.attr, param.name}
        clash = sorted(n for n in names if n in graph.steps)
        reserved = sorted(n for n in names if n in RESERVED_NAMES)
        option = sorted(o for n in names if (o := run_option_named(n)))
        hint = "give the parameter another name"
        if clash:
            message = f"parameter '{param.name}' has the same name as step '{clash[0]}'"
        elif reserved:
            message = f"parameter '{param.name}' uses the reserved name '{reserved[0]}'"
        elif option:
            flag = "--" + option[0].rstrip("_").replace("_", "-")
            message = f"parameter '{param.name}' has the name of the run option {flag}"
            hint = (
                f"give the parameter another name: run and resume take {flag} "
                f"(flowkit.run(..., {option[0].rstrip('_')}=...)) themselves, so the flow "
                "would never see it"
            )
        elif counts[param.name] > 1:
            message = f"two parameters are called '{param.name}'"
        else:
            continue
        out.append(Problem(message, hint, file=graph.file, line=param.line or graph.line))
    return out


def _catch_on_fan_out(graph: FlowGraph) -> list[Problem]:
    """``@catch`` on a foreach or a switch step, which Metaflow refuses at the start of a run:
    a caught failure has no items to fan out over, and no case to choose."""
    out = []
    for node in graph.steps.values():
        if node.decorator("catch") is None or node.transition not in ("foreach", "switch"):
            continue
        what = "fans out (foreach)" if node.transition == "foreach" else "chooses a case (switch)"
        out.append(
            Problem(
                f"step '{node.name}' has @catch, but it {what}: a caught failure could not "
                "say where the flow goes",
                f"move @catch off '{node.name}': put it on the steps that follow, or handle "
                "the failure inside the step with try/except",
                step=node.name,
                file=node.file,
                line=node.line,
            )
        )
    return out


def _shortened(name: str) -> str:
    return name if len(name) <= 40 else f"{name[:37]}..."


def _suggestion(name: str) -> str:
    import unicodedata  # here: only a step misnamed needs it

    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_name = ascii_name[:128]
    return f", e.g. '{ascii_name}'" if ascii_name and is_name(ascii_name) else ""
