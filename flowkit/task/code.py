"""How a flow class travels to a worker: by module or file for code on disk, by value
(cloudpickle, stored as a content-addressed blob) for classes from a notebook or ``exec``."""

from __future__ import annotations

import importlib
import sys
from types import FunctionType
from typing import TYPE_CHECKING

from flowkit.errors import FlowLoadError
from flowkit.task.spec import CodeRef

if TYPE_CHECKING:
    from flowkit.store import Store


def code_ref_for(flow_cls: type, store: Store) -> CodeRef:
    """The cheapest way for a worker to get ``flow_cls`` back."""
    module = sys.modules.get(flow_cls.__module__)
    file = getattr(module, "__file__", None)
    path = tuple(p for p in sys.path if isinstance(p, str))
    # A class the module still holds under its name can be imported again; one redefined
    # in a notebook cell, or made by exec, travels by value.
    if module is not None and file and getattr(module, flow_cls.__name__, None) is flow_cls:
        # A script, or a file flowkit imported by path (maybe under a name of its own making),
        # is imported by path again; anything else by its module name.
        if flow_cls.__module__ == "__main__" or hasattr(module, "__flowkit_source__"):
            return CodeRef("file", file, flow_cls.__name__, path)
        return CodeRef("module", flow_cls.__module__, flow_cls.__name__, path)
    package = {"flow": flow_cls, "sources": _unsaved_sources(flow_cls)}
    ref = store.put_value(package, name=flow_cls.__name__)
    return CodeRef("blob", ref.digest, flow_cls.__name__, path)


def _unsaved_sources(flow_cls: type) -> dict[str, tuple[str, list[str]]]:
    """Source text that exists only in this process (notebook cells, exec'd code) of the
    flow's functions and the functions they call, so a worker's tracebacks can quote it."""
    import linecache
    import os

    from flowkit.graph.source import display_name

    seen: set[int] = set()
    todo = [v for k in flow_cls.__mro__ for v in vars(k).values() if isinstance(v, FunctionType)]
    files: set[str] = set()
    while todo:
        func = todo.pop()
        if id(func) in seen:
            continue
        seen.add(id(func))
        files.add(func.__code__.co_filename)
        todo += [
            g
            for n in func.__code__.co_names
            if isinstance(g := func.__globals__.get(n), FunctionType)
        ]
    out = {}
    for filename in files:
        lines = linecache.getlines(filename)
        if lines and not os.path.exists(filename):
            out[filename] = (display_name(filename), lines)
    return out


def load_flow_class(ref: CodeRef, store: Store) -> type:
    """The flow class a :class:`CodeRef` names, imported or unpickled in this process."""
    for entry in reversed(ref.sys_path):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    if ref.kind == "file":
        from flowkit.authoring.loader import load_flow_file

        return load_flow_file(ref.target, ref.flow)
    if ref.kind == "module":
        try:
            module = importlib.import_module(ref.target)
        except ImportError as exc:
            raise FlowLoadError(
                f"the worker cannot import module {ref.target!r} of flow {ref.flow}: {exc}",
                "make the module importable where tasks run (PYTHONPATH, or install the project)",
            ) from None
        cls = getattr(module, ref.flow, None)
        if not isinstance(cls, type):
            raise FlowLoadError(f"module {ref.target!r} has no flow class {ref.flow!r}")
        return cls
    package = store.load_value(ref.target)
    loaded = package.get("flow") if isinstance(package, dict) else None
    if not isinstance(loaded, type):
        raise FlowLoadError(f"blob {ref.target} does not hold a flow class")
    from flowkit.graph.source import register_sources

    register_sources(package.get("sources", {}))
    return loaded
