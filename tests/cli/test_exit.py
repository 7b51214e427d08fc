"""A command line that is the whole program exits without the interpreter's teardown
(:mod:`flowkit.exits`), and only then: what a script registered or wrapped around the
command still runs, and a host that called it (``runpy``, as IPython's ``%run`` and ``pdb``
do) goes on."""

from __future__ import annotations

import functools
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import run_python

#: A flow file whose command line leaves traces of how its process ended: an object whose
#: finalizer only the teardown runs (held by a library module, which the teardown clears too)
#: and an ``atexit`` function.
FLOW = """\
import atexit, sys
from flowkit import FlowSpec, step

class Torn:
    def __del__(self):
        sys.stderr.write("torn down\\n")

if __name__ == "__main__":  # the command line's process, not the worker importing the flow
    import json
    json.torn = Torn()
    atexit.register(lambda: open(sys.argv[0] + ".atexit", "w").write("ran"))
{held}

class ExitFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        {end}

if __name__ == "__main__":
{call}
"""


def _flow(tmp_path: Path, call: str = "ExitFlow()", end: str = "pass", held: str = "") -> Path:
    path = tmp_path / "exit_flow.py"
    indent = functools.partial(textwrap.indent, prefix="    ")
    path.write_text(FLOW.format(call=indent(call), end=end, held=indent(held)))
    return path


def _run(path: Path, *args: str, cwd: Path | None = None):
    return run_python(
        path, *args, cwd=cwd or path.parent, env={"FLOWKIT_STORE": str(path.parent / "store")}
    )


def test_a_run_ends_without_teardown_having_run_atexit(tmp_path: Path) -> None:
    path = _flow(tmp_path)
    done = _run(path, "run")
    assert done.returncode == 0, done.stderr
    assert "torn down" not in done.stderr
    assert "succeeded" in done.stderr
    assert Path(f"{path}.atexit").read_text() == "ran"


@pytest.mark.parametrize(
    "held",
    [
        "import gzip; packed = gzip.open(sys.argv[0] + '.gz', 'wb')",
        "import tempfile; scratch = tempfile.NamedTemporaryFile()",
        "mine = Torn()",
        "import io; lines = [io.StringIO()]",
    ],
    ids=["gzip", "temporary-file", "own-object", "file-in-a-list"],
)
def test_what_the_script_holds_is_left_to_the_interpreters_exit(tmp_path: Path, held: str) -> None:
    """What the teardown would close or finalize (an archive being written, a temporary file
    to delete, an object of the flow's own), held at module level: the exit is Python's."""
    done = _run(_flow(tmp_path, held=held), "run")
    assert done.returncode == 0, done.stderr
    assert "torn down" in done.stderr


def test_a_file_the_script_left_open_is_closed_with_everything_written(tmp_path: Path) -> None:
    held = "left_open = open(sys.argv[0] + '.out', 'w'); left_open.write('all of it')"
    path = _flow(tmp_path, held=held)
    done = _run(path, "run")
    assert done.returncode == 0, done.stderr
    assert "torn down" in done.stderr
    assert Path(f"{path}.out").read_text() == "all of it"


def test_the_status_is_the_commands(tmp_path: Path) -> None:
    failing = _flow(tmp_path, end="raise ValueError('no')")
    done = _run(failing, "run")
    assert done.returncode == 1
    assert "ValueError: no" in done.stderr and "torn down" not in done.stderr
    usage = _run(failing, "nonsense")
    assert usage.returncode == 2 and "No such command 'nonsense'" in usage.stderr


def test_a_try_around_the_flow_runs_its_finally_and_the_teardown(tmp_path: Path) -> None:
    call = """\
try:
    ExitFlow()
finally:
    sys.stderr.write("finally ran\\n")
"""
    done = _run(_flow(tmp_path, call=call), "run")
    assert done.returncode == 0, done.stderr
    assert "finally ran" in done.stderr and "torn down" in done.stderr


def test_a_handler_elsewhere_in_the_module_does_not_hold_the_exit_back(tmp_path: Path) -> None:
    call = """\
try:
    import no_such_module
except ImportError:
    pass
ExitFlow()
"""
    done = _run(_flow(tmp_path, call=call), "run")
    assert done.returncode == 0, done.stderr
    assert "torn down" not in done.stderr


def test_a_thread_the_interpreter_would_wait_for_finishes(tmp_path: Path) -> None:
    call = """\
import threading, time

def late():
    time.sleep(0.5)
    open(sys.argv[0] + ".thread", "w").write("finished")

threading.Thread(target=late).start()
ExitFlow()
"""
    path = _flow(tmp_path, call=call)
    done = _run(path, "check")
    assert done.returncode == 0, done.stderr
    assert Path(f"{path}.thread").read_text() == "finished"
    assert "torn down" in done.stderr


def test_a_host_that_ran_the_flow_file_goes_on(tmp_path: Path) -> None:
    path = _flow(tmp_path)
    host = tmp_path / "host.py"
    host.write_text(
        textwrap.dedent(
            f"""\
            import runpy, sys
            sys.argv = [{str(path)!r}, "run"]
            try:
                runpy.run_path(sys.argv[0], run_name="__main__")
            except SystemExit as done:
                print("host goes on after status", done.code)
            """
        )
    )
    done = _run(host, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "host goes on after status 0\n"


def test_the_flowkit_command_keeps_its_status(tmp_path: Path) -> None:
    command = Path(sys.executable).with_name("flowkit")  # the console script, as installed
    path = _flow(tmp_path)
    shown = subprocess.run([command, "check", path], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == "ExitFlow: 2 steps, no problems found.\n"
    missing = tmp_path / "missing.py"
    bad = subprocess.run([command, "check", missing], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and f"no flow file at {missing}" in bad.stderr
