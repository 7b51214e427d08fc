"""Slurm's own commands, the one way flowkit talks to a cluster: ``sbatch`` to submit,
``squeue`` to ask about many jobs in one call, ``scancel`` to stop them.

Nothing here needs accounting (``sacct`` fails where there is no slurmdbd, common on small
clusters): ``squeue --states=all`` knows a finished job until the controller forgets it
(``MinJobAge``), and by then the store has long said how it ended.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from flowkit.errors import FlowkitError

#: Job states after which a job runs no more (``squeue``'s long names).
ENDED_STATES = frozenset(
    {
        "BOOT_FAIL",
        "CANCELLED",
        "COMPLETED",
        "DEADLINE",
        "FAILED",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "PREEMPTED",
        "REVOKED",
        "SPECIAL_EXIT",
        "TIMEOUT",
    }
)
#: Job states of a job still waiting for a node (anything else has started).
WAITING_STATES = frozenset(
    {"PENDING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESV_DEL_HOLD", "SUSPENDED"}
)
#: Variables of an enclosing job's environment that the jobs it submits must not inherit
#: (a detached scheduler is itself a job): all ``SLURM_*`` but these.
_KEPT_SLURM_VARIABLES = frozenset({"SLURM_CONF", "SLURM_CLUSTERS"})
#: Slurm's default ``MaxArraySize``.
DEFAULT_MAX_ARRAY_SIZE = 1001
#: How long ``squeue`` and ``scancel`` may take before the controller counts as not
#: answering (the scheduler asks again), and ``sbatch`` before it counts as down.
COMMAND_TIMEOUT, SUBMIT_TIMEOUT = 15.0, 60.0


class SlurmError(FlowkitError):
    """A Slurm command could not run, or refused what it was asked."""


@dataclass(frozen=True)
class JobState:
    """What ``squeue`` says of one job (or array element): ``state`` (``RUNNING``) and
    ``reason`` (``NonZeroExitCode``, ``None``)."""

    state: str
    reason: str

    @property
    def ended(self) -> bool:
        return self.state in ENDED_STATES

    @property
    def started(self) -> bool:
        """Whether it left the queue (it may have ended since)."""
        return self.state not in WAITING_STATES

    @property
    def running(self) -> bool:
        return self.started and not self.ended


class Slurm:
    """Runs Slurm's commands with this process's environment (``SLURM_CONF`` and all),
    less what an enclosing job set."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.env = {
            k: v for k, v in env.items() if not k.startswith("SLURM_") or k in _KEPT_SLURM_VARIABLES
        }

    def require(self) -> None:
        """Raise :class:`SlurmError` unless Slurm's commands are on this machine's PATH."""
        for command in ("sbatch", "squeue", "scancel"):
            if shutil.which(command, path=self.env.get("PATH")) is None:
                raise _missing(command)

    def submit(self, args: list[str], script: str, *, name: str) -> str:
        """``sbatch ARGS`` of ``script`` as the job ``name``; the job's id. Raises
        :class:`SlurmError` with sbatch's own words when it refuses.

        The job carries a token of its own (``--comment``, before ``args``, so a comment the
        user gives wins): when sbatch gets no answer, or fails after the controller may have
        taken the job, the token finds that job instead of submitting a second one."""
        token = f"flowkit-batch:{uuid.uuid4().hex}"
        argv = ["sbatch", "--parsable", f"--job-name={name}", f"--comment={token}", *args]
        done = self._run(argv, script, timeout=SUBMIT_TIMEOUT)
        if done is not None and done.returncode == 0:
            return done.stdout.strip().split(";")[0]
        taken = self._taken(name, token)
        if taken is not None:
            return taken
        if done is None:
            raise _no_answer("sbatch", SUBMIT_TIMEOUT)
        raise SlurmError(
            f"sbatch refused the job: {_said(done)}",
            "fix the @slurm options or @resources it names (sbatch --help lists flags)",
        )

    def _taken(self, name: str, token: str) -> str | None:
        """The id of the job named ``name`` that carries ``token``, if the controller took
        one."""
        argv = ["squeue", f"--name={name}", "--states=all", "--noheader", "--format=%F|%k"]
        done = self._run(argv, None)
        for line in done.stdout.splitlines() if done is not None else ():
            job_id, _, comment = line.strip().partition("|")
            if comment == token:
                return job_id
        return None

    def refusal(self, args: list[str]) -> str | None:
        """Why sbatch would refuse a job with ``args`` (``sbatch --test-only``: nothing is
        submitted), or None if it would take it."""
        done = self._answered(["sbatch", "--test-only", *args], "#!/bin/sh\ntrue\n")
        return None if done.returncode == 0 else _said(done)

    def states(self, job_ids: Iterable[str]) -> dict[str, JobState] | None:
        """What squeue knows of ``job_ids`` (an array's id covers its elements, each
        reported as ``ID_INDEX``), in one call; a job it no longer knows is absent. None
        when squeue could not answer (the controller is busy or down): ask again later."""
        ids = sorted(set(job_ids))
        if not ids:
            return {}
        argv = ["squeue", f"--jobs={','.join(ids)}", "--array", "--states=all", "--noheader"]
        done = self._run([*argv, "--format=%i|%T|%r"], None)
        if done is None:
            return None
        if done.returncode != 0:
            # every id is unknown (each was purged since it ended): say so, not "no answer"
            return {} if "Invalid job id" in done.stderr else None
        found = {}
        for line in done.stdout.splitlines():
            parts = line.strip().split("|")
            if len(parts) == 3:
                found[parts[0]] = JobState(parts[1], parts[2])
        return found

    def max_array_size(self) -> int:
        """The cluster's ``MaxArraySize``: an array's indexes must stay below it (1001 when
        ``scontrol`` does not say)."""
        done = self._run(["scontrol", "show", "config"], None)
        for line in (done.stdout if done is not None and done.returncode == 0 else "").splitlines():
            name, _, value = line.partition("=")
            if name.strip() == "MaxArraySize" and value.strip().isdigit():
                return int(value.strip())
        return DEFAULT_MAX_ARRAY_SIZE

    def cancel(self, job_ids: Iterable[str]) -> bool:
        """Kill every job (or array element) of ``job_ids`` at once, not politely (``scancel
        --signal=KILL --full``: the running ones and all their processes), then cancel them
        (``scancel``: the pending ones too), each one call. A job that already ended is no
        error; False if the controller did not answer or refused: ask again."""
        ids = sorted(set(job_ids))
        if not ids:
            return True
        self._run(["scancel", "--signal=KILL", "--full", *ids], None)
        done = self._run(["scancel", *ids], None)
        return done is not None and (
            done.returncode == 0 or all(_gone(line) for line in done.stderr.splitlines())
        )

    def _run(
        self, argv: list[str], stdin: str | None, *, timeout: float = COMMAND_TIMEOUT
    ) -> subprocess.CompletedProcess[str] | None:
        """Run one command: what it did, or None if the controller did not answer in
        ``timeout`` seconds. A missing command raises :class:`SlurmError`."""
        try:
            return subprocess.run(
                argv,
                input=stdin,
                capture_output=True,
                text=True,
                env=self.env,
                timeout=timeout,
            )
        except FileNotFoundError:
            raise _missing(argv[0]) from None
        except subprocess.TimeoutExpired:
            return None

    def _answered(self, argv: list[str], stdin: str | None) -> subprocess.CompletedProcess[str]:
        """:meth:`_run`, raising :class:`SlurmError` if the controller did not answer."""
        done = self._run(argv, stdin, timeout=SUBMIT_TIMEOUT)
        if done is None:
            raise _no_answer(argv[0], SUBMIT_TIMEOUT)
        return done


def _gone(line: str) -> bool:
    """Whether a line scancel printed says only that the job had ended already."""
    return not line.strip() or any(
        words in line for words in ("Invalid job id", "already completing or completed")
    )


def _no_answer(command: str, timeout: float) -> SlurmError:
    return SlurmError(
        f"'{command}' got no answer from the Slurm controller in {timeout:g}s",
        "check that slurmctld is up (scontrol ping), then resume the run",
    )


def _missing(command: str) -> SlurmError:
    return SlurmError(
        f"'{command}' is not on this machine's PATH, so no Slurm job can be run from here",
        "run flowkit where Slurm's commands work (a login node), or install Slurm's client "
        "and point SLURM_CONF at the cluster's slurm.conf",
    )


def _said(done: subprocess.CompletedProcess[str]) -> str:
    text = " ".join((done.stderr or done.stdout).split())
    return text.removeprefix("sbatch: error: ") or f"exit status {done.returncode}"
