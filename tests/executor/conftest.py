"""The third-party executor package the executor tests install: a wheel built here by hand
and installed with pip into a folder put on the import path. Its executor runs each task as
``python -m flowkit.worker STORE SPEC-KEY`` in a subprocess (submit and detach, then poll),
the way a cluster backend would, and can run a run's scheduler (``--detach``) as a process
of its own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from flowkit.store import open_store

#: Why the third-party executor says it lost a task (``lose=N``), or why one crashed
#: before its worker started (``crash=N``).
LOST_REASON = "its node failed (job 7 on node-3)"
CRASH_REASON = "job 8 ended before the worker started: /no/python: No such file or directory"

_EXECUTOR = f'''
"""A throwaway executor: every task is ``python -m flowkit.worker STORE KEY``, at most
``--max-workers`` at a time when that was chosen (the rest wait, as in a cluster's queue).

Options for tests: ``lose=N`` / ``crash=N`` end a task's first N attempts without running
them, as a job whose node failed (Lost) or whose interpreter is missing (Failed, 127).
"""
import json, os, subprocess, sys, time

from flowkit.executor.base import DRIVER_MODULE, Failed, Killed, Lost, Started, ended

LOST_REASON = {LOST_REASON!r}
CRASH_REASON = {CRASH_REASON!r}


def _log(entry, suffix=""):
    with open(os.environ["TP_EXEC_LOG"] + suffix, "a") as log:
        log.write(json.dumps(entry) + "\\n")


class Executor:
    def __init__(self, context):
        self.store = context.store
        self.limit = context.max_workers if context.max_workers_chosen else None
        self.queue = []
        self.procs = {{}}
        self.news = []
        self.cancelled = set()
        _log([context.max_workers, context.max_workers_chosen], ".contexts")

    @classmethod
    def detach(cls, context, key, options):
        """The scheduler as a process in a session of its own, its output in a file next
        to the log; with $TP_EXEC_HOLD set, it waits (as in a cluster's queue) until that
        file exists."""
        _log(["(scheduler)", dict(options)])
        folder = os.path.dirname(os.environ["TP_EXEC_LOG"])
        site = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        path = os.pathsep.join(p for p in (site, os.environ.get("PYTHONPATH")) if p)
        argv = [sys.executable, "-m", DRIVER_MODULE, context.store.url, key]
        hold = os.environ.get("TP_EXEC_HOLD")
        if hold:
            wait = 'while [ ! -e "$1" ]; do sleep 0.05; done; shift; exec "$@"'
            argv = ["sh", "-c", wait, "sh", hold, *argv]
        with open(os.path.join(folder, f"scheduler-{{key}}.out"), "wb") as out:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={{**os.environ, "PYTHONPATH": path}},
                start_new_session=True,
            )
        return f"process {{proc.pid}}"

    def check(self, request):
        return f"it asks for {{request.gpu}} GPU, and thirdparty has none" if request.gpu else None

    def submit(self, tasks):
        for task in tasks:
            options = dict(task.request.options)
            _log([task.spec.step, options])
            _log([task.spec.step, task.request.timeout], ".timeouts")
            if task.spec.attempt < options.get("lose", 0):
                self.news.append(Lost(task.key, LOST_REASON))
            elif task.spec.attempt < options.get("crash", 0):
                self.news.append(Failed(task.key, 127, CRASH_REASON))
            else:
                key = self.store.put_spec(task.spec.to_json())
                self.queue.append((task.key, key))
        self._start()

    def _start(self):
        while self.queue and (self.limit is None or len(self.procs) < self.limit):
            task_key, key = self.queue.pop(0)
            self.procs[task_key] = subprocess.Popen(
                [sys.executable, "-m", "flowkit.worker", self.store.url, key],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            self.news.append(Started(task_key))

    def poll(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            # what waits starts before ends are seen: the scheduler hears of an end (and may
            # withdraw what waits, --fail-fast) before a freed slot is filled
            self._start()
            out, self.news = self.news, []
            for key, proc in list(self.procs.items()):
                status = proc.poll()
                if status is not None:
                    del self.procs[key]
                    out.append(Killed(key, status) if key in self.cancelled else ended(key, status))
            if out or time.monotonic() >= deadline:
                return out
            time.sleep(0.01)

    def cancel(self, key):
        queued = [k for k, _ in self.queue]
        if key in queued:
            del self.queue[queued.index(key)]
            self.news.append(Killed(key))
        elif key in self.procs:
            self.cancelled.add(key)
            self.procs[key].kill()

    def close(self):
        for proc in self.procs.values():
            proc.kill()
            proc.wait()
'''

_BROKEN = "raise ImportError(\"No module named 'tp_cluster_sdk'\")\n"
_BAD = """
class Executor:
    def __init__(self, context):
        raise RuntimeError("sbatch: command not found")
"""


def _wheel(folder: Path) -> Path:
    """``tp_exec``, with entry points ``thirdparty`` (works), ``tpbroken`` (its module
    cannot be imported) and ``tpbad`` (it imports, but making its executor raises)."""
    info = "tp_exec-0.1.dist-info"
    files = {
        "tp_exec/__init__.py": _EXECUTOR,
        "tp_exec/broken.py": _BROKEN,
        "tp_exec/bad.py": _BAD,
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: tp-exec\nVersion: 0.1\n",
        f"{info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
        f"{info}/entry_points.txt": (
            "[flowkit.executors]\n"
            "thirdparty = tp_exec:Executor\n"
            "tpbroken = tp_exec.broken:Executor\n"
            "tpbad = tp_exec.bad:Executor\n"
        ),
    }
    lines = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        lines.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*lines, f"{info}/RECORD,,"]) + "\n"
    wheel = folder / "tp_exec-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return wheel


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder pip installed the package into."""
    root = tmp_path_factory.mktemp("tp_exec")
    target = root / "site"
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index"),
            *("--target", str(target), str(_wheel(root))),
        ],
        check=True,
        capture_output=True,
    )
    return target


@pytest.fixture
def third_party(installed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The package on the import path; returns the log of what its executor was given."""
    monkeypatch.syspath_prepend(str(installed))
    log = tmp_path / "submitted.jsonl"
    log.touch()
    monkeypatch.setenv("TP_EXEC_LOG", str(log))
    return log


def submitted(log: Path) -> list[tuple[str, dict[str, Any]]]:
    return sorted(
        (step, options) for step, options in map(json.loads, log.read_text().splitlines())
    )


def logged(log: Path, suffix: str) -> list[list[Any]]:
    """What the executor logged in ``log`` + ``suffix``: ``.contexts``, each executor's
    ``[max_workers, max_workers_chosen]``; ``.timeouts``, each task's ``[step, timeout]``."""
    path = Path(f"{log}{suffix}")
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def summary(store_root: Path, flow: str, run_id: str) -> dict[str, Any]:
    """What must not depend on where tasks ran: per step, each task's success, foreach
    position, items, next steps and artifact digests (ids and times aside)."""
    records = open_store(str(store_root)).records
    summary = {}
    for step in records.list_steps(flow, run_id):
        tasks = records.list_tasks(flow, run_id, step)
        summary[step] = sorted(
            (
                t.successful,
                t.attempt,
                t.foreach,
                t.foreach_count,
                [count for _, count in t.foreach_items],
                t.next_steps,
                sorted((name, ref.digest) for name, ref in t.artifacts.items()),
            )
            for t in tasks
        )
    return summary
