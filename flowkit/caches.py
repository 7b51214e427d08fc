"""Where flowkit keeps what it can make again: a per-user cache on this machine."""

from __future__ import annotations

import os


def user_cache(*parts: str) -> str:
    """A folder under flowkit's per-user cache (``$XDG_CACHE_HOME/flowkit``, else
    ``~/.cache/flowkit``): on local disk, and shared by every store and project here."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "flowkit", *parts)
