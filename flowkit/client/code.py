"""``Run.code``: the files of the code package a run ran, to list, read or write out."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from flowkit.store.errors import NotFoundError
from flowkit.store.packages import CodePackage
from flowkit.store.store import Store

if TYPE_CHECKING:
    from pathlib import Path


class RunCode:
    """The code a run snapshotted when it started: its project files (or, for a notebook's
    flow, its cells), byte for byte as they were then."""

    def __init__(self, store: Store, digest: str, run: str) -> None:
        where = f"code package of run {run}"
        self.digest = digest
        self._run = run
        self._package = CodePackage.from_value(store.values.load(digest, owner=where), where)

    def __repr__(self) -> str:
        return f"RunCode('{self._run}', {self.digest[:12]}, {len(self.files)} files)"

    @property
    def files(self) -> list[str]:
        """The package's file names (relative, ``/``-separated), sorted."""
        return sorted(self._package.files)

    @property
    def flow_file(self) -> str | None:
        """The name of the flow's own file in the package; None for a notebook's flow."""
        return self._package.flow_file

    @property
    def flow_source(self) -> str:
        """The flow's source as the run ran it: its file, or a notebook's cells in order."""
        names = [self.flow_file] if self.flow_file else sorted(self._package.cells.values())
        return "".join(self.read(name) for name in names)

    def read_bytes(self, name: str) -> bytes:
        try:
            return self._package.files[name]
        except KeyError:
            raise NotFoundError(
                f"the code of run {self._run} has no file {name!r}",
                f"its files: {', '.join(self.files[:20]) or 'none'}",
            ) from None

    def read(self, name: str) -> str:
        """The text of file ``name`` (UTF-8)."""
        return self.read_bytes(name).decode()

    def extract(self, folder: str | os.PathLike[str], *, force: bool = False) -> list[Path]:
        """Write every file under ``folder`` (created if missing); the paths written. Files
        there with other content are an error naming them, unless ``force``."""
        return self._package.write_to(folder, force=force)
