"""``--run-id-file`` and ``--runner-attribute-file``: where a started run says its id, as soon
as it has one, for the script or the ``Runner`` that waits for it (Metaflow's two files)."""

from __future__ import annotations

import json
import os

from flowkit.errors import FlowkitError
from flowkit.fastdata import dataclass
from flowkit.files import replace_file


@dataclass(frozen=True)
class RunIdFiles:
    """The files to write a new run's id to: ``run_id`` gets the id alone, ``attributes`` a
    JSON object with ``run_id``, ``flow_name`` and the ``store`` the run is in."""

    run_id: str | None = None
    attributes: str | None = None

    def check(self) -> None:
        """Refuse, before the run is created, a file that could not be written."""
        for option, path in (
            ("--run-id-file", self.run_id),
            ("--runner-attribute-file", self.attributes),
        ):
            if path is not None:
                _check_writable(option, path)

    def write(self, flow: str, run_id: str, store_url: str) -> None:
        """Write each file whole (a reader sees nothing or all of it, never half an id)."""
        if self.run_id is not None:
            replace_file(self.run_id, run_id.encode("utf-8"))
        if self.attributes is not None:
            text = json.dumps({"run_id": run_id, "flow_name": flow, "store": store_url})
            replace_file(self.attributes, text.encode("utf-8"))


def _check_writable(option: str, path: str) -> None:
    folder = os.path.dirname(path) or "."
    if os.path.isdir(path):
        raise FlowkitError(
            f"{option} {path} is a folder; the run id is written to a file",
            f"give a file's path, e.g. {os.path.join(path, 'run_id')}",
        )
    if not os.path.isdir(folder):
        raise FlowkitError(
            f"{option} {path}: the folder {folder} does not exist, so the run id could not be "
            "written there; nothing ran",
            f"create it first (mkdir -p {folder}) or give a path in an existing folder",
        )
    if not os.access(folder, os.W_OK):
        raise FlowkitError(
            f"{option} {path}: the folder {folder} is not writable; nothing ran",
            "give a path in a folder you can write to",
        )
