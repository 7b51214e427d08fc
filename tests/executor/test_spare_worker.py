"""A run's spare worker: started as the run begins (it imports while the run lints, plans and
snapshots its code), taken by the run's local executor, killed when no run takes it, and
never left behind, however the run ends; and how a worker is shut down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import sysconfig
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import flowkit
from flowkit.errors import FlowkitError
from flowkit.executor import warm
from tests.executor.conftest import submitted

pytestmark = pytest.mark.slow

_FLOW = """
import atexit, os
from flowkit import FlowSpec, step

# a module's exit handler runs in the worker that imported it, when that worker exits
def _note_exit():
    if "SPARE_ATEXIT" in os.environ:  # the test's, not the scheduler's at the session's end
        with open(os.environ["SPARE_ATEXIT"], "a") as log:
            log.write(f"{os.getpid()}\\n")


atexit.register(_note_exit)


def _parent(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def _worker():
    # the warm worker: above this task's shepherd and the worker's zygote
    return _parent(_parent(os.getppid()))


class SpareFlow(FlowSpec):
    @step
    def start(self):
        self.worker = _worker()
        self.next(self.end)

    @step
    def end(self):
        pass
"""


@pytest.fixture
def spawned(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Every worker started from here on, in order; a worker parked by an earlier test in
    this process is shut down first (a run here would take it, and start no spare)."""
    warm.close_all()
    monkeypatch.setenv("SPARE_ATEXIT", str(tmp_path / "atexit.log"))
    procs: list[subprocess.Popen[bytes]] = []
    real = warm.spawn

    def spawn() -> subprocess.Popen[bytes]:
        procs.append(real())
        return procs[-1]

    monkeypatch.setattr(warm, "spawn", spawn)
    yield procs
    warm.close_all()


def _flow(tmp_path: Path, source: str = _FLOW) -> str:
    path = tmp_path / "spareflow.py"
    path.write_text(textwrap.dedent(source))
    return str(path)


def test_a_spare_imports_what_tasks_need_and_not_what_only_failures_and_cards_do(
    tmp_path: Path,
) -> None:
    """A spare imports flowkit's task modules as a run begins, and so every run waits for it
    when its command line is quicker: not socket (the host is named from os.uname), nor
    cloudpickle (logging, platform: only values pickle cannot save need it), traceback (a
    failure's), inspect or datetime (cards', schedules', triggers')."""
    heavy = ("socket", "cloudpickle", "logging", "platform", "traceback", "inspect", "datetime")
    code = (
        "import sys; from flowkit.executor.forkserver import _preload_task_modules; "
        "_preload_task_modules(); "
        f"print('flowkit.task.execute' in sys.modules, [m for m in {heavy!r} if m in sys.modules])"
    )
    root = Path(__file__).resolve().parents[2]
    # -S, with site-packages on the path instead, as a user's regular install has it: the
    # editable install's import hook (a .pth that site runs) imports modules of its own
    path = os.pathsep.join([str(root), sysconfig.get_paths()["purelib"]])
    done = subprocess.run(
        [sys.executable, "-S", "-c", code],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True []"


def test_a_run_takes_the_spare_it_started_and_parks_it(
    spawned: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    flow = _flow(tmp_path)
    run = flowkit.run(flow, store=str(tmp_path / "s"), quiet=True)
    assert len(spawned) == 1
    assert run["start"].task.data.worker == spawned[0].pid
    assert warm.idle_pids() == [spawned[0].pid]
    # the next run takes the parked worker: no spare is started for it
    again = flowkit.run(flow, store=str(tmp_path / "s"), quiet=True)
    assert len(spawned) == 1
    assert again["start"].task.data.worker == spawned[0].pid


def test_a_worker_not_parked_exits_cleanly_and_runs_its_modules_exit_handlers(
    spawned: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    with warm.parking(False):
        flowkit.run(_flow(tmp_path), store=str(tmp_path / "s"), quiet=True)
    assert warm.idle_pids() == []
    assert [proc.returncode for proc in spawned] == [0]
    assert (tmp_path / "atexit.log").read_text() == f"{spawned[0].pid}\n"
    assert warm.parks()  # only within the block


def test_a_run_that_fails_before_its_tasks_leaves_no_spare_behind(
    spawned: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    broken = _FLOW.replace("self.next(self.end)", "self.next(self.nowhere)")
    with pytest.raises(FlowkitError, match="nowhere"):
        flowkit.run(_flow(tmp_path, broken), store=str(tmp_path / "s"), quiet=True)
    assert [proc.returncode for proc in spawned] == [-signal.SIGKILL]


def test_a_dry_run_starts_no_spare(spawned: list[subprocess.Popen[bytes]], tmp_path: Path) -> None:
    preview = flowkit.run(_flow(tmp_path), store=str(tmp_path / "s"), dry_run=True)
    assert preview.count("run") == 2
    assert spawned == []


def test_a_run_with_no_local_step_kills_its_spare(
    spawned: list[subprocess.Popen[bytes]], third_party: Path, tmp_path: Path
) -> None:
    flowkit.run(
        _flow(tmp_path), store=str(tmp_path / "s"), quiet=True, with_decorators=["thirdparty"]
    )
    assert submitted(third_party) == [("end", {}), ("start", {})]
    assert [proc.returncode for proc in spawned] == [-signal.SIGKILL]
    assert warm.idle_pids() == []


def test_a_spare_is_taken_only_with_the_environment_it_was_started_in(
    spawned: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    with warm.spare():
        monkeypatch.setenv("SPARE_CHANGED", "1")
        assert warm.take_spare() is None
        monkeypatch.delenv("SPARE_CHANGED")
        taken = warm.take_spare()
        assert taken is spawned[0]
        assert warm.take_spare() is None  # one run takes it
    assert taken.poll() is None  # taken: the block's end leaves it to its taker
    warm.shutdown(taken)
    assert taken.returncode == 0  # no hello: it exits on the end of its input
    with warm.spare():
        pass
    assert spawned[1].returncode == -signal.SIGKILL


def test_the_command_lines_early_spare_is_the_one_its_run_takes(
    spawned: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """``python flow.py run`` starts its spare as the flow file hands it control
    (:func:`warm.prefork`); the run takes that one and starts no other."""
    warm.prefork(["run", "--store", str(tmp_path / "s")])
    assert len(spawned) == 1
    with warm.parking(False):
        run = flowkit.run(_flow(tmp_path), store=str(tmp_path / "s"), quiet=True)
    assert len(spawned) == 1
    assert run["start"].task.data.worker == spawned[0].pid
    assert spawned[0].returncode == 0


def test_the_early_spare_imports_the_installed_packages_the_flow_file_did(
    spawned: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """Before its hello, while the command line lints and plans: the flow's own import,
    after it, finds them done. Here this process stands for the command line, and click for
    a flow file's numpy: installed, imported here, and by nothing a worker runs itself."""
    import click

    assert f"click={click.__file__}" in warm.installed_imports()
    assert not any(name.startswith(("flowkit=", "tests=")) for name in warm.installed_imports())
    warm.prefork(["run"])
    source = _FLOW.replace(
        "self.worker = _worker()",
        "self.worker, self.click = _worker(), __import__('sys').modules.get('click') is not None",
    )
    with warm.parking(False):
        run = flowkit.run(_flow(tmp_path, source), store=str(tmp_path / "s"), quiet=True)
    assert run["start"].task.data.worker == spawned[0].pid
    assert run["start"].task.data.click is True


def test_a_package_found_elsewhere_than_where_the_command_line_imported_it_is_left(
    tmp_path: Path,
) -> None:
    """A worker imports an installed package early only from the file the command line
    imported it from: a package shadowed on the worker's path is left to the flow's import."""
    code = (
        "import sys; from importlib.util import find_spec; "
        "from flowkit.executor.forkserver import _preload_installed; "
        "origin = find_spec('nbformat').origin; "
        "_preload_installed(['nbformat=/elsewhere/nbformat/__init__.py', 'no_such=/x.py']); "
        "before = 'nbformat' in sys.modules; "
        "_preload_installed([f'nbformat={origin}']); "
        "print(before, 'nbformat' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False True"


@pytest.mark.parametrize(
    "argv",
    [["show"], ["run", "--help"], ["run", "--dry-run"], ["run", "--detach"], ["resume", "--help"]],
)
def test_a_command_that_runs_nothing_here_starts_no_early_spare(
    spawned: list[subprocess.Popen[bytes]], argv: list[str]
) -> None:
    warm.prefork(argv)
    assert spawned == []


def test_an_early_spare_no_run_takes_is_shut_down(
    spawned: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # a dry run after all (--dry-run spelled so that prefork missed it): killed at once
    warm.prefork(["run"])
    flowkit.run(_flow(tmp_path), store=str(tmp_path / "s"), dry_run=True)
    assert [proc.returncode for proc in spawned] == [-signal.SIGKILL]
    # the command line changed the environment since: a fresh spare, the early one killed
    warm.prefork(["run"])
    monkeypatch.setenv("SPARE_CHANGED", "1")
    with warm.spare():
        assert [proc.returncode for proc in spawned[1:]] == [-signal.SIGKILL, None]
    assert spawned[2].returncode == -signal.SIGKILL
    # a command line that never got to its run: shut down as its process exits
    warm.prefork(["run"])
    warm._drop_early()  # what atexit calls
    assert spawned[3].returncode == -signal.SIGKILL


@pytest.mark.parametrize(
    ("then", "status"),
    [("sys.stdin.read()", 0), ("time.sleep(60)", -signal.SIGKILL)],
    ids=["exits", "hangs"],
)
def test_a_worker_shut_down_is_read_until_it_exits_or_killed_after_its_grace(
    then: str, status: int
) -> None:
    """What it still sends (more than a pipe holds) is read and dropped, so it exits when
    its input ends; one silent past the grace is killed."""
    script = f"import sys, time\nsys.stdout.write('x' * 200000)\nsys.stdout.flush()\n{then}"
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    warm.shutdown(proc, grace=5.0 if status == 0 else 0.5)
    assert proc.returncode == status
