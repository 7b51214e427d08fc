"""A real single-node Slurm cluster on 127.0.0.1: what the Slurm tests and benchmark start.

:func:`running` starts a private munged, ``slurmctld`` and ``slurmd`` with every file they
write (config, state, spool, pids, logs, munge key and socket) under one folder, on free
ports, so that it clashes neither with a second one nor with a real cluster; it stops all
three, and every job process left, on exit.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from flowkit.testing.services import stop_group

NODE = "localhost"
#: ``sbatch --partition=`` values the cluster has; ``debug`` is the default.
PARTITIONS = ("debug", "cpu", "gpu")
#: The node's feature, for ``--constraint``.
FEATURE = "fast"
#: Fake GPUs: Slurm drops a GPU without a device file, and wants a character device, so
#: each is a link to /dev/null in the cluster's folder (task/none never touches it).
GPUS = 2

_COMMANDS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo")
SLURM_MISSING = (
    "Slurm and munge are not installed (need munged, slurmctld, slurmd, sbatch): "
    "bash scripts/install-test-services.sh "
    "(or apt-get install --no-install-recommends slurm-wlm munge)"
)


class SlurmMissing(RuntimeError):
    """Slurm's daemons or commands, or munge, are not installed."""


class SlurmDidNotStart(RuntimeError):
    """A daemon of the cluster exited or did not answer in time."""


#: Where Debian puts the daemons: a non-root user's PATH lacks it.
_SBIN = "/usr/sbin:/sbin"


def _which(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=_SBIN)
    if found is None:
        raise SlurmMissing(SLURM_MISSING)
    return found


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _config(
    folder: Path, ports: Sequence[int], *, cpus: int, memory_mb: int, min_job_age: int
) -> str:
    user = pwd.getpwuid(os.getuid()).pw_name
    node = (
        f"NodeName={NODE} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} "
        f"Features={FEATURE} Gres=gpu:{GPUS} State=UNKNOWN"
    )
    partitions = "\n".join(
        f"PartitionName={name} Nodes={NODE} MaxTime=INFINITE State=UP"
        + (" Default=YES" if name == "debug" else "")
        for name in PARTITIONS
    )
    return f"""\
ClusterName=flowkit
SlurmctldHost={NODE}(127.0.0.1)
SlurmctldPort={ports[0]}
SlurmdPort={ports[1]}
# With NoInAddrAny alone slurmctld still listens on 0.0.0.0.
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
AuthType=auth/munge
AuthInfo=socket={folder / "munge" / "sock"}
CredType=cred/munge
# The daemons run as whoever starts the cluster (root in CI); a job runs as its submitter.
SlurmUser={user}
SlurmdUser={user}
StateSaveLocation={folder / "state"}
SlurmdSpoolDir={folder / "spool"}
SlurmctldPidFile={folder / "slurmctld.pid"}
SlurmdPidFile={folder / "slurmd.pid"}
SlurmctldLogFile={folder / "slurmctld.log"}
SlurmdLogFile={folder / "slurmd.log"}
# No cgroups: works in a container, and job processes are plain children of slurmstepd.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=100
# The node declares more CPUs and memory than the machine has (tests' tasks mostly sleep).
SlurmdParameters=config_overrides
GresTypes=gpu
# The default mail program is not installed (slurmctld logs an error at start).
MailProg=/bin/true
SchedulerType=sched/backfill
# The default batch_sched_delay=3 starts only about 2 jobs every 3 s.
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
AccountingStorageType=accounting_storage/none
# Without accounting, a durable line per finished job.
JobCompType=jobcomp/filetxt
JobCompLoc={folder / "jobcomp.txt"}
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
# A node that was DOWN (slurmd killed) takes jobs again as soon as its slurmd registers.
ReturnToService=2
# How long squeue still knows a finished job (records are purged every few seconds after).
MinJobAge={min_job_age}
# A killed slurmd shows as "down*" and its running jobs end (NODE_FAIL, or requeued) about
# 12 s later instead of about 50 s (defaults 300 and 10): a ping fails after MessageTimeout
# and a node unanswered for SlurmdTimeout is down.
SlurmdTimeout=5
MessageTimeout=3
{node}
{partitions}
"""


