"""The two tools under test: how each turns the shared flow source into its own and runs it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from benchmarks import metaflow_env

WORKERS = "2"
#: Above the largest fan-out (``Sizes.foreach_huge``): both tools refuse more splits than this.
MAX_SPLITS = "20000"
_OWN_IMPORT = "from flowkit import "


@dataclass(frozen=True)
class Tool:
    """One tool: its interpreter, import line, CLI spelling and store layout."""

    name: str
    python: Path
    module: str
    source_path: Path | None = None  # import the package from here, ahead of the installed one

    def source(self, text: str) -> str:
        """The shared source with only its import line(s) swapped to this tool's package."""
        if _OWN_IMPORT not in text:
            raise ValueError("benchmark sources import from flowkit exactly once")
        return text.replace(_OWN_IMPORT, f"from {self.module} import ")

    def write(self, folder: Path, name: str, text: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_text(self.source(text))
        return path

    def env(self, store: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment a user's shell would have, with the store pointed at ``store``."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWKIT_", "METAFLOW_"))}
        # installed packages run from bytecode; a stray "don't write .pyc" would tax each start
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.pop("PYTHONPATH", None)
        if self.source_path is not None:
            env["PYTHONPATH"] = str(self.source_path)
        if self.module == "flowkit":
            env["FLOWKIT_STORE"] = str(store)
        else:
            env.update(
                METAFLOW_HOME=str(store.parent / "metaflow-home"),
                METAFLOW_DEFAULT_DATASTORE="local",
                METAFLOW_DEFAULT_METADATA="local",
                METAFLOW_DATASTORE_SYSROOT_LOCAL=str(store),
                METAFLOW_USER="bench",
            )
        return {**env, **(extra or {})}

    def command(self, flow: Path, verb: str, *args: str) -> list[str]:
        """``python flow.py run|resume`` with 2 workers and quiet output, as a user types it."""
        common = ["--max-workers", WORKERS, "--max-num-splits", MAX_SPLITS, *args]
        if self.module == "flowkit":
            return [str(self.python), str(flow), verb, "--quiet", *common]
        return [str(self.python), str(flow), "--quiet", verb, *common]

    def is_data(self, relative: Path) -> bool:
        """Whether a file under the store root holds artifact data (else: metadata or logs)."""
        parts = relative.parts
        if self.module == "flowkit":
            return parts[:1] == ("blobs",)
        return len(parts) > 2 and parts[0] == ".metaflow" and parts[2] == "data"


def flowkit(source_path: Path | None = None) -> Tool:
    """flowkit from its benchmark environment (a regular install, as Metaflow's is), importing
    this tree's code, or ``source_path``'s (a tree holding ``flowkit/``)."""
    python = metaflow_env.ensure_flowkit()
    return Tool("flowkit", python, "flowkit", source_path or metaflow_env.ROOT)


def metaflow() -> Tool:
    return Tool("metaflow", metaflow_env.python(), "metaflow")
