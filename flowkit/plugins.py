"""Extensions found through entry points: read lazily, on the first lookup that needs one.

Groups: ``flowkit.stores`` (URL scheme -> backend factory), ``flowkit.executors`` (name ->
executor factory, the local one included), ``flowkit.alerts`` (kind -> sink factory),
``flowkit.hooks`` (name -> run hook factory, see :mod:`flowkit.runtime.hooks`) and
``flowkit.commands`` (name -> a click command of the ``flowkit`` CLI).
"""

from __future__ import annotations

import importlib
import sys
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from flowkit.errors import FlowkitError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

EXECUTORS = "flowkit.executors"

#: The plug-ins flowkit ships, by group and name, as its pyproject.toml registers them: found
#: without reading every installed package's metadata (importing importlib.metadata and the
#: scan take ~60 ms, a large part of a small run's start). tests/test_plugins.py keeps the
#: two equal. Another package's entry point of the same name does not replace one of these.
_BUILTIN = {EXECUTORS: {"local": "flowkit.executor.local:LocalExecutor"}}

#: The package that provides a backend flowkit knows of but does not ship.
_PACKAGES = {
    EXECUTORS: {"slurm": "flowkit-slurm", "batch": "flowkit-aws-batch"},
    "flowkit.datatools": {"s3": "flowkit-s3"},
    "flowkit.hooks": {"mlflow": "flowkit-mlflow"},
    "flowkit.commands": {"mlflow": "flowkit-mlflow"},
}


class PluginNotInstalled(FlowkitError):
    """No installed package provides the named plug-in."""

    def __init__(self, message: str, hint: str, *, group: str, name: str) -> None:
        super().__init__(message, hint)
        self.group = group
        self.name = name


class PluginLoadError(FlowkitError):
    """A plug-in is installed, but importing it failed."""


def find_plugin(group: str, name: str) -> Any | None:
    """The object the entry point ``name`` of ``group`` names, loaded; None if none is
    installed. Reading the installed packages' metadata is slow, so it happens only here."""
    builtin = _BUILTIN.get(group, {}).get(name)
    if builtin is not None:
        module, _, attr = builtin.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except Exception as exc:  # as an installed plug-in's failure reads (see _load)
            raise _load_error(group, name, builtin, exc) from exc
    entry = _entry_points(group, tuple(sys.path)).get(name)
    return None if entry is None else _load(group, entry)


def is_installed(group: str, name: str) -> bool:
    """Whether an entry point ``name`` of ``group`` exists (nothing is imported)."""
    return name in _BUILTIN.get(group, {}) or name in _entry_points(group, tuple(sys.path))


def installed(group: str) -> list[str]:
    """The names of ``group``'s plug-ins, built in and installed (nothing is imported)."""
    return sorted({*_BUILTIN.get(group, {}), *_entry_points(group, tuple(sys.path))})


def load_plugin(group: str, name: str, *, kind: str = "plug-in") -> Any:
    """Like :func:`find_plugin`, but a missing plug-in raises :class:`PluginNotInstalled`
    saying which package to install; ``kind`` ("executor") words the message."""
    found = find_plugin(group, name)
    if found is None:
        raise missing(group, name, kind=kind)
    return found


def entry_point(group: str, name: str) -> str:
    """Where the plug-in ``name`` of ``group`` comes from, as messages name it
    (``flowkit.executors = tp_exec:Executor``); ``group`` alone if none is installed."""
    builtin = _BUILTIN.get(group, {}).get(name)
    if builtin is not None:
        return f"{group} = {builtin}"
    entry = _entry_points(group, tuple(sys.path)).get(name)
    return group if entry is None else f"{group} = {entry.value}"


def missing(group: str, name: str, *, kind: str = "plug-in") -> PluginNotInstalled:
    """The error for a plug-in ``name`` of ``group`` that is not installed."""
    package = _PACKAGES.get(group, {}).get(name)
    if package is not None:
        hint = f"pip install {package}"
    else:
        hint = (
            f"install the package that provides it (it registers a '{group}' entry point '{name}')"
        )
    return PluginNotInstalled(f"no {kind} '{name}' is installed", hint, group=group, name=name)


def _load(group: str, entry: EntryPoint) -> Any:
    try:
        return entry.load()
    except Exception as exc:  # a plug-in's import can raise anything: say which one failed
        raise _load_error(group, entry.name, entry.value, exc) from exc


def _load_error(group: str, name: str, value: str, exc: Exception) -> PluginLoadError:
    return PluginLoadError(
        f"the plug-in '{name}' ({group} = {value}) failed to load: {type(exc).__name__}: {exc}",
        "fix or reinstall the package that provides it, or uninstall it",
    )


@lru_cache(maxsize=16)
def _entry_points(group: str, path: tuple[str, ...]) -> dict[str, EntryPoint]:
    """``group``'s entry points by name, read once per import path (a package put on
    ``sys.path`` later is seen)."""
    from importlib.metadata import entry_points

    found: dict[str, EntryPoint] = {}
    for entry in entry_points(group=group):
        found.setdefault(entry.name, entry)  # the first on the path wins, as imports do
    return found
