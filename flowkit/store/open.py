"""Open a store from a path, a URL, settings, or nothing (then settings decide)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from flowkit.store.backend import Backend
from flowkit.store.errors import StoreError, UnknownStoreError
from flowkit.store.local import LocalBackend
from flowkit.store.store import Store

if TYPE_CHECKING:
    from flowkit.settings import Settings
    from flowkit.store.memory import MemoryBackend

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
    if isinstance(where, str | os.PathLike):
        return Store(backend_for(os.fspath(where)))
    return Store(backend_for(where.store, origin=where.source.get("store")))


def backend_for(url: str, *, origin: str | None = None) -> Backend:
    """The backend for a local path, ``memory://name``, or a URL an extension handles;
    ``origin`` says where ``url`` came from, for messages."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _local(os.path.expanduser(url), url, origin)
    if scheme == "file":
        return _local(rest, url, origin)
    if scheme == "memory":
        from flowkit.store.memory import MemoryBackend  # tests' and notebooks' stores only

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


def _local(path: str, url: str, origin: str | None) -> LocalBackend:
    came_from = f" (from {origin})" if origin and origin != "argument" else ""
    if not path.strip():
        raise StoreError(
            f"the store location is empty{came_from}",
            "give a folder (or a URL such as s3://bucket/prefix) for the store",
        )
    if os.path.exists(path) and not os.path.isdir(path):
        raise StoreError(
            f"the store location {url}{came_from} is a file, not a folder",
            "a store is a folder that flowkit creates and fills; point at a folder "
            "(a new one, or an existing store), not at a file",
        )
    return LocalBackend(path, private=_is_default(path))


def _is_default(path: str) -> bool:
    """Whether ``path`` is the per-user default store, which flowkit creates private to its
    user: artifacts are pickles, so whoever can write them can run code in whoever reads
    them. A folder that already exists keeps its permissions."""
    from flowkit.settings import default_store

    return os.path.abspath(path) == os.path.abspath(default_store(os.environ))
