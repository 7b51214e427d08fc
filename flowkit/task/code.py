"""How a flow class travels to a worker: in the run's code package (see
:mod:`flowkit.task.package`). A class from code on disk is imported from the package's
files; a class from a notebook or ``exec`` travels by value (cloudpickle, in a blob of its
own that the package names, the package holding its cells as files for people to read).

A class that travels by value takes with it what a serializer may not keep: the source of
the cells it was written in and each function's file name (cloudpickle 3.1.3 and later
name every code object ``<dynamic-code>``), so tracebacks in the worker quote the cells.
"""

from __future__ import annotations

import importlib
import linecache
import os
import re
import sys
from collections.abc import Iterator
from types import CodeType, FunctionType, ModuleType, SimpleNamespace
from typing import TYPE_CHECKING, Any

from flowkit.authoring.loader import CopyLoader
from flowkit.errors import FlowLoadError
from flowkit.graph.source import global_names
from flowkit.store.errors import ArtifactNotSerializable
from flowkit.store.packages import CodePackage
from flowkit.task.package import cache_folder, extract, notebook_modules, snapshot
from flowkit.task.spec import CodeRef

if TYPE_CHECKING:
    from importlib.abc import PathEntryFinder
    from importlib.readers import FileReader

    from flowkit.store import Store


def code_ref_for(flow_cls: type, store: Store) -> CodeRef:
    """Snapshot the code of ``flow_cls`` into the store as a package; how a worker finds it."""
    module = sys.modules.get(flow_cls.__module__)
    file = getattr(module, "__file__", None)
    # not the folders of packages this process extracted (an in-process task, a client that
    # loaded a run's code): a worker gets this run's package, never a stale copy of another
    extracted = cache_folder() + os.sep
    path = tuple(p for p in sys.path if isinstance(p, str) and not p.startswith(extracted))
    # A class the module still holds under its name is imported from the package's copy of
    # its file; one redefined in a notebook cell, or made by exec, travels by value.
    if isinstance(file, str) and getattr(module, flow_cls.__name__, None) is flow_cls:
        package, root = snapshot(flow_cls, file)
    else:
        package, root = _notebook_package(flow_cls, store)
    ref = store.values.put(package.to_value(), name=f"code package of {flow_cls.__name__}")
    return CodeRef("package", ref.digest, flow_cls.__name__, path, root)


def _notebook_package(flow_cls: type, store: Store) -> tuple[CodePackage, str]:
    """A package naming the class blob of a notebook's flow, with its cells as files and
    the project modules it imports (those go by reference, not by value), and the project
    root those modules' names are relative to."""
    blob = _class_blob(flow_cls, store)
    sources = sorted(blob[1].items())
    texts = ["".join(lines).encode() for _, (_, lines) in sources]
    files, paths, root = notebook_modules(texts)
    cells: dict[str, str] = {}
    for (filename, (shown, _)), text in zip(sources, texts, strict=True):
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", shown).strip("_.") or "cell"
        name = f"cells/{stem}.py"
        while name in files:
            name = f"cells/{stem}_{len(files)}.py"
        files[name] = text
        cells[filename] = name
    return CodePackage(flow_cls.__name__, "blob", blob[0], files, paths, cells), root


def _class_blob(flow_cls: type, store: Store) -> tuple[str, dict[str, tuple[str, list[str]]]]:
    """Store ``flow_cls`` by value; its blob's digest, and the unsaved sources it needs."""
    functions = _functions_by_value(flow_cls)
    sources = _unsaved_sources(functions)
    blob = {
        "flow": flow_cls,
        "sources": sources,
        # The functions themselves, so the worker finds the very objects the class holds
        # (pickling keeps shared references), each with the file it was compiled from.
        "filenames": [(f, f.__code__.co_filename) for f in functions],
    }
    try:
        ref = store.values.put(blob, name=flow_cls.__name__)
    except ArtifactNotSerializable as exc:
        raise _unpicklable(flow_cls, functions, exc.__cause__ or exc) from None
    return ref.digest, sources


def _unpicklable(flow_cls: type, functions: list[FunctionType], cause: BaseException) -> Exception:
    """The error for a notebook flow whose code cannot be pickled, naming what cannot be:
    a function and the global (or closure) value it uses, when one is to blame."""
    from flowkit.graph.source import display_name

    failing = [f for f in functions if not _pickles(f)]
    blamed = [(f, name, value) for f in failing for name, value in _unpicklable_values(f)]
    move = "to a module the notebook imports (a worker imports a module instead of unpickling it)"
    if blamed:
        func, name, value = blamed[0]
        code = func.__code__
        what = (
            f"function '{func.__qualname__}' ({display_name(code.co_filename)}, line "
            f"{code.co_firstlineno}) uses {name}, a {type(value).__module__}."
            f"{type(value).__qualname__}"
        )
        hint = f"create {name} inside the step that needs it, or move '{func.__qualname__}' {move}"
    else:
        what = f"function '{failing[0].__qualname__}'" if failing else f"class {flow_cls.__name__}"
        hint = f"create what cannot be pickled inside the step that needs it, or move it {move}"
    return FlowLoadError(
        f"the notebook's code of flow {flow_cls.__name__} cannot be pickled for its workers: "
        f"{what}: {type(cause).__name__}: {cause}",
        hint,
    )


