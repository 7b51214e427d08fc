"""A run's code package: snapshot the project's own files when a run starts, and extract
them, once per package, where a worker runs, so that every task imports the code as it was
when the run started, whatever happens to the working tree since.

What a package holds for a flow from a file: the flow file and every module in
``sys.modules`` whose file lies under the project root (the nearest ancestor of the flow
file with a ``pyproject.toml``, ``setup.py`` or ``.git``, else the flow file's folder),
except what lies in the interpreter's prefixes, site-packages or the standard library, and
flowkit itself; and the project files those import that were not imported yet (a step's own
``import helper``, found by parsing the files: import statements, relative ones too, and
``importlib.import_module`` calls with a literal name). Only project files are read, so a
snapshot costs milliseconds, whatever is installed. A module imported by a computed name
(``importlib.import_module(name)``) that was not imported when the run started is still
found in the working tree, a submodule of a packaged package included: a worker puts each
package's project folder on its ``__path__``, after the copy.

A notebook's flow (its class travels by value, the project modules it uses by reference)
gets the same, under the project root of the working directory (the notebook's folder): the
project modules imported so far, and those its cells, or they, import but had not imported
yet; so a worker imports them from the package too.
"""

from __future__ import annotations

import ast
import functools
import os
import posixpath
import site
import sys
import sysconfig
import warnings
from collections.abc import Iterator
from typing import Any

from flowkit.caches import user_cache
from flowkit.errors import FlowLoadError
from flowkit.graph.source import parse_python
from flowkit.store.packages import CodePackage, EntryKind

_MARKERS = ("pyproject.toml", "setup.py", ".git")


def project_root(flow_file: str) -> str:
    """The nearest ancestor of ``flow_file`` that holds a project marker, else its folder."""
    folder = candidate = os.path.dirname(flow_file) or "."
    while True:
        if any(os.path.exists(os.path.join(candidate, marker)) for marker in _MARKERS):
            return candidate
        parent = os.path.dirname(candidate) or "."
        if parent == candidate:
            return folder
        candidate = parent


def snapshot(flow_cls: type, module_file: str) -> tuple[CodePackage, str]:
    """The package of ``flow_cls`` (defined in the module file ``module_file``), and the
    project root its file names are relative to."""
    flow_file = os.path.abspath(module_file)
    root = project_root(flow_file)
    excluded = _excluded(root)
    files, paths = _imported_project_files(root, excluded)
    module_name = flow_cls.__module__
    module = sys.modules[module_name]
    entry_rel = _relative(flow_file, root)
    run_as = getattr(getattr(module, "__spec__", None), "name", None)
    kind: EntryKind
    first: str | None = None  # the folder a worker puts first on sys.path
    if module_name == "__main__" and run_as and entry_rel and _import_root(run_as, entry_rel):
        # ``python -m pkg.flow``: imported by that name again, so relative imports work
        kind, entry, first = "module", run_as, _import_root(run_as, entry_rel)
    elif module_name == "__main__" or hasattr(module, "__flowkit_source__") or not entry_rel:
        # A script, or a file imported by path: imported by path again (loader.py's rules).
        kind, entry = "file", entry_rel or os.path.basename(flow_file)
        first = posixpath.dirname(entry) or "."
    else:
        kind, entry = "module", module_name
    if first is not None:
        files[entry_rel or entry] = _read(flow_file)
        paths = [first, *(p for p in sorted(paths) if p != first)]
    else:
        paths.sort()
    files.update(_not_imported_yet(files, paths, root, excluded))
    return CodePackage(flow_cls.__name__, kind, entry, files, tuple(paths)), root


def notebook_modules(cells: list[bytes]) -> tuple[dict[str, bytes], tuple[str, ...], str]:
    """For a flow that travels by value (a notebook's, or one made by ``exec``) from the
    source of ``cells``: the project modules it needs, found as for a flow file's package
    under the project root of the working directory (the notebook's folder), the imported
    ones and those the cells or they import; their import roots, sorted; and that root.
    Nothing when there is no working directory any more."""
    try:
        root = project_root(os.path.join(os.getcwd(), "notebook"))
    except FileNotFoundError:  # the working directory was removed: no project to look in
        return {}, (), ""
    excluded = _excluded(root)
    files, paths = _imported_project_files(root, excluded)
    # Cells hold no relative imports: a name that is no project file is all they need here.
    scanned = {**files, **{f"<cell {i}>.py": source for i, source in enumerate(cells)}}
    files.update(_not_imported_yet(scanned, paths, root, excluded))
    return files, tuple(sorted(paths)), root


