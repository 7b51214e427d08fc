"""Turning a flow class into a :class:`FlowGraph`, reading its source but running nothing."""

from __future__ import annotations

import ast
import inspect
from types import FunctionType, MappingProxyType

from flowkit.authoring.compat import flow_problems_of
from flowkit.authoring.decorators import decorators_of
from flowkit.authoring.environment import base_specs, missing_packages
from flowkit.authoring.flowspec import step_functions
from flowkit.authoring.parameters import Parameter, parameters_of
from flowkit.authoring.user_decorators import wrappers_of
from flowkit.errors import Problem
from flowkit.fastdata import replace
from flowkit.graph.code import (
    code_digest,
    decorators_code,
    flow_methods,
    helpers,
    methods_code,
    normalized,
    parameters_read,
    statements,
)
from flowkit.graph.model import FlowGraph, ParameterSpec, StepNode
from flowkit.graph.parse import parse_step
from flowkit.graph.source import (
    SourceUnavailable,
    class_node,
    display_name,
    function_node,
    parse_file,
)

_NO_SOURCE_HINT = (
    "flowkit reads a flow's source to build its graph: define the flow in a .py file or a "
    "notebook cell; for exec(), register the source first with "
    "linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)"
)


def build_graph(flow_cls: type) -> FlowGraph:
    """The graph of ``flow_cls``; what cannot be read is recorded in ``problems``."""
    funcs = step_functions(flow_cls)
    problems: list[Problem] = []
    params = parameters_of(flow_cls)
    param_attrs = {p.attr for p in params if p.attr}
    file, line, cls_node = _class_location(flow_cls, funcs)
    missing_files: set[str] = set()
    methods = flow_methods(flow_cls, funcs)
    nodes: dict[str, StepNode] = {}
    for name, func in funcs.items():
        node = _step_node(name, func, flow_cls, param_attrs, methods, problems, missing_files)
        nodes[name] = node
    parents: dict[str, list[str]] = {name: [] for name in nodes}
    for node in nodes.values():
        for target in node.targets:
            if target in parents and node.name not in parents[target]:
                parents[target].append(node.name)
    steps = {name: replace(node, parents=tuple(parents[name])) for name, node in nodes.items()}
    param_specs = tuple(_parameter_spec(p, cls_node, file, problems) for p in params)
    problems += _shadowed_by_steps(cls_node, steps, file)
    # what flow decorators found wrong; @conda_base/@pypi_base packages are looked up here
    for message in (*flow_problems_of(flow_cls), *missing_packages(base_specs(flow_cls))):
        problems.append(Problem(str(message), getattr(message, "hint", ""), file=file, line=line))
    return FlowGraph(
        name=flow_cls.__name__,
        file=file,
        line=line,
        doc=inspect.cleandoc(flow_cls.__doc__ or ""),
        steps=MappingProxyType(steps),
        parameters=param_specs,
        problems=tuple(problems),
    )


def _step_node(
    name: str,
    func: FunctionType,
    flow_cls: type,
    param_attrs: set[str],
    methods: dict[str, FunctionType],
    problems: list[Problem],
    missing_files: set[str],
) -> StepNode:
    code = func.__code__
    file = display_name(code.co_filename)
    decorators, decorator_problems = decorators_of(func)
    doc = inspect.cleandoc(func.__doc__ or "")
    for message in (*decorator_problems, *missing_packages(decorators)):  # @conda/@pypi
        problems.append(
            Problem(
                str(message),
                getattr(message, "hint", "fix the decorator's arguments"),
                step=name,
                file=file,
                line=code.co_firstlineno,
            )
        )
    try:
        tree_node = function_node(func)
    except SourceUnavailable as exc:
        if code.co_filename not in missing_files:
            missing_files.add(code.co_filename)
            problems.append(
                Problem(str(exc), _NO_SOURCE_HINT, step=name, file=file, line=code.co_firstlineno)
            )
        return StepNode(
            name=name,
            file=file,
            line=code.co_firstlineno,
            doc=doc,
            takes_inputs=False,
            transition="invalid",
            decorators=decorators,
        )
    parsed = parse_step(name, tree_node, file)
    problems.extend(parsed.problems)
    step_code = normalized(tree_node)
    # What else the step runs: flow methods it calls, and its user step decorators (none:
    # the digest is the step's and its helpers' alone, as it always was).
    wrapped, unkeyed = decorators_code(wrappers_of(func))
    called = {**helpers(func), **methods_code(tree_node, methods, flow_cls), **wrapped}
    return StepNode(
        name=name,
        file=file,
        line=tree_node.lineno,
        doc=doc,
        decorators=decorators,
        takes_inputs=parsed.takes_inputs,
        transition=parsed.transition,
        targets=parsed.targets,
        foreach=parsed.foreach,
        condition=parsed.condition,
        cases=parsed.cases,
        next_line=parsed.next_line,
        code=step_code,
        code_digest=code_digest(step_code, called),
        unkeyed=unkeyed,
        reads=parameters_read(tree_node, param_attrs, methods),
        statement_lines=tuple(s.lineno for s in statements(tree_node)),
    )


def _class_location(
    flow_cls: type, funcs: dict[str, FunctionType]
) -> tuple[str, int, ast.ClassDef | None]:
    """Where ``class Flow`` is written, and its syntax node when the source is readable."""
    own = [f for f in funcs.values() if f.__qualname__.split(".")[0] == flow_cls.__name__]
    anchor = own[0] if own else next(iter(funcs.values()), None)
    if anchor is None:
        module = inspect.getmodule(flow_cls)
        return display_name(getattr(module, "__file__", None) or "<unknown>"), 1, None
    filename, first = anchor.__code__.co_filename, anchor.__code__.co_firstlineno
    try:
        tree = parse_file(filename, anchor.__globals__)
    except (SourceUnavailable, SyntaxError):
        return display_name(filename), first, None
    node = class_node(tree, flow_cls.__name__, first)
    return display_name(filename), node.lineno if node else first, node


def _parameter_spec(
    param: Parameter, cls_node: ast.ClassDef | None, file: str, problems: list[Problem]
) -> ParameterSpec:
    line = _parameter_line(param, cls_node)
    for message in param.problems:
        problems.append(Problem(message, "see help(flowkit.Parameter)", file=file, line=line))
    return ParameterSpec(
        attr=param.attr or param.name,
        name=param.name,
        kind=param.kind,
        default=param.default,
        required=param.required,
        help=param.help,
        line=line,
    )


def _parameter_line(param: Parameter, cls_node: ast.ClassDef | None) -> int | None:
    for stmt in cls_node.body if cls_node else ():
        if isinstance(stmt, ast.Assign):
            targets = stmt.targets
        elif isinstance(stmt, ast.AnnAssign):
            targets = [stmt.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == param.attr for t in targets):
            return stmt.lineno
    return None


def _shadowed_by_steps(
    cls_node: ast.ClassDef | None, steps: dict[str, StepNode], file: str
) -> list[Problem]:
    """Class attributes (parameters, usually) that a later ``def`` of a step replaces."""
    out = []
    for stmt in cls_node.body if cls_node else ():
        targets = stmt.targets if isinstance(stmt, ast.Assign) else []
        for target in targets:
            if isinstance(target, ast.Name) and target.id in steps:
                out.append(
                    Problem(
                        f"'{target.id}' is defined here and again as a step, "
                        "which replaces it; the two need different names",
                        f"rename this attribute or step '{target.id}'",
                        file=file,
                        line=stmt.lineno,
                    )
                )
    return out
