"""The command line's run worker is a fresh interpreter, not a fork of the command line's
process, which has run the flow file, ``sitecustomize`` and the project's modules: their
logging handlers, open files, imports and debugger stay in that process, so no task writes
its log lines into the store or the user's files, the worker starts however the flow's module
logs or holds files at import, and a package imported by the flow is imported once per
process (a C extension refuses a second import)."""

from __future__ import annotations

import os
import subprocess
import textwrap
import uuid
from pathlib import Path

import pytest

from flowkit.client import Flow
from flowkit.store import open_store
from flowkit.store.fsck import fsck
from tests.conftest import run_python

_STEPS = """
import logging, threading, time

log = logging.getLogger("proj")


def _heartbeat():
    while True:  # a library's background logging, still going as the task saves
        log.info("heartbeat")
        time.sleep(0.001)


class LoggingFlow(FlowSpec):
    @step
    def start(self):
        threading.Thread(target=_heartbeat, daemon=True).start()
        with open("results.csv", "w") as out:
            out.write("id,score\\n")
            log.info("scoring")
            out.write("1,0.9\\n")
        self.data = list(range(100_000))
        self.more = {f"k{i}": i for i in range(20_000)}
        self.next(self.end)

    @step
    def end(self):
        log.info("in end")


if __name__ == "__main__":
    LoggingFlow()
"""

_BASIC_CONFIG = (
    'logging.basicConfig(filename="flow.log", level=logging.INFO, format="%(process)d %(message)s")'
)