def _imported_project_files(
    root: str, excluded: tuple[str, ...]
) -> tuple[dict[str, bytes], list[str]]:
    """The files of the project modules imported so far, by path relative to ``root``, and
    the folders that, on ``sys.path``, import them under their names."""
    files: dict[str, bytes] = {}
    paths: list[str] = []
    for name, file, rel in _project_modules(root, excluded):
        try:
            files[rel] = _read(file)
        except OSError:  # a module whose file went away since it was imported
            continue
        folder = _import_root(name, rel)
        if folder is not None and folder not in paths:
            paths.append(folder)
    return files, paths


def _not_imported_yet(
    files: dict[str, bytes], paths: list[str], root: str, excluded: tuple[str, ...]
) -> dict[str, bytes]:
    """The project files that ``files`` import but that nobody had imported when the run
    started (a step's own ``import helper``, say), and what those import in turn."""
    found: dict[str, bytes] = {}
    missing: set[str] = set()
    todo = [name for name in files if name.endswith(".py")]
    while todo:
        rel = todo.pop()
        for candidate in _imported_files(rel, files[rel] if rel in files else found[rel], paths):
            if candidate in files or candidate in found or candidate in missing:
                continue
            path = os.path.join(root, candidate)
            try:
                if path.startswith(excluded):  # flowkit itself, a virtualenv in the project
                    raise FileNotFoundError(path)
                found[candidate] = _read(path)
            except OSError:  # not a project file (most imports are not)
                missing.add(candidate)
                continue
            todo.append(candidate)
    return found


def _imported_files(rel: str, source: bytes, paths: list[str]) -> Iterator[str]:
    """Where, relative to the project root, the modules ``source`` imports would be."""
    for module, names, level in _imports(source):
        roots = paths
        if level:  # relative to the importing file's package
            folder = _parent(rel)
            for _ in range(level - 1):
                folder = _parent(folder)
            roots = [folder]
            yield _join(folder, "__init__.py")
        for name in ["", *names]:  # the module, and any submodule it names
            yield from _module_files(".".join(p for p in (module, name) if p), roots)


def _imports(source: bytes) -> Iterator[tuple[str, list[str], int]]:
    """(module, names imported from it, relative level) of each import in ``source``: its
    import statements, wherever they are and however they are wrapped, and the calls
    ``import_module("name")`` and ``__import__("name")`` with a literal name."""
    try:
        with warnings.catch_warnings():  # the user's invalid escapes are theirs to hear of
            warnings.simplefilter("ignore")
            tree = parse_python(source)
    except (SyntaxError, ValueError):  # not Python this interpreter reads: it imports nothing
        return
    # Import statements are statements: expressions are walked only for a call to look at.
    calls = b"import_module" in source or b"__import__" in source
    for node in ast.walk(tree) if calls else _statements(tree.body):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], 0
        elif isinstance(node, ast.ImportFrom):
            yield node.module or "", [a.name for a in node.names if a.name != "*"], node.level
        elif isinstance(node, ast.Call) and _is_import_call(node):
            yield _called_import(node)


def _statements(body: list[Any]) -> Iterator[ast.AST]:
    """The statements of ``body`` and, in turn, of every block they hold."""
    for node in body:
        yield node
        for block in ("body", "orelse", "finalbody", "handlers", "cases"):
            yield from _statements(getattr(node, block, []))


def _is_import_call(call: ast.Call) -> bool:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return (
        name in ("import_module", "__import__")
        and bool(call.args)
        and isinstance(call.args[0], ast.Constant)
        and isinstance(call.args[0].value, str)
    )


def _called_import(call: ast.Call) -> tuple[str, list[str], int]:
    """The import an ``import_module(name, package)`` call makes: a relative name is
    resolved against a literal ``package``, else against the calling file's package."""
    name = str(getattr(call.args[0], "value", ""))
    level = len(name) - len(name.lstrip("."))
    if not level:
        return name, [], 0
    package = call.args[1] if len(call.args) > 1 else None
    package = next((k.value for k in call.keywords if k.arg == "package"), package)
    if isinstance(package, ast.Constant) and isinstance(package.value, str):
        parts = package.value.split(".")
        base = parts[: len(parts) - level + 1]
        return ".".join([*base, name[level:]]).strip("."), [], 0
    return name[level:], [], level


def _module_files(name: str, roots: list[str]) -> Iterator[str]:
    parts = name.split(".") if name else []
    for root in roots:
        for end in range(1, len(parts) + 1):
            base = _join(root, *parts[:end])
            yield f"{base}.py"
            yield _join(base, "__init__.py")


def _read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def _parent(rel: str) -> str:
    """The folder of ``rel``, a path relative to the project root ("." for the root's own)."""
    return posixpath.dirname(rel) or "."


