"""Which store the client reads when it is given none: Metaflow's ``metadata()`` and
``get_metadata()``.

By default the store settings resolve (``FLOWKIT_STORE``, the project's ``pyproject.toml``,
the per-user default), read afresh at each use; ``metadata("s3://bucket/prefix")`` or
``metadata("/path")`` makes this process's client read that one instead, until
:func:`default_metadata`; a process forked from it starts again from the settings, as
with namespaces, and a running task reads its run's store (:func:`read_from`). ``get_metadata()`` names it as Metaflow does: ``local@/path``, or
``SCHEME@URL`` for a store behind a URL (``s3@s3://bucket/prefix``).
"""

from __future__ import annotations

import os

from flowkit.store.open import open_store
from flowkit.store.store import Store

StoreLike = Store | str | os.PathLike[str] | None

#: (pid, store): a store chosen in another process (before a fork) is not this one's.
_selected: tuple[int, Store | None] = (-1, None)


def client_store(store: StoreLike) -> Store:
    """The store a client object reads: ``store``, else the one :func:`metadata` chose,
    else the one settings resolve."""
    pid, selected = _selected
    if store is None and selected is not None and pid == os.getpid():
        return selected
    return open_store(store)


def describe(store: Store) -> str:
    """``local@/path`` for a folder, ``SCHEME@URL`` for anything else."""
    scheme, sep, _ = store.url.partition("://")
    if not sep:
        return f"local@{store.url}"
    return f"{'local' if scheme == 'file' else scheme}@{store.url}"


def metadata(spec: str) -> str:
    """Make the client read the store at ``spec`` (a folder, ``s3://...``, or Metaflow's
    ``TYPE@WHERE``, e.g. ``local@/path``); what :func:`get_metadata` says now."""
    global _selected
    kind, sep, where = spec.partition("@")
    if sep and "://" not in kind and "/" not in kind:
        spec = where
    read_from(open_store(spec))
    return get_metadata()


def read_from(store: Store) -> None:
    """Make this process's client read ``store`` (a running task reads its run's store)."""
    global _selected
    _selected = (os.getpid(), store)


def get_metadata() -> str:
    """The store the client reads, as Metaflow names a metadata provider."""
    return describe(client_store(None))


def default_metadata() -> str:
    """Go back to the store settings resolve; what :func:`get_metadata` says now."""
    global _selected
    _selected = (os.getpid(), None)
    return get_metadata()
