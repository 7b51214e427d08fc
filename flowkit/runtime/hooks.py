"""Run hooks: extensions told, in the scheduler's process, when a run starts, when each of its
tasks ends (cloned ones included) and when it ends; an experiment tracker is one.

A hook is a ``flowkit.hooks`` entry point: a factory called as ``factory(store, run, **args)``
that returns an object with ``handle(event)`` (and, optionally, ``close()``). It is enabled by
name, with its arguments, in any of three places, and loaded only then (a run without one
imports nothing of it):

- ``--with NAME[:ARG=VALUE,...]`` (``with_decorators=`` in Python): a name that is no step
  decorator and that a ``flowkit.hooks`` entry point has;
- a class decorator of the extension's (``@track(...)``), which keeps ``{NAME: {ARG: VALUE}}``
  in the flow class's :data:`HOOKS_ATTR`;
- the setting ``hooks`` (``[tool.flowkit.hooks] NAME = {ARG = VALUE}``).

Later places' arguments win, name by name. A hook sees only :class:`RunStarted`, the final
:class:`TaskEvent` of each task (succeeded, caught, failed, killed, cloned) and
:class:`RunFinished`: never a task's output lines, and never anything in a task's process, so
it costs a task nothing. Its arguments are checked before the run is made (:func:`load_hooks`)
and reach each task in its spec: an extension's code in a step reads its own with
:func:`task_arguments` (the MLflow one's ``log_model``, the tracking URI). It is told in order, on a thread of its own in the scheduler's
process, so the scheduler never waits for it; the run's end waits until it has been told
everything (:meth:`RunHooks.close`). A hook that raises never fails the run: what it raised is written to
stderr (once per hook and kind of event) and kept in :attr:`RunHooks.failures`; the hook itself
records in the store what it could not do (the MLflow one tags the run), to be done later.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from flowkit.errors import FlowkitError
from flowkit.runtime.inorder import InOrder

if TYPE_CHECKING:
    from flowkit.runtime.events import Event, ProgressSink
    from flowkit.store import RunRecord, Store

GROUP = "flowkit.hooks"
#: Where a flow class decorator keeps the hooks it enables: ``{name: {arg: value}}``.
HOOKS_ATTR = "_flowkit_hooks"
#: The task phases a hook is told of: a task's last word.
_TASK_ENDS = frozenset({"succeeded", "caught", "failed", "killed", "cloned"})


class RunHook(Protocol):
    """Told of a run's start, its tasks' ends and its end, in order, on the hooks' own thread
    (see :class:`RunHooks`); a slow one delays the run's end, never its scheduling."""

    def handle(self, event: Event) -> None: ...


def split_with(items: Iterable[str]) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """``--with`` items as (those for decorators and executors, the hooks they enable): an
    item names a hook when a ``flowkit.hooks`` entry point has its name (installed packages'
    metadata is read only when some item is neither a decorator nor ``local``)."""
    from flowkit.authoring.decorators import STEP_DECORATORS
    from flowkit.plugins import is_installed
    from flowkit.runtime.policy import parse_arguments

    rest: list[str] = []
    hooks: dict[str, dict[str, Any]] = {}
    for item in items:
        name, _, text = item.partition(":")
        if name in STEP_DECORATORS or name == "local" or not is_installed(GROUP, name):
            rest.append(item)
            continue
        try:
            hooks[name] = parse_arguments(text)
        except ValueError as exc:
            raise FlowkitError(
                f"--with {item}: {exc}", "write it as NAME or NAME:ARG=VALUE,ARG=VALUE"
            ) from None
    return rest, hooks


def enabled_hooks(
    flow_cls: type,
    setting: Mapping[str, Mapping[str, Any]],
    given: Mapping[str, Mapping[str, Any]],
) -> dict[str, dict[str, Any]]:
    """The hooks a run enables, by name, with their arguments: the setting's, the flow
    class's, then ``--with``'s, later ones' arguments winning."""
    found: dict[str, dict[str, Any]] = {}
    for source in (setting, getattr(flow_cls, HOOKS_ATTR, {}), given):
        for name, args in source.items():
            found[name] = {**found.get(name, {}), **args}
    return found


