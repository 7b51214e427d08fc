"""Warm workers kept between runs in one long-lived process: the second run of unchanged
code reuses the first run's worker (its imports are not done again), while an edit of a
project module on disk or a variable set in ``os.environ`` between runs is always seen."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.conftest import run_python

pytestmark = pytest.mark.slow

#: The warm worker a task runs under (above its shepherd and the worker's zygote), as flows
#: here record it.
_WORKER = """

def _parent(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def _worker():
    return _parent(_parent(os.getppid()))
"""

_FLOW = """
import os
from flowkit import FlowSpec, step
import extlib
import heavymod


class WarmFlow(FlowSpec):
    @step
    def start(self):
        self.helper = heavymod.VERSION
        self.lib = extlib.VERSION
        self.env = os.environ.get("WARM_TEST_VAR")
        self.worker = _worker()
        self.next(self.end)

    @step
    def end(self):
        pass

"""

_HEAVY = """
import os
with open(os.environ["WARM_IMPORT_LOG"], "a") as log:
    log.write(f"{{os.getpid()}}\\n")
VERSION = {version!r}
"""

#: Runs the flow in one process five times: unchanged, unchanged, a project module edited, an
#: env var set, a module from outside the project (not in the code package) edited.
_SCRIPT = """
import json, os, sys
from pathlib import Path
import flowkit
from flowkit.executor import warm

project, store = Path(sys.argv[1]), sys.argv[2]
flow = str(project / "wflow.py")
seen = []
def run():
    data = flowkit.run(flow, store=store, quiet=True)["start"].task.data
    seen.append({"helper": data.helper, "lib": data.lib, "env": data.env,
                 "worker": data.worker, "idle": warm.idle_pids()})
run()
run()
(project / "heavymod.py").write_text(sys.argv[3])
run()
os.environ["WARM_TEST_VAR"] = "set between runs"
run()
Path(sys.argv[4]).write_text("VERSION = 'lib v2, longer'")
run()
print(json.dumps(seen))
"""


def test_a_long_lived_process_reuses_its_warm_worker_and_sees_every_change(
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "wflow.py").write_text(_FLOW + _WORKER)
    (project / "heavymod.py").write_text(_HEAVY.format(version="v1"))
    lib = tmp_path / "lib"  # on the path, outside the project: like an installed package
    lib.mkdir()
    (lib / "extlib.py").write_text("VERSION = 'lib v1'")
    imports = tmp_path / "imports.log"
    done = run_python(
        "-c",
        _SCRIPT,
        project,
        tmp_path / "store",
        _HEAVY.format(version="v2"),
        lib / "extlib.py",
        env={"WARM_IMPORT_LOG": str(imports), "WARM_TEST_VAR": None},
        path=[project, lib],
        cwd=project,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    first, second, edited, env_set, lib_edited = json.loads(done.stdout.splitlines()[-1])

    # Unchanged code: the same worker ran both runs' tasks, and imported the flow once.
    assert second["worker"] == first["worker"]
    assert first["idle"] == [first["worker"]]
    # The module edited on disk: a fresh worker, which sees the edit.
    assert (first["helper"], edited["helper"]) == ("v1", "v2")
    assert edited["worker"] != first["worker"]
    # A variable set in os.environ between runs reaches the task (a fresh worker again).
    assert (edited["env"], env_set["env"]) == (None, "set between runs")
    assert env_set["worker"] != edited["worker"]
    # A module the worker imported from outside the code package, changed on disk (as by a
    # pip upgrade): the worker that imported it is not used again.
    assert (env_set["lib"], lib_edited["lib"]) == ("lib v1", "lib v2, longer")
    assert lib_edited["worker"] != env_set["worker"]
    # The first worker imported the flow's modules once for both runs; no task did again.
    importers = imports.read_text().split()
    assert importers.count(str(first["worker"])) == 1
    assert {first["worker"], edited["worker"], env_set["worker"]} <= {int(p) for p in importers}
    # Parked workers end with the process that kept them.
    for pid in {first["worker"], edited["worker"], env_set["worker"], lib_edited["worker"]}:
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid), f"worker {pid} outlived it"


def _zombie(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_a_worker_that_is_not_idle_is_not_kept(tmp_path: Path) -> None:
    """An executor closed with a task whose end it has not read (a run interrupted) shuts its
    worker down rather than keep it."""
    script = textwrap.dedent(
        """
        import sys
        from flowkit.executor import warm
        from flowkit.executor.base import ExecutorContext, Request, Submission
        from flowkit.executor.local import LocalExecutor
        from flowkit.store import open_store
        from tests.runtime.test_worker import _spec_for_step_a
        from pathlib import Path

        spec, _ = _spec_for_step_a(Path(sys.argv[1]))
        store = open_store(sys.argv[1])
        executor = LocalExecutor(ExecutorContext(store, spec.code, echo=False))
        executor.submit([Submission("one", spec, Request())])  # sent, its end not read
        worker = executor._proc
        executor.close()
        assert worker.pid not in warm.idle_pids(), warm.idle_pids()
        assert worker.poll() is not None
        print("ok")
        """
    )
    done = run_python("-c", script, tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


#: What each script below starts with: a store and an executor context whose worker loads a
#: small flow (the same key for every executor made with it).
_PRELUDE = """
import json, os, signal, sys, time
from dataclasses import asdict
from pathlib import Path
from flowkit.executor import warm
from flowkit.executor.base import ExecutorContext
from flowkit.executor.local import LocalExecutor
from flowkit.store import open_store
from tests.runtime.test_worker import _spec_for_step_a

spec, _ = _spec_for_step_a(Path(sys.argv[1]))
store = open_store(sys.argv[1])
context = ExecutorContext(store, spec.code, echo=False)
"""


def _script(tmp_path: Path, body: str) -> str:
    """Run ``_PRELUDE`` + ``body`` in a fresh interpreter; its stdout (it must exit 0)."""
    done = run_python("-c", _PRELUDE + textwrap.dedent(body), tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_process_forked_from_a_kernel_neither_takes_nor_shuts_down_its_parked_worker(
    tmp_path: Path,
) -> None:
    """A child forked from the process that parked a worker (``multiprocessing`` in a kernel)
    inherits none of its parked workers: it cannot take one (two processes writing to one
    worker), and its exit handlers do not shut them down under the parent."""
    out = _script(
        tmp_path,
        """
        first = LocalExecutor(context)
        parked = first._proc.pid
        first.close()
        child = os.fork()
        if child == 0:
            seen = warm.idle_pids()
            sys.exit(0 if seen == [] else 3)  # a normal exit: its exit handlers run
        _, status = os.waitpid(child, 0)
        second = LocalExecutor(context)
        print(json.dumps([os.waitstatus_to_exitcode(status), parked, second._proc.pid]))
        second.close()
        """,
    )
    child_status, parked, second = json.loads(out)
    assert child_status == 0  # the child saw no parked worker
    assert second == parked  # and the parent's was still there, for its next run


def test_a_parked_worker_that_does_not_answer_is_replaced(tmp_path: Path) -> None:
    """A parked worker alive but not answering (stopped, wedged) is not used: the next run
    would wait forever on its first task. It is shut down and a fresh worker starts."""
    out = _script(
        tmp_path,
        """
        first = LocalExecutor(context)
        parked = first._proc.pid
        first.close()
        os.kill(parked, signal.SIGSTOP)
        second = LocalExecutor(context)
        print(json.dumps([parked, second._proc.pid, second.alive, Path(f"/proc/{parked}").exists()]))
        second.close()
        """,
    )
    parked, second, alive, stopped_left = json.loads(out)
    assert second != parked
    assert alive
    assert not stopped_left  # the stopped worker was killed and reaped


def test_a_renewed_worker_forgets_what_its_store_knew(tmp_path: Path) -> None:
    """A worker taken for a later run opens its store afresh: a digest it saw stored before
    (then swept by a gc between the runs) is not taken for stored by the tasks forked from
    it, so no record can name a blob that is not there."""
    out = _script(
        tmp_path,
        """
        from flowkit.executor.forkserver import ForkServer
        from flowkit.store.blobs import blob_key

        sent = []
        server = ForkServer(os.dup(1), relay=sent.append)
        server.setup({"store": sys.argv[1], "code": asdict(spec.code), "echo": False})
        digest = server.store.values.put("a value of an earlier run").digest
        store.backend.delete(blob_key(digest))  # a gc between the runs
        before = server.store.values.has(digest)
        server.renew()
        print(json.dumps([before, server.store.values.has(digest), sent[-1]["op"]]))
        """,
    )
    before, after, answer = json.loads(out)
    assert before  # what it remembered: the reason it must forget
    assert not after
    assert answer == "ready"


def test_a_worker_whose_close_is_interrupted_is_shut_down(tmp_path: Path) -> None:
    """Ctrl-C while a closing executor asks its worker what it imported: the worker is shut
    down, not left running, parked by no one, until the process ends."""
    out = _script(
        tmp_path,
        """
        executor = LocalExecutor(context)
        worker = executor._proc
        def interrupted():
            raise KeyboardInterrupt
        executor._loaded_files = interrupted
        try:
            executor.close()
        except KeyboardInterrupt:
            print(json.dumps([worker.poll() is not None, worker.pid in warm.idle_pids()]))
        """,
    )
    assert json.loads(out) == [True, False]


_FAILING_FLOW = """
import os
from flowkit import FlowSpec, step
import rhelper


class RetryFlow(FlowSpec):
    @step
    def start(self):
        self.value = rhelper.value()
        self.worker = _worker()
        self.next(self.end)

    @step
    def end(self):
        pass

"""

#: Fails while the flag file exists (the outside world, not the code).
_HELPER = """
import os
def value():
    if os.path.exists(os.environ["RETRY_FLAG"]):
        raise ValueError("the flag is up")
    return {word!r}
"""

#: A failed run, resumed with the same code; failed again, resumed after a fix of the helper.
_RESUME_SCRIPT = """
import json, os, sys
from pathlib import Path
import flowkit
from flowkit.executor import warm
from flowkit.runtime.drive import RunFailed

project, store, flag = Path(sys.argv[1]), sys.argv[2], Path(os.environ["RETRY_FLAG"])
flow = str(project / "rflow.py")
def fails():
    try:
        flowkit.run(flow, store=store, quiet=True)
    except RunFailed:
        return warm.idle_pids()[-1]
    raise AssertionError("the run did not fail")
def resumed():
    data = flowkit.resume(flow, store=store, quiet=True)["start"].task.data
    return [data.value, data.worker]
flag.write_text("up")
failed = fails()
flag.unlink()
same_code = resumed()
flag.write_text("up")
fails()
(project / "rhelper.py").write_text(sys.argv[3])
fixed = resumed()
print(json.dumps([failed, same_code, fixed]))
"""


def test_a_resume_after_a_failed_run_reuses_its_worker_only_for_the_same_code(
    tmp_path: Path,
) -> None:
    """A failed run's worker is kept: a resume of the same code takes it; a resume after
    the failing helper was fixed runs the fix, in a fresh worker."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "rflow.py").write_text(_FAILING_FLOW + _WORKER)
    (project / "rhelper.py").write_text(_HELPER.format(word="first"))
    fixed_helper = "def value():\n    return 'fixed'\n"
    done = run_python(
        "-c",
        _RESUME_SCRIPT,
        project,
        tmp_path / "store",
        fixed_helper,
        env={"RETRY_FLAG": str(tmp_path / "flag")},
        path=[project],
        cwd=project,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    failed_worker, (value, worker), (fixed_value, fixed_worker) = json.loads(
        done.stdout.splitlines()[-1]
    )
    assert (value, worker) == ("first", failed_worker)
    assert fixed_value == "fixed"
    assert fixed_worker != failed_worker


_SLOW_IMPORT_FLOW = """
import os, time
from flowkit import FlowSpec, step

if os.getpid() != int(os.environ["SCHEDULER_PID"]):  # slow in the worker only
    with open(os.environ["SLOW_WORKER_PID"], "w") as out:
        out.write(str(os.getpid()))
    time.sleep(60)  # a heavy import (sklearn, torch) the user interrupts


class SlowFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""

#: Ctrl-C while the worker imports the flow, then the process goes on (a kernel does).
_INTERRUPT_SCRIPT = """
import os, signal, sys, threading, time
from pathlib import Path
import flowkit

pid_file = Path(os.environ["SLOW_WORKER_PID"])
os.environ["SCHEDULER_PID"] = str(os.getpid())
def interrupt():
    while not pid_file.exists():
        time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGINT)
threading.Thread(target=interrupt, daemon=True).start()
try:
    flowkit.run(sys.argv[1], store=sys.argv[2], quiet=True)
except KeyboardInterrupt:
    pass
worker = int(pid_file.read_text())
deadline = time.monotonic() + 3
while Path(f"/proc/{worker}").exists() and time.monotonic() < deadline:
    time.sleep(0.05)
print(Path(f"/proc/{worker}").exists())
"""


def test_a_worker_interrupted_while_it_imports_the_flow_does_not_outlive_it(
    tmp_path: Path,
) -> None:
    """Ctrl-C (a kernel interrupt) while a fresh worker still imports the flow: the worker
    is killed at once, not left importing and then waiting, held by no executor, until the
    kernel ends."""
    (tmp_path / "slowflow.py").write_text(_SLOW_IMPORT_FLOW)
    done = run_python(
        "-c",
        _INTERRUPT_SCRIPT,
        tmp_path / "slowflow.py",
        tmp_path / "store",
        env={"SLOW_WORKER_PID": str(tmp_path / "worker.pid")},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


_READING_FLOW = """
from pathlib import Path
from flowkit import FlowSpec, step

SETTINGS = Path("settings.txt").read_text()  # read once, as the module is imported


class ReadingFlow(FlowSpec):
    @step
    def start(self):
        self.settings = SETTINGS
        self.next(self.end)

    @step
    def end(self):
        pass
"""

_READING_SCRIPT = """
import json, sys
from pathlib import Path
import flowkit
from flowkit.executor import warm

def run():
    data = flowkit.run("readflow.py", store=sys.argv[1], quiet=True)["start"].task.data
    return [data.settings, warm.idle_pids()[-1]]
seen = [run(), run()]
Path("settings.txt").write_text("edited")
seen.append(run())
print(json.dumps(seen))
"""


def test_a_file_the_flows_module_read_at_import_edited_between_runs_is_seen(
    tmp_path: Path,
) -> None:
    """The flow's module reads a settings file as it is imported: a worker that read it is
    used again only while the file is unchanged, so the next run sees the edit."""
    (tmp_path / "readflow.py").write_text(_READING_FLOW)
    (tmp_path / "settings.txt").write_text("first")
    done = run_python("-c", _READING_SCRIPT, tmp_path / "store", cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    (first, worker), (again, reused), (edited, fresh) = json.loads(done.stdout.splitlines()[-1])
    assert (first, again, edited) == ("first", "first", "edited")
    assert reused == worker  # unchanged: the worker is used again
    assert fresh != worker


_SWEPT_FLOW = (
    """
import os
from flowkit import FlowSpec, step
"""
    + _WORKER
    + """

class SweptFlow(FlowSpec):
    @step
    def start(self):
        self.big = "a value both runs store " * 10000  # a blob, not inline in the record
        self.worker = _worker()
        self.next(self.end)

    @step
    def end(self):
        pass
"""
)

_SWEPT_SCRIPT = """
import json, sys
import flowkit
from flowkit.store import open_store
from flowkit.store.blobs import blob_key

flow, path = sys.argv[1], sys.argv[2]
store = open_store(path)
first = flowkit.run(flow, store=path, quiet=True)
record = store.records.get_task("SweptFlow", first.id, "start", first["start"].task.id)
digest = record.artifacts["big"].digest
store.backend.delete(blob_key(digest))  # a gc between the runs
second = flowkit.run(flow, store=path, quiet=True)  # the parked worker, renewed
record = store.records.get_task("SweptFlow", second.id, "start", second["start"].task.id)
workers = [run["start"].task.data.worker for run in (first, second)]
print(json.dumps([record.artifacts["big"].digest == digest, store.backend.exists(blob_key(digest)),
                  workers[0] == workers[1]]))
"""


def test_a_kept_worker_s_next_task_stores_again_a_value_swept_between_runs(
    tmp_path: Path,
) -> None:
    """The next run of a kept worker (whose zygote forks its tasks, one ahead of time)
    stores again a value a gc swept between the runs, rather than naming a missing blob."""
    (tmp_path / "swept.py").write_text(_SWEPT_FLOW)
    done = run_python(
        "-c", _SWEPT_SCRIPT, tmp_path / "swept.py", tmp_path / "store", cwd=tmp_path, timeout=120
    )
    assert done.returncode == 0, done.stderr
    same, stored, kept = json.loads(done.stdout.splitlines()[-1])
    assert (same, stored, kept) == (True, True, True)
