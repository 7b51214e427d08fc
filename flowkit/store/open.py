"""Open a store from a path, a URL, settings, or nothing (then settings decide)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from flowkit.store.backend import Backend
from flowkit.store.errors import UnknownStoreError
from flowkit.store.local import LocalBackend
from flowkit.store.memory import MemoryBackend
from flowkit.store.store import Store

if TYPE_CHECKING:
    from flowkit.settings import Settings

#: Named in-memory stores, so ``memory://name`` means the same store within a process.
_MEMORY: dict[str, MemoryBackend] = {}

ENTRY_POINT_GROUP = "flowkit.stores"


def open_store(where: Store | Settings | str | os.PathLike[str] | None = None) -> Store:
    """The store at ``where``; with None, the one settings resolve (flag > env > project)."""
    if isinstance(where, Store):
        return where
    if where is None:
        from flowkit.settings import Settings

        where = Settings.resolve()
    url = where if isinstance(where, str | os.PathLike) else where.store
    return Store(backend_for(os.fspath(url)))


def backend_for(url: str) -> Backend:
    """The backend for a local path, ``memory://name``, or a URL an extension handles."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return LocalBackend(os.path.expanduser(url))
    if scheme == "file":
        return LocalBackend(rest)
    if scheme == "memory":
        return _MEMORY.setdefault(rest, MemoryBackend(rest))
    from flowkit.plugins import find_plugin

    factory = find_plugin(ENTRY_POINT_GROUP, scheme)
    if factory is None:
        raise UnknownStoreError(
            f"no installed store backend handles {scheme}:// (store {url!r})",
            f"install the flowkit extension that provides '{scheme}' stores (it registers "
            f"a '{ENTRY_POINT_GROUP}' entry point), or use a local path",
        )
    backend: Backend = factory(url)
    return backend
