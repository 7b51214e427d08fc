"""What ``python flow.py run`` imports, in the command line's process and in its worker's
tasks: not the modules that only other commands, or flows with configs or failures, need.

Each run here is a user's: an interpreter of a fresh virtual environment whose site-packages
holds only a ``.pth`` naming this interpreter's site-packages, so the libraries are there but
none of their own ``.pth`` files run, as in a regular install. The editable install's ``.pth``
imports pathlib in every process of the dev environment; a user's install has no such hook.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sysconfig
import venv
from pathlib import Path

import pytest

#: Modules a run does without: pathlib (with urllib.parse, ipaddress, fnmatch: ~5 ms), the
#: Markdown of cards (its patterns) for a step that shows none, and tempfile and shutil (with
#: random, bz2, lzma: ~5 ms) for the worker to extract the code, new to it, that it runs.
NOT_IMPORTED = (
    "pathlib",
    "urllib.parse",
    "flowkit.authoring.card_markdown",
    "tempfile",
    "shutil",
)
#: And what only the command line imports (click does), not ``flowkit.run`` in a notebook or
#: script: platform (a dozen patterns compiled) and datetime, for a run's system tags.
NOT_IMPORTED_IN_PROCESS = ("platform", "datetime")

_FLOW = """\
import atexit
import json
import sys

from flowkit import FlowSpec, step

NAMES = {names!r}


def loaded():
    return sorted(name for name in NAMES if name in sys.modules)


class ImportsFlow(FlowSpec):
    @step
    def start(self):
        self.loaded = loaded()
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    atexit.register(lambda: print(json.dumps(loaded())))
    ImportsFlow()
"""


@pytest.fixture(scope="module")
def regular_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a virtual environment that sees this interpreter's libraries
    without running their ``.pth`` files (a path named in a ``.pth`` is only added)."""
    where = tmp_path_factory.mktemp("regular-venv")
    venv.create(where, with_pip=False, symlinks=True)
    own = sysconfig.get_path("purelib", vars={"base": str(where), "platbase": str(where)})
    libraries = [*site.getsitepackages(), sysconfig.get_paths()["purelib"]]
    Path(own, "libraries.pth").write_text("\n".join(dict.fromkeys(libraries)) + "\n")
    return where / "bin" / "python"


def test_the_regular_environment_has_the_libraries_and_runs_none_of_their_pth_files(
    regular_python: Path,
) -> None:
    code = "import sys, blake3, click; print('pathlib' in sys.modules)"
    done = _run(regular_python, "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_a_run_imports_none_of_them_in_the_cli_or_in_a_task(
    regular_python: Path, tmp_path: Path
) -> None:
    names = [*NOT_IMPORTED, "flowkit.cli.flow_cli", "flowkit.task.execute"]
    (tmp_path / "imports_flow.py").write_text(_FLOW.format(names=names))
    store = tmp_path / "store"
    done = _run(regular_python, "imports_flow.py", "run", "--store", str(store), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # the command line's process, after its run: the CLI, and none of them
    assert json.loads(done.stdout) == ["flowkit.cli.flow_cli"]
    # a task the worker forked: the task modules, and none of them
    from flowkit import Flow

    task = Flow("ImportsFlow", store=str(store)).latest_run["start"].task
    assert task.data.loaded == ["flowkit.task.execute"]


def test_a_run_in_process_imports_none_of_them_nor_what_only_click_needs(
    regular_python: Path, tmp_path: Path
) -> None:
    names = [*NOT_IMPORTED, *NOT_IMPORTED_IN_PROCESS, "flowkit.runtime.scheduler"]
    (tmp_path / "imports_flow.py").write_text(_FLOW.format(names=names))
    code = (
        "import flowkit, json, sys; "
        "run = flowkit.run('imports_flow.py', store='store', quiet=True); "
        f"print(json.dumps([n for n in {names!r} if n in sys.modules]), run.successful)"
    )
    done = _run(regular_python, "-c", code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ['["flowkit.runtime.scheduler"]', "True"]


def _run(python: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run(
        [str(python), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
