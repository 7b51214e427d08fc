"""Where flowkit keeps what it can make again: a per-user cache on this machine, and folders
of this user's alone."""

from __future__ import annotations

import os
import stat


def user_cache(*parts: str) -> str:
    """A folder under flowkit's per-user cache (``$XDG_CACHE_HOME/flowkit``, else
    ``~/.cache/flowkit``): on local disk, and shared by every store and project here."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "flowkit", *parts)


def user_runtime(*parts: str) -> str:
    """A folder for this user's live processes to meet in: ``$XDG_RUNTIME_DIR/flowkit``
    (a per-login tmpfs, emptied at logout) where the session has one, else under
    :func:`user_cache`."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and os.path.isabs(base):
        return os.path.join(base, "flowkit", *parts)
    return user_cache(*parts)


def own_folder(path: str, *, create: bool = False) -> bool:
    """Whether ``path`` is a folder of this user's alone: an absolute path to a folder (not a
    link to one) that this process's user owns, with no access at all for group or others,
    in a process whose effective user is its real one (not ``sudo`` keeping the user's
    ``HOME``). With ``create``, it is made first if missing (0700). Nothing another user
    could put or swap there is ever used."""
    if not os.path.isabs(path) or not hasattr(os, "geteuid") or os.geteuid() != os.getuid():
        return False
    try:
        if create:
            os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077