def _unpicklable_values(func: FunctionType) -> list[tuple[str, Any]]:
    """The global and closure values ``func`` uses that cannot be pickled (functions,
    classes and modules aside: they are looked at on their own), named for a message."""
    code = func.__code__
    names = dict.fromkeys(n for n in global_names(code) if n in func.__globals__)
    values = [(f"global '{n}'", func.__globals__[n]) for n in names]
    cells = zip(code.co_freevars, func.__closure__ or (), strict=False)
    values += [(f"closure variable '{n}'", _contents(cell)) for n, cell in cells]
    return [
        (name, value)
        for name, value in values
        if not isinstance(value, FunctionType | type | ModuleType) and not _pickles(value)
    ]


def _pickles(value: Any) -> bool:
    import cloudpickle

    try:
        cloudpickle.dumps(value)
    except Exception:  # anything a __reduce__ raises
        return False
    return True


def _functions_by_value(flow_cls: type) -> list[FunctionType]:
    """The functions that travel by value with ``flow_cls``: its methods and, transitively,
    the functions and classes they call, wrap or close over (a notebook's helpers)."""
    found: list[FunctionType] = []
    seen: set[int] = set()
    todo: list[Any] = [flow_cls]
    while todo:
        value = todo.pop()
        if id(value) in seen or not _travels_by_value(value):
            continue
        seen.add(id(value))
        if isinstance(value, type):
            todo += [*value.__bases__, *(f for v in vars(value).values() for f in _unwrap(v))]
            continue
        found.append(value)
        todo += [f for n in global_names(value.__code__) for f in _unwrap(value.__globals__.get(n))]
        todo += [f for cell in value.__closure__ or () for f in _unwrap(_contents(cell))]
        todo += _unwrap(getattr(value, "__wrapped__", None))
    return found


def _unwrap(value: Any) -> list[Any]:
    """The functions and classes in a value: itself, or what a static or class method or a
    property holds; nothing for any other value."""
    if isinstance(value, FunctionType | type):
        return [value]
    if isinstance(value, staticmethod | classmethod):
        return _unwrap(value.__func__)
    if isinstance(value, property):
        return [f for f in (value.fget, value.fset, value.fdel) if isinstance(f, FunctionType)]
    return []