def load_hooks(enabled: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The factories of the ``enabled`` hooks, loaded, their arguments checked: a hook that is
    not installed, does not load, or is given arguments it does not take (or, when the
    factory has a ``check(**args)``, of values it refuses) stops the run before it exists."""
    from flowkit.plugins import load_plugin

    factories = {name: load_plugin(GROUP, name, kind="run hook") for name in enabled}
    for name, factory in factories.items():
        args = dict(enabled[name])
        try:
            inspect.signature(factory).bind(None, None, **args)
        except TypeError as exc:  # arguments the hook does not take: the user's to fix
            raise _refused(name, factory, args, str(exc)) from None
        except ValueError:  # a factory Python cannot read the signature of: it says at the call
            pass
        check = getattr(factory, "check", None)
        if check is not None:
            try:
                check(**args)
            except FlowkitError:
                raise
            except Exception as exc:
                raise _refused(name, factory, args, f"{type(exc).__name__}: {exc}") from None
    return factories


def _refused(name: str, factory: Any, args: Mapping[str, Any], why: str) -> FlowkitError:
    try:
        taken = [p for p in inspect.signature(factory).parameters][2:]
    except (TypeError, ValueError):
        taken = []
    return FlowkitError(
        f"the run hook '{name}' does not take the arguments {dict(args)}: {why}",
        (f"it takes: {', '.join(taken)}; " if taken else "")
        + f"see the documentation of the package that provides '{name}'",
    )


def task_arguments(name: str) -> dict[str, Any] | None:
    """In a running step: the arguments the run enabled the hook ``name`` with (an
    extension's code in the step reads its own, e.g. the tracking URI); None when the run does
    not enable it or outside a step."""
    from flowkit.authoring.current import bound_context

    ctx = bound_context()
    if ctx is None or ctx.hooks is None:
        return None
    found = ctx.hooks.get(name)
    return None if found is None else dict(found)


class RunHooks:
    """A run's hooks, made when its scheduler starts; :meth:`tee` puts them behind a view."""

    def __init__(
        self,
        factories: Mapping[str, Any],
        enabled: Mapping[str, Mapping[str, Any]],
        store: Store,
        run: RunRecord,
    ) -> None:
        self.failures: list[str] = []
        self._hooks: list[tuple[str, Any]] = []
        self._run = f"{run.flow}/{run.run_id}"
        self._said: set[tuple[str, str]] = set()
        for name, factory in factories.items():
            try:
                self._hooks.append((name, factory(store, run, **enabled[name])))
            except FlowkitError:
                raise
            except Exception as exc:  # checked by load_hooks: said as the hook's, with its args
                raise _refused(
                    name, factory, enabled[name], f"{type(exc).__name__}: {exc}"
                ) from exc

        self._line: InOrder[Event] = InOrder(self._tell, "flowkit-hooks")

    def __bool__(self) -> bool:
        return bool(self._hooks)

    def handle(self, event: Event) -> None:
        """Queue ``event`` for the hooks, if it is one they are told of: the scheduler never
        waits for a hook (a tracker may take tens of milliseconds a call)."""
        from flowkit.runtime.events import RunFinished, RunStarted, TaskEvent

        if isinstance(event, TaskEvent):
            if event.status not in _TASK_ENDS:
                return
        elif not isinstance(event, RunStarted | RunFinished):
            return
        self._line.put(event)

    def _tell(self, event: Event) -> None:
        for name, hook in self._hooks:
            try:
                hook.handle(event)
            except Exception as exc:  # any hook, extensions' too: reported, never fatal
                self._failed(name, event, exc)

    def close(self) -> None:
        """Wait until the hooks have been told everything queued, then close them."""
        self._line.close()
        for name, hook in self._hooks:
            close = getattr(hook, "close", None)
            try:
                if close is not None:
                    close()
            except Exception as exc:  # as handle's
                self._failed(name, None, exc)

    def tee(self, sink: ProgressSink) -> ProgressSink:
        """``sink`` (the run's view), with these hooks told of every event it is told of,
        after it."""
        return _Tee(sink, self) if self._hooks else sink

    def _failed(self, name: str, event: Event | None, exc: Exception) -> None:
        what = "closing" if event is None else type(event).__name__
        said = exc.render() if isinstance(exc, FlowkitError) else f"{type(exc).__name__}: {exc}"
        line = f"flowkit: the run hook '{name}' failed on {what} of {self._run}: {said}"
        self.failures.append(line)
        if (name, what) not in self._said:  # once: a tracker that is down fails on every task
            self._said.add((name, what))
            print(line, file=sys.stderr, flush=True)


class _Tee:
    def __init__(self, sink: ProgressSink, hooks: RunHooks) -> None:
        self._sink = sink
        self._hooks = hooks

    def handle(self, event: Event) -> None:
        self._sink.handle(event)
        self._hooks.handle(event)

    def close(self) -> None:
        self._sink.close()  # the hooks are closed by whoever made them (:meth:`RunHooks.close`)
