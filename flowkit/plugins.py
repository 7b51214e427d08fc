"""Extensions found through entry points: read lazily, on the first lookup that needs one."""

from __future__ import annotations

from typing import Any


def find_plugin(group: str, name: str) -> Any | None:
    """The object the entry point ``name`` of ``group`` names, loaded; None if none is
    installed. Reading the installed packages' metadata is slow, so it happens only here."""
    from importlib.metadata import entry_points

    found = [ep for ep in entry_points(group=group) if ep.name == name]
    return found[0].load() if found else None
