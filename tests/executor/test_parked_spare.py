"""The spare a command-line run leaves parked for the next one (flowkit.executor.rendezvous):
taken over by the next run in an identical context, and by nothing else; refused once a
module it imported changed; gone after its idle time, when evicted, or when killed (its
socket then cleaned up by the next run); never left by a command that runs nothing, nor
where the setting turns it off. Real processes throughout: the pids are the ones that ran."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowkit import Flow
from flowkit.executor import rendezvous
from tests.conftest import ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only"),
]

_FLOW = """
import os, time
from flowkit import FlowSpec, step


def _parent(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def _ancestors():
    pid, found = os.getppid(), []
    while pid > 1:
        found.append(pid)
        pid = _parent(pid)
    return found


class ParkFlow(FlowSpec):
    @step
    def start(self):
        # its shepherd, (a process the worker forked tasks from,) the worker, the worker's...
        self.ancestors = _ancestors()
        if os.path.exists("kill-worker"):  # the worker named there, if this task runs under it
            with open("kill-worker") as named:
                worker = int(named.read())
            if worker in self.ancestors:
                os.unlink("kill-worker")
                os.kill(worker, 9)  # it dies under its task: the task is lost, and run again
                time.sleep(60)  # (ended only as lost: not by finishing before that is seen)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParkFlow()
"""


@pytest.fixture
def runtime() -> Iterator[str]:
    """A rendezvous of the test's own (``XDG_RUNTIME_DIR``, short: a socket's path has at
    most 107 bytes); every spare parked there is killed at the end."""
    folder = tempfile.mkdtemp(prefix="fkpark-", dir="/tmp")
    yield folder
    for pid in _spares(folder):
        _kill(pid)
    shutil.rmtree(folder, ignore_errors=True)


def _project(tmp_path: Path, name: str = "project") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "flow.py").write_text(textwrap.dedent(_FLOW))
    return folder


def _run(
    folder: Path,
    runtime: str,
    *args: str,
    env: dict[str, str | None] | None = None,
    cwd: Path | None = None,
    path: tuple[Path, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Run the project's flow from the command line, with parked spares turned on (they are
    off unless a setting asks) unless ``env`` says otherwise (None: a variable unset)."""
    environ = {**os.environ, "XDG_RUNTIME_DIR": runtime, "FLOWKIT_WORKER_LINGER": "5m"}
    for name, value in (env or {}).items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    environ["PYTHONPATH"] = os.pathsep.join(map(str, [*path, ROOT]))
    done = subprocess.run(
        [sys.executable, str(folder / "flow.py"), "run", "--store", str(folder / "store"), *args],
        cwd=cwd or folder,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _ran_under(folder: Path) -> list[int]:
    """The processes the latest run's start task ran under (its shepherd, its worker, ...)."""
    return list(
        Flow("ParkFlow", store=str(folder / "store")).latest_run["start"].task.data.ancestors
    )


def _parked(runtime: str) -> Path:
    return Path(runtime) / "flowkit" / "parked"


def _sockets(runtime: str) -> list[Path]:
    folder = _parked(runtime)
    return sorted(folder.glob("*.sock")) if folder.is_dir() else []


def _spares(runtime: str) -> list[int]:
    """The parked spares (not yet taken over) whose environment names ``runtime``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
            with open(f"/proc/{entry}/environ", "rb") as fh:
                environ = fh.read()
        except OSError:  # gone meanwhile
            continue
        mark = f"XDG_RUNTIME_DIR={runtime}".encode()
        if b"flowkit.executor.parked" in argv and mark in environ.split(b"\0"):
            found.append(int(entry))
    return sorted(found)


def _describe(pids: list[int]) -> list[str]:
    """What ``ps`` would say of ``pids``: the pid, its parent, state and command line."""
    found = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv = fh.read().replace(b"\0", b" ").decode()
        except OSError:
            continue
        found.append(f"{pid} {fields[1]} {fields[0]} {argv}")
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _until(check, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    """``check()``'s first true value within ``timeout`` seconds (else its last)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def _one_spare(runtime: str) -> int:
    """The one spare parked in ``runtime``, once it listens."""
    found = _until(lambda: len(_sockets(runtime)) == 1 and len(_spares(runtime)) == 1)
    assert found, (_sockets(runtime), _spares(runtime))
    [pid] = _spares(runtime)
    assert _listener(_sockets(runtime)[0]) == pid
    return pid


def _listener(path: Path) -> int:
    """The pid of the process listening on the socket ``path`` (it takes the connection
    for a poke and waits on)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(path))
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    return int.from_bytes(creds[:4], sys.byteorder)


def test_the_next_run_here_runs_its_tasks_under_the_spare_the_last_run_left(
    tmp_path: Path, runtime: str
) -> None:
    project = _project(tmp_path)
    _run(project, runtime)
    first = _ran_under(project)
    spare = _one_spare(runtime)
    assert spare not in first
    done = _run(project, runtime)
    assert spare in _ran_under(project)
    assert "Traceback" not in done.stderr
    assert _until(lambda: not _alive(spare))  # shut down with its run, as a spawned one
    assert _one_spare(runtime) != spare  # the second run left the next one


def test_a_run_in_another_environment_or_folder_does_not_take_it(
    tmp_path: Path, runtime: str
) -> None:
    project = _project(tmp_path)
    _run(project, runtime)
    spare = _one_spare(runtime)
    _run(project, runtime, env={"PARK_OTHER": "1"})
    assert spare not in _ran_under(project)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _run(project, runtime, cwd=elsewhere)
    assert spare not in _ran_under(project)
    assert _alive(spare)  # still parked for a run in its own context
    _run(project, runtime)
    assert spare in _ran_under(project)


def test_a_spare_whose_flowkit_changed_on_disk_refuses_and_the_run_spawns(
    tmp_path: Path, runtime: str
) -> None:
    """A flowkit module the spare imported edited (an upgrade, a developer's edit): the
    stale spare never runs a task; a fresh worker, importing the new code, does."""
    site = tmp_path / "site"
    shutil.copytree(
        ROOT / "flowkit", site / "flowkit", ignore=shutil.ignore_patterns("__pycache__")
    )
    project = _project(tmp_path)
    _run(project, runtime, path=(site,))
    spare = _one_spare(runtime)
    module = site / "flowkit" / "task" / "execute.py"  # a task module the spare preloads
    later = module.stat().st_mtime + 10
    os.utime(module, (later, later))
    done = _run(project, runtime, path=(site,))
    assert spare not in _ran_under(project)
    assert "Traceback" not in done.stderr
    assert _until(lambda: not _alive(spare))  # it exits as it refuses


def test_a_spare_is_refused_once_an_install_changes_a_folder_on_its_path(
    tmp_path: Path, runtime: str
) -> None:
    """A package installed since the spare started (a new module in a folder on its path,
    as ``pip install`` or an editable install's finder adds): the spare, which never
    imported it, refuses; the run's fresh worker sees the new package."""
    lib = tmp_path / "lib"
    lib.mkdir()
    project = _project(tmp_path)
    _run(project, runtime, path=(lib,))
    spare = _one_spare(runtime)
    (lib / "newly_installed.py").write_text("VALUE = 1\n")
    done = _run(project, runtime, path=(lib,))
    assert spare not in _ran_under(project)
    assert "Traceback" not in done.stderr
    assert _until(lambda: not _alive(spare))


def test_a_spare_exits_after_its_idle_time_and_removes_its_socket(
    tmp_path: Path, runtime: str
) -> None:
    project = _project(tmp_path)
    _run(project, runtime, env={"FLOWKIT_WORKER_LINGER": "2s"})
    spare = _one_spare(runtime)
    assert _until(lambda: not _alive(spare) and not _sockets(runtime), timeout=30)


def test_a_killed_spares_socket_is_removed_and_the_next_run_spawns(
    tmp_path: Path, runtime: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path)
    _run(project, runtime)
    spare = _one_spare(runtime)
    [stale] = _sockets(runtime)
    _kill(spare)
    assert _until(lambda: not _alive(spare))
    # the command line's own step: connection refused, the socket removed, no worker
    monkeypatch.setenv("XDG_RUNTIME_DIR", runtime)
    assert rendezvous.adopt(stale.stem) is None
    assert not stale.exists()
    # and a run that finds one (killed again) says nothing of it, and runs
    _run(project, runtime)
    again = _one_spare(runtime)
    _kill(again)
    assert _until(lambda: not _alive(again)) and _sockets(runtime)
    done = _run(project, runtime)
    assert not {spare, again} & set(_ran_under(project))
    assert "Traceback" not in done.stderr and "parked" not in done.stderr
    assert _one_spare(runtime) not in (spare, again)


def test_at_most_a_few_spares_are_parked_per_user_the_oldest_goes(
    tmp_path: Path, runtime: str
) -> None:
    seen: list[int] = []
    for n in range(rendezvous.MAX_PARKED + 1):
        _run(_project(tmp_path, f"project{n}"), runtime)  # each its own folder, its own key
        new = _until(lambda known=tuple(seen): [p for p in _spares(runtime) if p not in known])
        assert len(new) == 1
        seen += new
    oldest = seen[0]
    assert _until(lambda: not _alive(oldest))
    assert _until(lambda: _spares(runtime) == sorted(seen[1:]))
    assert _until(lambda: len(_sockets(runtime)) == rendezvous.MAX_PARKED)


@pytest.mark.parametrize("fault", ["group-readable", "not-its-owner"])
def test_a_rendezvous_folder_not_the_users_alone_is_not_used(
    tmp_path: Path, runtime: str, fault: str
) -> None:
    project = _project(tmp_path)
    _run(project, runtime)
    spare = _one_spare(runtime)
    folder = _parked(runtime)
    if fault == "group-readable":
        folder.chmod(0o750)
    else:
        if os.getuid() != 0:
            pytest.skip("only root can give a folder to another user")
        os.chown(folder, 65534, 65534)
    _run(project, runtime)
    assert spare not in _ran_under(project)  # not taken
    assert _alive(spare)
    assert _spares(runtime) == [spare], _describe(_spares(runtime))  # and none left there


def test_a_rendezvous_folder_that_is_a_link_is_not_used(tmp_path: Path, runtime: str) -> None:
    """Not even to another folder of the user's alone: whoever could swap the link could
    swap where the command line looks."""
    elsewhere = Path(runtime) / "flowkit" / "elsewhere"
    elsewhere.mkdir(mode=0o700, parents=True)
    _parked(runtime).symlink_to(elsewhere)
    project = _project(tmp_path)
    _run(project, runtime)
    _run(project, runtime)
    assert _until(lambda: not _spares(runtime))  # none left there, none taken
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("args", [["--help"], ["--dry-run"]])
def test_a_command_that_runs_nothing_takes_no_spare_and_leaves_none(
    tmp_path: Path, runtime: str, args: list[str]
) -> None:
    project = _project(tmp_path)
    _run(project, runtime, *args)
    time.sleep(1.0)
    assert _spares(runtime) == [] and _sockets(runtime) == []
    _run(project, runtime)
    spare = _one_spare(runtime)
    _run(project, runtime, *args)
    time.sleep(1.0)
    assert _spares(runtime) == [spare] and _alive(spare)


def test_it_is_off_unless_a_setting_turns_it_on(tmp_path: Path, runtime: str) -> None:
    project = _project(tmp_path)
    _run(project, runtime, env={"FLOWKIT_WORKER_LINGER": None})  # the default: off
    _run(project, runtime, env={"FLOWKIT_WORKER_LINGER": "0"})
    time.sleep(1.0)
    assert _spares(runtime) == [] and _sockets(runtime) == []
    (project / "pyproject.toml").write_text('[tool.flowkit]\nworker_linger = "5m"\n')
    _run(project, runtime, env={"FLOWKIT_WORKER_LINGER": None})
    spare = _one_spare(runtime)
    _run(project, runtime, env={"FLOWKIT_WORKER_LINGER": None})
    assert spare in _ran_under(project)  # taken by the next run, which leaves another
    _one_spare(runtime)


def test_a_spare_is_refused_once_the_project_setting_changes(tmp_path: Path, runtime: str) -> None:
    project = _project(tmp_path)
    (project / "pyproject.toml").write_text('[tool.flowkit]\nworker_linger = "5m"\n')
    unset: dict[str, str | None] = {"FLOWKIT_WORKER_LINGER": None}
    _run(project, runtime, env=unset)
    spare = _one_spare(runtime)
    (project / "pyproject.toml").write_text("[tool.flowkit]\nworker_linger = 0\n")
    _run(project, runtime, env=unset)
    assert spare not in _ran_under(project)
    assert _until(lambda: not _alive(spare))
    time.sleep(1.0)
    assert _spares(runtime) == []


def test_a_taken_over_worker_that_dies_is_seen_lost_and_replaced(
    tmp_path: Path, runtime: str
) -> None:
    """The command line watches a worker it did not start as it does its own: one killed
    under a task has the task reported lost and run again under a fresh worker."""
    project = _project(tmp_path)
    _run(project, runtime)
    spare = _one_spare(runtime)
    (project / "kill-worker").write_text(str(spare))
    _run(project, runtime)
    assert not (project / "kill-worker").exists()  # a task ran under the spare, and killed it
    assert spare not in _ran_under(project)  # the attempt that finished: a fresh worker
    assert not _alive(spare)


_ADOPT = """
import sys, time
from flowkit.executor import rendezvous, warm
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # both at once
worker = rendezvous.adopt(sys.argv[1])
print(worker.pid if worker else 0, flush=True)
if worker:
    warm.shutdown(worker)
    print(worker.returncode)
"""


def test_of_two_command_lines_taking_one_spare_at_once_exactly_one_gets_it(
    runtime: str,
) -> None:
    env = {**os.environ, "XDG_RUNTIME_DIR": runtime, "PYTHONPATH": str(ROOT)}
    env["FLOWKIT_WORKER_LINGER"] = "5m"
    env["PYTHONUNBUFFERED"] = "1"  # as a spare is started
    os.makedirs(_parked(runtime), mode=0o700)
    name = "a" * rendezvous.NAME_LENGTH
    subprocess.Popen(
        [sys.executable, "-m", "flowkit.executor.parked", name],
        env=env,
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    spare = _one_spare(runtime)
    at = f"{time.time() + 1.5}"
    takers = [
        subprocess.Popen(
            [sys.executable, "-c", _ADOPT, name, at], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = sorted(taker.communicate(timeout=60)[0].split() for taker in takers)
    assert outputs == [["0"], [str(spare), "0"]]  # one got it, and shut it down (no hello)
    assert not _alive(spare) and _sockets(runtime) == []


def test_the_idle_time_is_a_duration_setting(tmp_path: Path) -> None:
    from flowkit.errors import FlowkitError
    from flowkit.settings import Settings

    assert Settings.resolve(environ={}, cwd=tmp_path).worker_linger == 0.0  # off
    assert Settings.resolve(environ={"FLOWKIT_WORKER_LINGER": "90s"}).worker_linger == 90.0
    (tmp_path / "pyproject.toml").write_text('[tool.flowkit]\nworker_linger = "2m"\n')
    assert Settings.resolve(environ={}, cwd=tmp_path).worker_linger == 120.0
    with pytest.raises(FlowkitError, match="worker_linger"):
        Settings.resolve(environ={"FLOWKIT_WORKER_LINGER": "soon"})


def test_a_run_started_in_process_neither_takes_nor_leaves_a_spare(
    tmp_path: Path, runtime: str
) -> None:
    """Only the command line parks a spare: a script or a kernel that runs a flow keeps its
    worker in-process (flowkit.executor.warm), and shuts it down as it exits."""
    project = _project(tmp_path)
    _run(project, runtime)
    spare = _one_spare(runtime)
    script = (
        "import flowkit; "
        f"flowkit.run({str(project / 'flow.py')!r}, store={str(project / 'store')!r}, quiet=True)"
    )
    env = {**os.environ, "XDG_RUNTIME_DIR": runtime, "PYTHONPATH": str(ROOT)}
    env.pop("FLOWKIT_WORKER_LINGER", None)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=project, env=env, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert spare not in _ran_under(project)
    time.sleep(1.0)
    assert _spares(runtime) == [spare] and _alive(spare)
