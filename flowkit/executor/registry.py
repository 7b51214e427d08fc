"""Executors by name: which one each step runs on, and the run's executors, made on first use.

A step runs on the executor its executor decorator names (``@slurm(...)``, ``@batch(...)``,
any made with :func:`flowkit.authoring.decorators.executor_decorator`), else on the one
``--with NAME`` applies to every step, else on ``local``. Executors are plug-ins of the
``flowkit.executors`` entry-point group (:mod:`flowkit.plugins`), the local one too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from typing import TYPE_CHECKING, cast

from flowkit.errors import FlowkitError
from flowkit.executor.base import Executor, ExecutorContext, ExecutorFactory
from flowkit.plugins import (
    EXECUTORS,
    PluginLoadError,
    PluginNotInstalled,
    entry_point,
    is_installed,
    load_plugin,
    missing,
)

if TYPE_CHECKING:
    from flowkit.authoring.decorators import DecoratorSpec
    from flowkit.graph.model import FlowGraph, StepNode

#: The executor of a step that names none.
LOCAL = "local"


def executor_of(node: StepNode, default: DecoratorSpec | None = None) -> DecoratorSpec | None:
    """The executor decorator ``node`` runs under: its own, else ``default`` (``--with``);
    None means the local executor."""
    own = next((d for d in node.decorators if d.executor), None)
    return own if own is not None else default


def load_executors(graph: FlowGraph, default: DecoratorSpec | None) -> dict[str, ExecutorFactory]:
    """The factory of every executor the run of ``graph`` uses, loaded before anything
    runs; an executor that is not installed raises :class:`PluginNotInstalled` naming the
    first step that needs it (file and line) and the package to install, and one that fails
    to load raises :class:`~flowkit.plugins.PluginLoadError`."""
    first: dict[str, StepNode] = {}
    for node in graph.ordered():
        spec = executor_of(node, default)
        first.setdefault(spec.name if spec is not None else LOCAL, node)
    for name, node in first.items():
        if not is_installed(EXECUTORS, name):
            raise _not_installed(name, node, default)
    return {name: cast(ExecutorFactory, load_plugin(EXECUTORS, name)) for name in first}


def _not_installed(name: str, node: StepNode, default: DecoratorSpec | None) -> PluginNotInstalled:
    error = missing(EXECUTORS, name, kind="executor")
    own = next((d for d in node.decorators if d.executor), None)
    if own is None and default is not None:
        why = f"--with {name} runs every step without an executor of its own there"
    elif own is None:
        why = f"step '{node.name}' runs on the '{name}' executor"
    else:
        why = f"step '{node.name}' ({node.file}:{node.line}) is decorated with @{name}"
    return PluginNotInstalled(f"{why}, and {error.message}", error.hint, group=EXECUTORS, name=name)


class ExecutorStartError(PluginLoadError):
    """An executor plug-in loaded, but raised when the run made its executor."""


class Executors:
    """The executors of one run, by name: each made on first use (or all at once, by
    :meth:`start`), all closed at the end."""

    def __init__(self, context: ExecutorContext, factories: Mapping[str, ExecutorFactory]) -> None:
        self._context = context
        self._factories = dict(factories)
        self._made: dict[str, Executor] = {}

    def get(self, name: str) -> Executor:
        executor = self._made.get(name)
        if executor is None:
            executor = self._made[name] = self._make(name)
        return executor

    def start(self) -> None:
        """Make every executor of the run now, before any task: one that cannot start
        stops the run before it starts, not halfway through. The warm worker starts first,
        as it did before there were plug-ins: the slow start a run's heartbeat covers."""
        for name in sorted(self._factories, key=lambda n: n != LOCAL):
            self.get(name)

    def _make(self, name: str) -> Executor:
        try:
            return self._factories[name](self._context)
        except FlowkitError:
            raise  # it says what to do already (the local executor's WorkerStartError)
        except Exception as exc:  # a plug-in's own code can raise anything: say whose it is
            raise ExecutorStartError(
                f"the executor '{name}' ({entry_point(EXECUTORS, name)}) failed to start: "
                f"{type(exc).__name__}: {exc}",
                "the error is the plug-in's: fix what it reports (its backend's tools or "
                "settings on this machine), or reinstall the package that provides it; "
                "nothing ran, so run the flow again once it starts",
            ) from exc

    def __iter__(self) -> Iterator[Executor]:
        """The executors made so far."""
        return iter(list(self._made.values()))

    def close(self, *, keep_warm: bool = True) -> None:
        """Close every executor made (each once, all of them even if one fails). With
        ``keep_warm`` false (a run that ended by an error or an interrupt) the local
        executor's warm worker is shut down rather than kept for the next run."""
        from flowkit.executor.local import LocalExecutor

        made, self._made = self._made, {}
        with ExitStack() as closing:
            for executor in made.values():
                if not keep_warm and isinstance(executor, LocalExecutor):
                    closing.callback(executor.shutdown)
                else:
                    closing.callback(executor.close)