def _contents(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # a closure variable not assigned yet
        return None


def _travels_by_value(value: FunctionType | type) -> bool:
    """False for a function or class the worker imports by name (library code, a module)."""
    module = sys.modules.get(value.__module__)
    if module is None or value.__module__ == "__main__":
        return True
    found: Any = module
    for part in value.__qualname__.split("."):
        found = getattr(found, part, None)
    return found is not value


def _unsaved_sources(functions: list[FunctionType]) -> dict[str, tuple[str, list[str]]]:
    """Source text that exists only in this process (notebook cells, exec'd code) of
    ``functions``, so a worker's tracebacks can quote it."""
    from flowkit.graph.source import display_name

    out = {}
    for filename in {f.__code__.co_filename for f in functions}:
        lines = linecache.getlines(filename)
        if lines and not os.path.exists(filename):
            out[filename] = (display_name(filename), lines)
    return out


def _restore_filenames(filenames: list[tuple[FunctionType, str]]) -> None:
    """Give each loaded function's code (nested code too) the file name it was compiled from."""
    for func, filename in filenames:
        if func.__code__.co_filename != filename:
            func.__code__ = _renamed(func.__code__, filename)


def _renamed(code: CodeType, filename: str) -> CodeType:
    consts = tuple(_renamed(c, filename) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def load_flow_class(ref: CodeRef, store: Store) -> type:
    """The flow class a :class:`CodeRef` names, imported or unpickled in this process."""
    for entry in reversed(ref.sys_path):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    if ref.kind == "package":
        return _load_package(ref, store)
    return _load(ref, store)


def _load_package(ref: CodeRef, store: Store) -> type:
    """Extract the package (once per machine) and load the flow from its files: its folders
    go first on ``sys.path``, so the project's modules are the package's, not the working
    tree's. Its code names each file where it was snapshotted from (under ``ref.root``), and
    tracebacks quote the file as it was then, whatever it holds now."""
    where = f"code package {ref.target} of flow {ref.flow}"
    package = CodePackage.from_value(store.values.load(ref.target, owner=where), where)
    if package.kind == "blob" and not package.paths:  # cells only: nothing to import
        return _load(CodeRef("blob", package.entry, ref.flow), store)
    folder = extract(ref.target, package)
    root = ref.root or folder
    if ref.root:
        _import_as_originals(folder, ref.root)
    for entry in reversed(package.paths):
        path = os.path.normpath(os.path.join(folder, entry))
        if path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)
        sys.path_importer_cache.pop(path, None)
    from flowkit.graph.source import register_sources

    register_sources(
        {
            os.path.join(root, name): (os.path.join(root, name), lines)
            for name, lines in _source_lines(package)
        }
    )
    if package.kind == "file":
        from flowkit.authoring.loader import load_flow_file

        origin = os.path.join(root, package.entry)
        flow_cls = load_flow_file(os.path.join(folder, package.entry), ref.flow, origin=origin)
    elif package.kind == "blob":  # unpickling it imports its project modules from the copy
        flow_cls = _load(CodeRef("blob", package.entry, ref.flow), store)
    else:
        flow_cls = _load(CodeRef("module", package.entry, ref.flow), store)
    if ref.root:
        _point_at_originals(folder, ref.root)
    return flow_cls


def _import_as_originals(folder: str, root: str) -> None:
    """Have modules imported from ``folder`` compiled as the files under ``root`` they copy."""
    # Not importlib.abc: it imports importlib.resources, and so tempfile and shutil (~8 ms
    # of a warm worker's setup, after the run's hello), for a type named in an annotation.
    from importlib.machinery import (
        EXTENSION_SUFFIXES,
        SOURCE_SUFFIXES,
        ExtensionFileLoader,
        FileFinder,
    )

    prefix = folder + os.sep

    class Copy(_PackageFileLoader):
        def __init__(self, fullname: str, path: str) -> None:
            super().__init__(fullname, path, os.path.join(root, path[len(prefix) :]))

    finder = FileFinder.path_hook(
        (Copy, SOURCE_SUFFIXES), (ExtensionFileLoader, EXTENSION_SUFFIXES)
    )

    def hook(path: str) -> PathEntryFinder:
        if path == folder or path.startswith(prefix):
            return finder(path)
        raise ImportError(f"{path} is not in the code package")

    sys.path_hooks.insert(0, hook)


class _PackageFileLoader(CopyLoader):
    """Loads a file of an extracted package as the project file it copies. A package keeps
    its project folder on ``__path__``, after the copy's, so a submodule the package does not
    hold is imported from the project, as if the package were not there; and its resources
    (``importlib.resources.files``) are read in the project folder: the package holds the
    code, not the project's data."""

    def exec_module(self, module: ModuleType) -> None:
        path = getattr(module, "__path__", None)
        folder = os.path.dirname(self.origin)
        if isinstance(path, list) and folder not in path:
            path.append(folder)
        super().exec_module(module)

    def get_resource_reader(self, name: str | None = None) -> FileReader:
        """The resources of the project folder the file was copied from. importlib.readers
        is imported only here, when the flow reads one: it pulls in zipfile, tempfile and
        shutil, ~10 ms of every scheduler's and warm worker's start."""
        from importlib.readers import FileReader

        # a FileReader reads the folder of its loader's path: the origin's, not the copy's
        return FileReader(SimpleNamespace(path=self.origin))  # type: ignore[arg-type]


def _point_at_originals(folder: str, root: str) -> None:
    """Give each module loaded from the package the ``__file__`` it has in the project, so
    that files the code reads next to itself (a notebook, a config) are found where they
    are: the package holds the code, not the project's data."""
    prefix = folder + os.sep
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and file.startswith(prefix):
            module.__file__ = os.path.join(root, file[len(prefix) :])


def _source_lines(package: CodePackage) -> Iterator[tuple[str, list[str]]]:
    cells = set(package.cells.values())  # registered under their own names by the blob
    for name, data in package.files.items():
        if name.endswith(".py") and name not in cells:
            try:
                yield name, data.decode().splitlines(keepends=True)
            except UnicodeDecodeError:  # a source in another encoding: the file is shown
                continue


def _load(ref: CodeRef, store: Store) -> type:
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
    package = store.values.load(ref.target)
    loaded = package.get("flow") if isinstance(package, dict) else None
    if not isinstance(loaded, type):
        raise FlowLoadError(f"blob {ref.target} does not hold a flow class")
    from flowkit.graph.source import register_sources

    register_sources(package.get("sources", {}))
    _restore_filenames(package.get("filenames", []))
    return loaded
