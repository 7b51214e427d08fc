"""A run's code package: snapshot the project's own files when a run starts, and extract
them, once per package, where a worker runs, so that every task imports the code as it was
when the run started, whatever happens to the working tree since.

What a package holds for a flow from a file: the flow file and every module in
``sys.modules`` whose file lies under the project root (the nearest ancestor of the flow
file with a ``pyproject.toml``, ``setup.py`` or ``.git``, else the flow file's folder),
except what lies in the interpreter's prefixes, site-packages or the standard library, and
flowkit itself; and the project files those import that were not imported yet (a step's own
``import helper``, found by reading the import statements). Only project files are read, so
a snapshot costs milliseconds, whatever is installed. A module imported by a computed name
(``importlib.import_module(name)``) that was not imported when the run started is still
found in the working tree.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import site
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from flowkit.errors import FlowLoadError
from flowkit.store.packages import CodePackage

_MARKERS = ("pyproject.toml", "setup.py", ".git")


def project_root(flow_file: str) -> str:
    """The nearest ancestor of ``flow_file`` that holds a project marker, else its folder."""
    folder = Path(flow_file).parent
    for candidate in (folder, *folder.parents):
        if any((candidate / marker).exists() for marker in _MARKERS):
            return str(candidate)
    return str(folder)


def snapshot(flow_cls: type, module_file: str) -> tuple[CodePackage, str]:
    """The package of ``flow_cls`` (defined in the module file ``module_file``), and the
    project root its file names are relative to."""
    flow_file = os.path.abspath(module_file)
    root = project_root(flow_file)
    files: dict[str, bytes] = {}
    paths: list[str] = []
    excluded = _excluded(root)
    for name, file, rel in _project_modules(root, excluded):
        try:
            files[rel] = Path(file).read_bytes()
        except OSError:  # a module whose file went away since it was imported
            continue
        folder = _import_root(name, rel)
        if folder is not None and folder not in paths:
            paths.append(folder)
    module_name = flow_cls.__module__
    module = sys.modules[module_name]
    entry_rel = _relative(flow_file, root)
    if module_name == "__main__" or hasattr(module, "__flowkit_source__") or entry_rel is None:
        # A script, or a file imported by path: imported by path again (loader.py's rules).
        entry_rel = entry_rel or os.path.basename(flow_file)
        files[entry_rel] = Path(flow_file).read_bytes()
        folder = str(PurePosixPath(entry_rel).parent)
        paths = [folder, *(p for p in sorted(paths) if p != folder)]
        files.update(_not_imported_yet(files, paths, root, excluded))
        return CodePackage(flow_cls.__name__, "file", entry_rel, files, tuple(paths)), root
    paths.sort()
    files.update(_not_imported_yet(files, paths, root, excluded))
    return CodePackage(flow_cls.__name__, "module", module_name, files, tuple(paths)), root


#: An import statement, at any indent: ``from BASE import NAMES`` or ``import MODULES``.
_IMPORT = re.compile(
    rb"^[ \t]*(?:from[ \t]+(?P<base>\.*[\w.]*)[ \t]+import[ \t]+(?P<names>[\w, \t]*)"
    rb"|import[ \t]+(?P<modules>[\w., \t]+))",
    re.MULTILINE,
)


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
                found[candidate] = Path(path).read_bytes()
            except OSError:  # not a project file (most imports are not)
                missing.add(candidate)
                continue
            todo.append(candidate)
    return found


def _imported_files(rel: str, source: bytes, paths: list[str]) -> Iterator[str]:
    """Where, relative to the project root, the modules ``source`` imports would be."""
    for match in _IMPORT.finditer(source):
        if match["modules"] is not None:
            for part in match["modules"].decode().split(","):
                if part.split():
                    yield from _module_files(part.split()[0], paths)
            continue
        base = match["base"].decode()
        names = [n.split()[0] for n in match["names"].decode().split(",") if n.split()]
        dots = len(base) - len(base.lstrip("."))
        roots = paths
        if dots:  # relative to the importing file's package
            folder = PurePosixPath(rel).parent
            for _ in range(dots - 1):
                folder = folder.parent
            roots = [str(folder)]
        for name in ["", *names]:  # the module, and any submodule it names
            yield from _module_files(".".join(p for p in (base[dots:], name) if p), roots)


def _module_files(name: str, roots: list[str]) -> Iterator[str]:
    parts = name.split(".") if name else []
    for root in roots:
        for end in range(1, len(parts) + 1):
            base = PurePosixPath(root, *parts[:end])
            yield f"{base}.py"
            yield str(base / "__init__.py")


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
    parts = list(PurePosixPath(rel).parts)
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


def cache_folder() -> Path:
    """Where packages are extracted: a per-user cache on this machine (``$XDG_CACHE_HOME``,
    else ``~/.cache``), so it serves every store, local or remote, and lives on local disk
    on a cluster node."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "flowkit" / "code"


def extract(digest: str, package: CodePackage) -> Path:
    """The folder holding ``package``'s files, extracted once per digest: into a temporary
    folder, then renamed into place, so a folder that exists is complete and two workers
    extracting the same package at once both end up using one of them."""
    final = cache_folder() / digest
    if final.is_dir():
        return final
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=f".{digest[:16]}-", dir=final.parent)
    except OSError as exc:
        raise _cannot_extract(final, exc) from None
    try:
        package.write_to(tmp)
        os.rename(tmp, final)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if not final.is_dir():  # not another worker's win: a real failure
            raise _cannot_extract(final, exc) from None
    return final


def _cannot_extract(final: Path, exc: OSError) -> FlowLoadError:
    return FlowLoadError(
        f"cannot extract code package {final.name} into {final.parent}: {exc}",
        "make room or make the folder writable, or point XDG_CACHE_HOME at another folder",
    )