def _join(folder: str, *names: str) -> str:
    """``names`` under ``folder``, relative to the project root, as ``files`` keys them:
    nothing before them for the root itself (``.``)."""
    return "/".join(p for p in (folder, *names) if p not in ("", "."))


def _excluded(root: str) -> tuple[str, ...]:
    """Where, in or out of the project at ``root``, files are not the project's own."""
    roots = {root.rstrip(os.sep) + os.sep, os.path.realpath(root).rstrip(os.sep) + os.sep}
    prefixes, installed = _excluded_prefixes()
    # A project that lies in the interpreter's prefix (/usr/src/app, say) is still a project.
    return installed + tuple(p for p in prefixes if not any(r.startswith(p) for r in roots))


def _project_modules(root: str, excluded: tuple[str, ...]) -> Iterator[tuple[str, str, str]]:
    """(module name, file, path relative to ``root``) of each imported project module."""
    roots = {root.rstrip(os.sep) + os.sep, os.path.realpath(root).rstrip(os.sep) + os.sep}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not isinstance(file, str) or name == "__main__" or file.startswith(excluded):
            continue
        for prefix in roots:
            if file.startswith(prefix) and os.path.isfile(file):
                yield name, file, file[len(prefix) :].replace(os.sep, "/")
                break


def _relative(file: str, root: str) -> str | None:
    for prefix in (root, os.path.realpath(root)):
        if file.startswith(prefix.rstrip(os.sep) + os.sep):
            return file[len(prefix.rstrip(os.sep)) + 1 :].replace(os.sep, "/")
    return None


def _import_root(name: str, rel: str) -> str | None:
    """The folder (relative) that, on ``sys.path``, makes ``rel`` importable as ``name``;
    None when the file's place does not spell its name (a module made by some importer)."""
    parts = rel.split("/")
    parts[-1] = parts[-1].split(".")[0]
    if parts[-1] == "__init__":
        parts.pop()
    dotted = name.split(".")
    if len(parts) < len(dotted) or parts[len(parts) - len(dotted) :] != dotted:
        return None
    return "/".join(parts[: len(parts) - len(dotted)]) or "."


@functools.cache
def _excluded_prefixes() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Where installed code lives: the interpreter's prefixes, and site-packages, the
    standard library and flowkit itself (workers import their own)."""
    flowkit_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    installed = {flowkit_dir, site.getusersitepackages()}
    installed.update(site.getsitepackages() if hasattr(site, "getsitepackages") else ())
    paths = sysconfig.get_paths()
    installed.update(paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths)
    return _prefixes({sys.prefix, sys.base_prefix, sys.exec_prefix}), _prefixes(installed)


def _prefixes(places: set[str]) -> tuple[str, ...]:
    found = {os.path.realpath(p) for p in places if p} | {p for p in places if p}
    return tuple(p.rstrip(os.sep) + os.sep for p in sorted(found))


def cache_folder() -> str:
    """Where packages are extracted: a per-user cache on this machine (``$XDG_CACHE_HOME``,
    else ``~/.cache``), so it serves every store, local or remote, and lives on local disk
    on a cluster node."""
    return user_cache("code")


def extract(digest: str, package: CodePackage) -> str:
    """The folder holding ``package``'s files, extracted once per digest: into a temporary
    folder, then renamed into place, so a folder that exists is complete and two workers
    extracting the same package at once both end up using one of them."""
    final = os.path.join(cache_folder(), digest)
    if os.path.isdir(final):
        return final
    # Not tempfile.mkdtemp: tempfile's imports (shutil, random, bz2, lzma, ...) cost a worker
    # ~5 ms each time the code changed. The name is one no other worker picks, here or on
    # another host sharing the cache, as flowkit.files.replace_file names its files.
    tmp = os.path.join(cache_folder(), f".{digest[:16]}-{os.getpid()}-{os.urandom(6).hex()}")
    try:
        os.makedirs(cache_folder(), exist_ok=True)
        os.mkdir(tmp, 0o700)
    except OSError as exc:
        raise _cannot_extract(final, exc) from None
    try:
        package.write_files(tmp)
        os.rename(tmp, final)
    except OSError as exc:
        import shutil  # here: only a failed extraction, or one another worker won, needs it

        shutil.rmtree(tmp, ignore_errors=True)
        if not os.path.isdir(final):  # not another worker's win: a real failure
            raise _cannot_extract(final, exc) from None
    return final


def _cannot_extract(final: str, exc: OSError) -> FlowLoadError:
    folder, name = os.path.split(final)
    return FlowLoadError(
        f"cannot extract code package {name} into {folder}: {exc}",
        "make room or make the folder writable, or point XDG_CACHE_HOME at another folder",
    )