def _run(
    folder: Path, *args: str, path: tuple[Path, ...] = (), env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = run_python(
        "flow.py", "run", "--store", str(folder / "store"), *args,
        cwd=folder, path=path, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.mark.parametrize("where", ["flow file", "sitecustomize", "project module"])
def test_a_log_file_opened_before_the_run_leaves_the_tasks_files_and_the_store_intact(
    tmp_path: Path, where: str
) -> None:
    """A logging file handler made in the command line's process (by the flow file's top
    level, a site-wide ``sitecustomize`` or a project module) while a step logs, also from a
    thread, as it writes a file and the task saves its artifacts: forked, the worker closed
    the handler's descriptor and the task reused its number, so the log lines went into
    the step's file and the store's records and blobs."""
    head = "import logging\n"
    path: tuple[Path, ...] = ()
    if where == "flow file":
        head += _BASIC_CONFIG + "\n"
    elif where == "sitecustomize":
        site = tmp_path / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text(
            f"import logging\n{_BASIC_CONFIG.replace('flow.log', str(tmp_path / 'flow.log'))}\n"
        )
        path = (site,)
    else:
        (tmp_path / "util.py").write_text(
            "import logging\n"
            'logging.getLogger("proj").setLevel(logging.INFO)\n'
            'logging.getLogger("proj").addHandler(logging.FileHandler("flow.log"))\n'
        )
        head += "import util\n"
    head += "from flowkit import FlowSpec, step\n"
    (tmp_path / "flow.py").write_text(head + textwrap.dedent(_STEPS))
    _run(tmp_path, path=path)
    assert (tmp_path / "results.csv").read_text() == "id,score\n1,0.9\n"
    assert "scoring" in (tmp_path / "flow.log").read_text()
    store = open_store(str(tmp_path / "store"))
    report = fsck(store)
    assert report.problems == [], report.summary()
    start = Flow("LoggingFlow", store=str(tmp_path / "store")).latest_run["start"].task
    assert start.data.data == list(range(100_000))
    assert start.data.more["k19999"] == 19_999


def test_a_flow_that_logs_as_it_is_imported_runs(tmp_path: Path) -> None:
    """basicConfig and a log line at the flow's top level: forked, the worker's channel to
    the scheduler took the log file's descriptor and the line broke its first message."""
    (tmp_path / "flow.py").write_text(
        "import logging\n"
        f"{_BASIC_CONFIG}\n"
        'logging.info("flow module imported")\n'
        "from flowkit import FlowSpec, step\n" + textwrap.dedent(_STEPS)
    )
    _run(tmp_path)
    lines = (tmp_path / "flow.log").read_text().splitlines()
    imported = [line.split()[0] for line in lines if line.endswith("flow module imported")]
    # the command line's process, then the worker, each imported the flow once
    assert len(imported) == len(set(imported)) == 2, lines
    assert any(line.endswith(" scoring") for line in lines)
    assert any(line.endswith(" in end") for line in lines)


def test_a_project_module_holding_a_file_open_at_import_runs(tmp_path: Path) -> None:
    """A module that opens a file as it is imported (a settings file, a sqlite database):
    forked, the worker forgot the module, and collecting it (its function and globals make a
    cycle) closed the descriptor the worker's channel had taken: the worker never started."""
    (tmp_path / "res.py").write_text(
        "_held = open(__file__)\n\ndef value():\n    return 1\n\nX = value()\n"
    )
    (tmp_path / "flow.py").write_text(
        textwrap.dedent(
            """
            import gc
            from res import X
            from flowkit import FlowSpec, step

            gc.collect()  # as any import that allocates enough would, in its own time

            class HeldFlow(FlowSpec):
                @step
                def start(self):
                    self.x = X
                    self.next(self.end)

                @step
                def end(self):
                    pass

            if __name__ == "__main__":
                HeldFlow()
            """
        )
    )
    _run(tmp_path)
    assert Flow("HeldFlow", store=str(tmp_path / "store")).latest_run["start"].task.data.x == 1


def test_a_package_on_the_path_is_imported_once_per_process(tmp_path: Path) -> None:
    """A package from PYTHONPATH that refuses a second import in one process, as numpy's C
    extension does: forked, the worker forgot it and imported it again."""
    lib = tmp_path / "lib" / "onceonly"
    lib.mkdir(parents=True)
    (lib / "__init__.py").write_text(
        textwrap.dedent(
            """
            import os, sys
            if getattr(sys, "_onceonly_loaded", False):  # what a C extension's static says
                raise ImportError("cannot load module more than once per process")
            sys._onceonly_loaded = True
            with open(os.environ["ONCEONLY_LOG"], "a") as log:
                log.write(f"{os.getpid()}\\n")
            VALUE = 7
            """
        )
    )
    (tmp_path / "flow.py").write_text(
        textwrap.dedent(
            """
            import onceonly
            from flowkit import FlowSpec, step

            class OnceFlow(FlowSpec):
                @step
                def start(self):
                    self.value = onceonly.VALUE
                    self.next(self.end)

                @step
                def end(self):
                    pass

            if __name__ == "__main__":
                OnceFlow()
            """
        )
    )
    imports = tmp_path / "imports.log"
    _run(tmp_path, path=(tmp_path / "lib",), env={"ONCEONLY_LOG": str(imports)})
    run = Flow("OnceFlow", store=str(tmp_path / "store")).latest_run
    assert run["start"].task.data.value == 7
    pids = imports.read_text().split()
    assert len(pids) == len(set(pids)) == 2  # the command line, then its worker


_WHO = """
import os, sys
from flowkit import FlowSpec, step


def _stat(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()


class WhoFlow(FlowSpec):
    @step
    def start(self):
        self.traced = sys.gettrace() is not None
        zygote = int(_stat(os.getppid())[1])  # the task's parent is its shepherd
        worker = int(_stat(zygote)[1])
        self.worker_parent = int(_stat(worker)[1])
        with open(f"/proc/{worker}/cmdline", "rb") as cmdline:
            self.worker_argv = cmdline.read().decode().split("\\0")[:-1]
        with open("/proc/self/cmdline", "rb") as cmdline:
            self.task_argv = cmdline.read().decode().split("\\0")[:-1]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    sys.settrace(lambda *args: None)  # a debugger's, in the command line's process only
    WhoFlow()
"""


def test_the_worker_is_a_fresh_interpreter_of_the_command_line(tmp_path: Path) -> None:
    """Neither the worker nor its tasks look like the run in ``ps`` (``pkill -f flow.py``
    would hit them) nor inherit the command line's debugger."""
    (tmp_path / "flow.py").write_text(textwrap.dedent(_WHO))
    done = run_python(
        "flow.py", "run", "--store", str(tmp_path / "store"), cwd=tmp_path, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    task = Flow("WhoFlow", store=str(tmp_path / "store")).latest_run["start"].task
    assert task.data.worker_argv[1:] == ["-m", "flowkit.executor.forkserver"]
    assert task.data.task_argv[1:] == ["-m", "flowkit.executor.forkserver"]
    assert not task.data.traced


def _left_running(mark: str) -> list[int]:
    """The processes whose environment holds ``mark``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as environ:
                    if mark.encode() in environ.read():
                        found.append(int(entry))
            except OSError:  # gone meanwhile, or not ours
                pass
    return found


_INTERRUPTED = """
import sys
from flowkit import FlowSpec, step


class CtrlC:
    # Ctrl-C as the command line imports its modules, after the flow file handed it control
    def find_spec(self, name, path=None, target=None):
        if name == "flowkit.cli.flow_cli":
            raise KeyboardInterrupt
        return None


class QuickFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    if "--interrupt" in sys.argv:
        sys.argv.remove("--interrupt")
        sys.meta_path.insert(0, CtrlC())
    QuickFlow()
"""


@pytest.mark.parametrize(
    "args",
    [["--interrupt"], ["--no-such-option"], ["--help"], ["--dry-run"]],
    ids=["ctrl-c", "usage-error", "help", "dry-run"],
)
def test_a_command_that_runs_nothing_here_leaves_no_worker_behind(
    tmp_path: Path, args: list[str]
) -> None:
    (tmp_path / "flow.py").write_text(textwrap.dedent(_INTERRUPTED))
    mark = f"FLOWKIT_TEST_MARK_{uuid.uuid4().hex}"
    done = run_python(
        "flow.py", "run", "--store", str(tmp_path / "store"), *args,
        cwd=tmp_path, env={mark: "1"}, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0 or args in (["--help"], ["--dry-run"]), done.stderr
    assert _left_running(mark) == []
