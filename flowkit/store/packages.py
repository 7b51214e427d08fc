"""Code packages: the code a run ran, as one content-addressed value in the store.

A package is plain data (file names and bytes, no pickled code), so anyone can read it back
without the flow's environment. Its serialization is deterministic (sorted paths, no times
or absolute paths), so unchanged code makes the same blob and is stored once.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal

from flowkit.errors import FlowkitError
from flowkit.fastdata import dataclass, field
from flowkit.store.errors import StoreError

if TYPE_CHECKING:
    from pathlib import Path

FORMAT = "flowkit-code/1"

#: How a worker finds the flow class in a package: a file imported by path, a module
#: imported by name, or (a notebook's flow) a class stored by value in another blob.
EntryKind = Literal["file", "module", "blob"]


@dataclass(frozen=True)
class CodePackage:
    """A run's code: ``files`` (relative POSIX path -> bytes) and how to load its flow."""

    flow: str
    kind: EntryKind
    #: The flow file's relative path, the flow's module name, or the class blob's digest.
    entry: str
    files: dict[str, bytes] = field(default_factory=dict)
    #: Folders (relative) a worker puts first on ``sys.path``, so the project's own modules
    #: are imported from the package.
    paths: tuple[str, ...] = ()
    #: For a notebook's flow: each cell's name in the process that ran it -> its file here.
    cells: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.files:
            check_relative(name)

    def to_value(self) -> dict[str, Any]:
        """The package as a plain, deterministically ordered value to store."""
        return {
            "format": FORMAT,
            "flow": self.flow,
            "kind": self.kind,
            "entry": self.entry,
            "files": {name: self.files[name] for name in sorted(self.files)},
            "paths": list(self.paths),
            "cells": {name: self.cells[name] for name in sorted(self.cells)},
        }

    @staticmethod
    def from_value(value: Any, where: str) -> CodePackage:
        """The package a stored value holds; :class:`StoreError` naming ``where`` if none."""
        if not isinstance(value, dict) or value.get("format") != FORMAT:
            raise StoreError(
                f"{where} is not a flowkit code package",
                "it may have been written by a newer flowkit; upgrade flowkit to read it",
            )
        try:
            return CodePackage(
                str(value["flow"]),
                value["kind"],
                str(value["entry"]),
                dict(value["files"]),
                tuple(value["paths"]),
                dict(value["cells"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(
                f"{where} is a damaged code package: {exc}", "rerun the flow"
            ) from None

    @property
    def flow_file(self) -> str | None:
        """The relative path of the flow's own file, when the package holds it."""
        if self.kind == "file":
            return self.entry
        if self.kind == "module":
            stem = self.entry.replace(".", "/")
            for name in (f"{stem}.py", f"{stem}/__init__.py"):
                if name in self.files:
                    return name
        return None

    def write_to(self, folder: str | os.PathLike[str], *, force: bool = False) -> list[Path]:
        """Write every file under ``folder`` (created if missing); the paths written. Files
        there already with the same bytes are fine; any other file in the way is an error
        that names them all, before anything is written, unless ``force``."""
        from pathlib import Path  # here: a client that only reads a package never imports it

        return [Path(path) for path in self.write_files(folder, force=force)]

    def write_files(self, folder: str | os.PathLike[str], *, force: bool = False) -> list[str]:
        """:meth:`write_to`, with the paths written as strings: a worker extracts a package
        before each run of new code, and pathlib's imports would cost it ~5 ms."""
        root = os.fspath(folder)
        in_the_way = [] if force else self.differing(root)
        if in_the_way:
            shown = ", ".join(in_the_way[:10])
            more = f" and {len(in_the_way) - 10} more" if len(in_the_way) > 10 else ""
            raise WouldOverwriteError(
                f"{folder} already holds {len(in_the_way)} of the package's "
                f"{len(self.files)} files with other content: {shown}{more}",
                "write into another folder, or overwrite them with --force (force=True in Python)",
            )
        written = []
        for name, data in self.files.items():
            target = os.path.join(root, name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as file:
                file.write(data)
            written.append(target)
        return written

    def differing(self, folder: str | os.PathLike[str]) -> list[str]:
        """The package's files that ``folder`` holds with other content (or as something
        that is not a readable file), sorted."""
        found = []
        for name in sorted(self.files):
            try:
                with open(os.path.join(folder, name), "rb") as file:
                    same = file.read() == self.files[name]
            except FileNotFoundError:
                continue
            except OSError:  # a folder, a file where a folder should be, unreadable
                same = False
            if not same:
                found.append(name)
        return found


class WouldOverwriteError(FlowkitError):
    """Writing a package's files into a folder would replace files that differ."""


def check_relative(name: str) -> str:
    """``name`` if it is a relative POSIX path that stays below its folder."""
    if not name or name.startswith("/") or ".." in name.split("/") or "\\" in name:
        raise StoreError(
            f"code package file name {name!r} would leave its folder",
            "the package is damaged or was not written by flowkit; rerun the flow",
        )
    return name
