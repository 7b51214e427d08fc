"""Loading flow classes from a ``.py`` file by path, with errors that point into the file."""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Mapping
from types import CodeType, ModuleType
from typing import Any

from flowkit.errors import FlowLoadError


def load_flow_file(
    path: str | os.PathLike[str], flow_name: str | None = None, *, origin: str | None = None
) -> type:
    """The flow class defined in ``path`` (``flow_name`` picks one when there are several).

    The file is imported as a module named after it, with its folder on ``sys.path`` as
    ``python flow.py`` would have it, so its ``if __name__ == "__main__"`` block does not run.
    ``path`` may be a copy of the file at ``origin`` (a code package's): its code then names
    ``origin``, as the user knows it, in tracebacks and messages.
    """
    file = os.path.realpath(os.path.expanduser(os.fspath(path)))
    if not os.path.isfile(file):
        raise FlowLoadError(f"no flow file at {path}", "check the path; it should name a .py file")
    module = _import(file, origin)
    from flowkit.authoring.flowspec import FlowSpecBase

    flows = {
        name: obj
        for name, obj in vars(module).items()
        if isinstance(obj, type)
        and issubclass(obj, FlowSpecBase)
        and obj.__module__ == module.__name__
    }
    if flow_name is not None:
        if flow_name not in flows:
            raise FlowLoadError(
                f"{path} defines no flow called {flow_name!r}",
                f"flows in this file: {', '.join(sorted(flows)) or 'none'}",
            )
        return flows[flow_name]
    if not flows:
        raise FlowLoadError(
            f"{path} defines no flow",
            "a flow is a class deriving from flowkit.FlowSpec with @step methods",
        )
    if len(flows) > 1:
        raise FlowLoadError(
            f"{path} defines several flows: {', '.join(sorted(flows))}",
            "choose one with --flow NAME",
        )
    return next(iter(flows.values()))


def _import(file: str, origin: str | None = None) -> ModuleType:
    stem = os.path.splitext(os.path.basename(file))[0]
    name = stem if stem.isidentifier() else "flowkit_flow_" + str(abs(hash(file)))
    with open(file, "rb") as source:
        digest = hashlib.sha256(source.read()).hexdigest()
    existing = sys.modules.get(name)
    if existing is not None and getattr(existing, "__file__", None) == file:
        if getattr(existing, "__flowkit_source__", None) == digest:
            return existing  # imported already, and the file has not changed since
    elif existing is not None:
        name = f"flowkit_flow_{abs(hash(file))}"
    # Never from the bytecode cache: it is trusted by the file's mtime (whole seconds) and
    # size, so an edit that keeps the size, within a second of the last, would run old code.
    loader = CopyLoader(name, file, file if origin is None else origin)
    spec = importlib.util.spec_from_file_location(name, file, loader=loader)
    if spec is None or spec.loader is None:
        raise FlowLoadError(f"{file} cannot be imported as Python", "flow files end in .py")
    module = importlib.util.module_from_spec(spec)
    module.__flowkit_source__ = digest  # type: ignore[attr-defined]
    folder = os.path.dirname(file)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[name]
        raise FlowLoadError(
            f"{exc.filename}:{exc.lineno}: {exc.msg}",
            "fix the syntax error; the flow file must be valid Python",
        ) from None
    except Exception as exc:
        del sys.modules[name]
        import traceback  # here: only a flow file that fails to import needs it

        frames = [f for f in traceback.extract_tb(exc.__traceback__) if _is_user_frame(f.filename)]
        where = "".join(traceback.format_list(frames)).rstrip()
        raise FlowLoadError(
            f"importing {file} failed: {type(exc).__name__}: {exc}"
            + (f"\n{where}" if where else ""),
            "fix the error in the flow file (it runs at import, before any step)",
        ) from None
    return module


def _is_user_frame(filename: str) -> bool:
    flowkit_dir = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    return not (filename.startswith(flowkit_dir) or filename.startswith("<frozen"))


class CopyLoader(importlib.machinery.SourceFileLoader):
    """Imports ``path``, a copy of the source file at ``origin`` (or that file itself), as if
    it were that file: its code objects name ``origin``. No bytecode cache is read or
    written (a cached file would name the copy again, or be older than the source)."""

    def __init__(self, fullname: str, path: str, origin: str) -> None:
        super().__init__(fullname, path)
        self.origin = origin

    def source_to_code(  # type: ignore[override]
        self, data: bytes, path: str, *, _optimize: int = -1
    ) -> CodeType:
        return compile(data, self.origin, "exec", dont_inherit=True, optimize=_optimize)

    def path_stats(self, path: str) -> Mapping[str, Any]:
        raise OSError("no bytecode cache for a copy")
