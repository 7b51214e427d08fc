"""Namespaces, as Metaflow has them: a tag that the client's runs must carry to be seen.

The default namespace is ``user:<you>``: ``Flow(...).runs()``, ``latest_run`` and the rest
show your own runs. ``namespace("project:x")`` shows the runs tagged so, ``namespace(None)``
every run. The choice is this process's alone, made only by calling :func:`namespace` (nothing
is read on import); a process forked from it (a running step) starts again from the default,
as a Metaflow step does.

flowkit's own tools do not filter by namespace: the CLI lists and shows every run, the ``Run``
that ``flowkit.run``/``Runner`` return and dead-letter retries are read without a check, gc and
reuse read the store itself, and ``resume`` without ``--origin-run-id`` takes the flow's most
recent run whoever started it (Metaflow takes the latest in your namespace).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from flowkit.errors import FlowkitError

if TYPE_CHECKING:
    from flowkit.store.records import RunRecord
    from flowkit.store.store import Store

_UNSET = object()
#: (pid, namespace): a namespace set in another process (before a fork) is not this one's.
_state: tuple[int, object] = (-1, _UNSET)


class NamespaceMismatch(FlowkitError):
    """A run was asked for by its pathspec but it is outside the current namespace."""

    def __init__(self, what: str, current: str | None) -> None:
        super().__init__(
            f"{what} is not in the current namespace ({current})",
            "call flowkit.namespace(None) to see every run, or namespace('TAG') for the "
            "runs with that tag (a run's tags: flowkit show FLOW/RUN)",
        )


def namespace(ns: str | None) -> str | None:
    """Show only runs tagged ``ns`` from now on (None: every run); the namespace set."""
    global _state
    _state = (os.getpid(), ns)
    return get_namespace()


def get_namespace() -> str | None:
    """The namespace the client filters runs by (``user:<you>`` until :func:`namespace`)."""
    pid, ns = _state
    if pid != os.getpid() or ns is _UNSET:
        return default_namespace()
    assert ns is None or isinstance(ns, str)
    return ns


def default_namespace() -> str | None:
    """Go back to the default namespace, ``user:<you>`` (None when no user name is known:
    every run); the namespace set."""
    from flowkit.settings import current_user

    user = current_user()
    return namespace(None if user is None else f"user:{user}")


def in_namespace(tags: frozenset[str], ns: str | None) -> bool:
    return ns is None or ns in tags


def check_run(store: Store, run: RunRecord, ns: str | None) -> None:
    """Raise :class:`NamespaceMismatch` unless ``run`` carries the tag ``ns`` (a system tag
    never goes away: only a run without it needs its tag changes read)."""
    from flowkit.store.tags import system_tags  # here: flowkit.client imports this module early

    if ns is None or ns in system_tags(run) or ns in store.tags.user_tags(run):
        return
    raise NamespaceMismatch(f"run {run.flow}/{run.run_id}", ns)
