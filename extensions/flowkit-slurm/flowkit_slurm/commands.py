"""Slurm's own commands, the one way flowkit talks to a cluster: ``sbatch`` to submit,
``squeue`` to ask about many jobs in one call, ``scancel`` to stop them. Each call is
counted (:attr:`Slurm.calls`), so a benchmark can say what a run cost the controller.

Nothing here needs accounting (``sacct`` fails where there is no slurmdbd, common on small
clusters): ``squeue --states=all`` knows a finished job until the controller forgets it
(``MinJobAge``), and by then the store has long said how it ended.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
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
#: How long one command may take before the controller counts as unreachable.
COMMAND_TIMEOUT = 60.0


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
        return self.state not in WAITING_STATES


class Slurm:
    """Runs Slurm's commands with this process's environment (``SLURM_CONF`` and all),
    less what an enclosing job set."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.env = {
            k: v for k, v in env.items() if not k.startswith("SLURM_") or k in _KEPT_SLURM_VARIABLES
        }
        self.calls: Counter[str] = Counter()

    def require(self) -> None:
        """Raise :class:`SlurmError` unless Slurm's commands are on this machine's PATH."""
        for command in ("sbatch", "squeue", "scancel"):
            if shutil.which(command, path=self.env.get("PATH")) is None:
                raise _missing(command)

    def submit(self, args: list[str], script: str) -> str:
        """``sbatch ARGS`` of ``script``; the job's id. Raises :class:`SlurmError` with
        sbatch's own words when it refuses."""
        done = self._answered(["sbatch", "--parsable", *args], script)
        if done.returncode != 0:
            raise SlurmError(
                f"sbatch refused the job: {_said(done)}",
                "fix the @slurm options or @resources it names (sbatch --help lists flags)",
            )
        return done.stdout.strip().split(";")[0]

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
        """``scancel`` every job (or array element) of ``job_ids`` in one call (one that
        already ended is no error); False if the controller did not answer."""
        ids = sorted(set(job_ids))
        return not ids or self._run(["scancel", *ids], None) is not None

    def _run(self, argv: list[str], stdin: str | None) -> subprocess.CompletedProcess[str] | None:
        """Run one command: what it did, or None if the controller did not answer in time.
        A missing command raises :class:`SlurmError`."""
        self.calls[argv[0]] += 1
        try:
            return subprocess.run(
                argv,
                input=stdin,
                capture_output=True,
                text=True,
                env=self.env,
                timeout=COMMAND_TIMEOUT,
            )
        except FileNotFoundError:
            raise _missing(argv[0]) from None
        except subprocess.TimeoutExpired:
            return None

    def _answered(self, argv: list[str], stdin: str | None) -> subprocess.CompletedProcess[str]:
        """:meth:`_run`, raising :class:`SlurmError` if the controller did not answer."""
        done = self._run(argv, stdin)
        if done is None:
            raise SlurmError(
                f"'{argv[0]}' got no answer from the Slurm controller in {COMMAND_TIMEOUT:g}s",
                "check that slurmctld is up (scontrol ping), then resume the run",
            )
        return done


def _missing(command: str) -> SlurmError:
    return SlurmError(
        f"'{command}' is not on this machine's PATH, so no Slurm job can be run from here",
        "run flowkit where Slurm's commands work (a login node), or install Slurm's client "
        "and point SLURM_CONF at the cluster's slurm.conf",
    )


def _said(done: subprocess.CompletedProcess[str]) -> str:
    text = " ".join((done.stderr or done.stdout).split())
    return text.removeprefix("sbatch: error: ") or f"exit status {done.returncode}"