@dataclass
class SlurmCluster:
    folder: Path
    conf: Path
    ports: tuple[int, int]
    _daemons: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """What a process needs to use this cluster with Slurm's commands (sbatch, squeue, ...)."""
        return {"SLURM_CONF": str(self.conf)}

    def command(
        self, *args: str, check: bool = True, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        """Run a Slurm client command (``sbatch``, ``squeue``, ...) against this cluster."""
        return subprocess.run(
            args,
            env={**os.environ, **self.env()},
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    def node_state(self) -> str:
        """The node's state as sinfo says it (``idle``, ``mixed``, ``down*``, ...)."""
        return self.command("sinfo", "--noheader", "--nodes", NODE, "-o", "%T").stdout.strip()

    def wait_for_node(self, states: Sequence[str] = ("idle",), timeout: float = 30) -> str:
        """Wait until the node is in one of ``states``; return the state. Raises
        :class:`SlurmDidNotStart`, with the end of its log, if a daemon exits meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            for name, process in self._daemons.items():
                if process.poll() is not None:
                    raise SlurmDidNotStart(
                        f"{name} exited ({process.returncode}):\n{self._tail(name)}"
                    )
            # sinfo fails until slurmctld answers.
            sinfo = self.command("sinfo", "--noheader", "--nodes", NODE, "-o", "%T", check=False)
            if (state := sinfo.stdout.strip()) in states:
                return state
            if time.monotonic() > deadline:
                raise SlurmDidNotStart(
                    f"node {NODE} is {state or sinfo.stderr.strip()!r}, not {'/'.join(states)}, "
                    f"after {timeout} s:\n{self._tail('slurmctld')}\n{self._tail('slurmd')}"
                )
            time.sleep(0.1)

    def daemon_pids(self) -> dict[str, int]:
        """The process id of each daemon running (``munged``, ``slurmctld``, ``slurmd``)."""
        return {
            name: process.pid for name, process in self._daemons.items() if process.poll() is None
        }

    def kill_slurmd(self) -> None:
        """SIGKILL slurmd alone, as a node failure would: its jobs' processes keep running."""
        process = self._daemons.pop("slurmd")
        process.kill()
        process.wait()

    def start_slurmd(self) -> None:
        """Start slurmd (again); it registers the node, which takes jobs once idle."""
        self._start("slurmd", [_which("slurmd"), "-D", "-N", NODE, "-f", str(self.conf)])

    def _start(self, name: str, command: list[str]) -> None:
        log = self.folder / f"{name}.out"
        with log.open("ab") as out:
            self._daemons[name] = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env()},
                start_new_session=True,
            )

    def _tail(self, name: str) -> str:
        """The end of what a daemon wrote (in the foreground it copies its log there)."""
        path = self.folder / f"{name}.out"
        text = path.read_text(errors="replace") if path.exists() else ""
        return f"--- {path}:\n{text[-3000:]}"

    def stop(self) -> None:
        """Stop the daemons (slurmd first), then kill every slurmstepd and job process left."""
        for name in ("slurmd", "slurmctld", "munged"):
            process = self._daemons.pop(name, None)
            if process is not None:
                stop_group(process)
        deadline = time.monotonic() + 10
        while leftovers := self.processes():
            for pid in leftovers:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"processes of the Slurm cluster in {self.folder} survive: {leftovers}"
                )
            time.sleep(0.05)

    def processes(self) -> set[int]:
        """Every process this cluster's daemons started and let go: each slurmstepd (in a
        session of its own, it outlives slurmd) and every process in its session, and any
        job process that left it. They are found by the ``SLURM_CONF`` they inherit."""
        marker = f"SLURM_CONF={self.conf}".encode()
        stepd_sessions, pids, sessions = set(), set(), {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                environ = (entry / "environ").read_bytes().split(b"\0")
                stat = (entry / "stat").read_text()
            except OSError:  # gone meanwhile, or not ours to read
                continue
            pid, session = int(entry.name), int(stat.rpartition(")")[2].split()[3])
            sessions[pid] = session
            if marker in environ:
                if stat.partition("(")[2].startswith("slurmstepd)"):
                    stepd_sessions.add(session)
                elif any(var.startswith(b"SLURM_JOB_ID=") for var in environ):
                    pids.add(pid)
        pids |= {pid for pid, session in sessions.items() if session in stepd_sessions}
        return pids - {os.getpid()}


def _prepare(folder: Path) -> None:
    for sub in ("munge", "state", "spool"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "munge").chmod(0o700)
    key = folder / "munge" / "key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    gpus = [folder / f"gpu{index}" for index in range(GPUS)]
    for gpu in gpus:
        gpu.unlink(missing_ok=True)
        gpu.symlink_to("/dev/null")
    (folder / "gres.conf").write_text(f"Name=gpu File={','.join(map(str, gpus))}\n")


def _override(config: str, settings: Mapping[str, str]) -> str:
    for name, value in settings.items():
        line = f"{name}={value}"
        config, found = re.subn(rf"^{re.escape(name)}=.*$", line, config, flags=re.MULTILINE)
        if not found:
            config = config.replace("\nNodeName=", f"\n{line}\nNodeName=", 1)
    return config


#: slurmstepd makes a unix socket ``SPOOL/localhost_JOB.STEP`` (sun_path holds 108 bytes,
#: job and step ids up to 10 digits each).
_LONGEST_FOLDER = 108 - len("/spool/localhost_4294967295.4294967295") - 1


@contextmanager
def running(
    folder: Path,
    *,
    cpus: int = 32,
    memory_mb: int = 64000,
    min_job_age: int = 300,
    settings: Mapping[str, str] | None = None,
) -> Iterator[SlurmCluster]:
    """A Slurm cluster keeping all its files under ``folder`` (created), stopped on exit.

    The node has ``cpus`` CPUs and ``memory_mb`` of memory whatever the machine has (tests'
    jobs mostly sleep: on 2 cores, 200 array tasks of ``true`` take about 20 s with 8 CPUs,
    7 s with 32), 2 fake GPUs and the feature ``fast``. squeue forgets a job ``min_job_age``
    seconds after it ends (purges run every few seconds). ``settings`` replace or add lines
    of slurm.conf.
    """
    commands = {name: _which(name) for name in _COMMANDS}
    if len(str(folder.absolute())) > _LONGEST_FOLDER:
        raise ValueError(
            f"{folder} is too long for a Slurm cluster's folder ({_LONGEST_FOLDER} characters "
            "at most: slurmstepd's unix sockets go under it); choose a shorter one"
        )
    folder.mkdir(parents=True, exist_ok=True)
    _prepare(folder)
    ports = _free_ports(2)
    conf = folder / "slurm.conf"
    config = _config(folder, ports, cpus=cpus, memory_mb=memory_mb, min_job_age=min_job_age)
    conf.write_text(_override(config, settings or {}))
    cluster = SlurmCluster(folder, conf, (ports[0], ports[1]))
    munge = folder / "munge"
    try:
        cluster._start(
            "munged",
            [
                commands["munged"],
                "--foreground",
                "--force",
                f"--key-file={munge / 'key'}",
                f"--socket={munge / 'sock'}",
                f"--pid-file={munge / 'munged.pid'}",
                f"--log-file={munge / 'munged.log'}",
                f"--seed-file={munge / 'seed'}",
            ],
        )
        cluster._start("slurmctld", [commands["slurmctld"], "-D", "-f", str(conf)])
        cluster.start_slurmd()
        cluster.wait_for_node()
        yield cluster
    finally:
        cluster.stop()
