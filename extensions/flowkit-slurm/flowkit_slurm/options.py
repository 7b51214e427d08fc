"""What a step asks of Slurm: ``@slurm(...)`` options and ``@resources`` as ``sbatch`` flags.

``@slurm`` (or ``--with slurm:ARG=VALUE,...``) takes:

=============  ==============================================================================
partition      ``--partition``
account        ``--account``
qos            ``--qos``
time           ``--time``: minutes (a number) or Slurm's own form (``"2:00:00"``, ``"1-0"``);
               without it, a step with ``@timeout`` gets its timeout plus a margin, so that
               flowkit's own kill comes first and Slurm's limit is only a backstop
scheduler_time with ``--detach``: the time limit of the scheduler's own job (default: the
               partition's); the scheduler's job takes only this, partition, account and qos
constraint     ``--constraint`` (node features: ``"a100&ib"``)
extra          more ``sbatch`` arguments, as a list (``["--exclusive", "--nice=10"]``) or
               one string split like a shell would
python         the interpreter on the nodes (default: this one, ``sys.executable``: the same
               virtual environment on a shared file system is the common case)
setup          shell lines run before it, to make the environment (``"module load
               python/3.11"``, ``"source /shared/venv/bin/activate"``): a string or a
               list; one that fails stops the job (the task's error says which)
store          the store's URL as the nodes reach it, when they mount it elsewhere
output_dir     where Slurm's own output files go (default: ``$XDG_CACHE_HOME/flowkit/slurm``)
gpu_flag       how GPUs are asked for: ``"gres"`` (``--gres=gpu:N``, the default) or
               ``"gpus"`` (``--gpus=N``)
gpu_type       a GPU type for either form (``"a100"``: ``--gres=gpu:a100:N``)
=============  ==============================================================================

``@resources(cpu=, memory=, gpu=, disk=)`` become ``--cpus-per-task`` (whole CPUs, rounded
up), ``--mem`` (MB), the GPU flag above, and ``--tmp`` (MB).
"""

from __future__ import annotations

import math
import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowkit.executor.base import Request

#: A job's time limit this far past the step's ``@timeout``: flowkit kills the task first,
#: and records why; Slurm's limit only catches a scheduler that died meanwhile.
TIMEOUT_MARGIN_SECONDS = 120

_STRINGS = ("partition", "account", "qos", "constraint", "python", "store", "output_dir")
_TIMES = ("time", "scheduler_time")
_GPU_FLAGS = ("gres", "gpus")
KNOWN = (*_STRINGS, *_TIMES, "extra", "setup", "gpu_flag", "gpu_type")


class OptionError(ValueError):
    """An ``@slurm`` option that is not one, or has a value of the wrong kind."""


@dataclass(frozen=True)
class SlurmOptions:
    """The ``@slurm`` options of a step, checked."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time: str | None = None
    scheduler_time: str | None = None
    constraint: str | None = None
    extra: tuple[str, ...] = ()
    python: str = field(default_factory=lambda: sys.executable)
    setup: tuple[str, ...] = ()
    store: str | None = None
    output_dir: str | None = None
    gpu_flag: str = "gres"
    gpu_type: str | None = None

    @staticmethod
    def of(options: Mapping[str, Any]) -> SlurmOptions:
        """The options given to ``@slurm`` (or ``--with slurm:...``); an unknown name or a
        value of the wrong kind raises :class:`OptionError` saying which."""
        unknown = sorted(set(options) - set(KNOWN))
        if unknown:
            raise OptionError(
                f"@slurm has no option {', '.join(repr(u) for u in unknown)} "
                f"(it takes: {', '.join(sorted(KNOWN))}); give other sbatch flags as "
                "extra=[...]"
            )
        values: dict[str, Any] = {}
        for name in _STRINGS:
            if options.get(name) is not None:
                values[name] = _string(name, options[name])
        for name in _TIMES:
            if options.get(name) is not None:
                values[name] = _time(name, options[name])
        if options.get("extra") is not None:
            values["extra"] = _words("extra", options["extra"])
        if options.get("setup") is not None:
            values["setup"] = _lines(options["setup"])
        if options.get("gpu_flag") is not None:
            flag = _string("gpu_flag", options["gpu_flag"])
            if flag not in _GPU_FLAGS:
                raise OptionError(f"@slurm gpu_flag={flag!r}: use 'gres' or 'gpus'")
            values["gpu_flag"] = flag
        if options.get("gpu_type") is not None:
            values["gpu_type"] = _string("gpu_type", options["gpu_type"])
        return SlurmOptions(**values)

    def sbatch_args(self, request: Request) -> list[str]:
        """The ``sbatch`` flags for a task asking ``request`` (its ``@resources``)."""
        args = [f"--cpus-per-task={max(1, math.ceil(request.cpu))}"]
        if request.memory is not None:
            args.append(f"--mem={math.ceil(float(request.memory))}M")
        if request.gpu:
            kind = f"{self.gpu_type}:" if self.gpu_type else ""
            args.append(
                f"--gres=gpu:{kind}{request.gpu}"
                if self.gpu_flag == "gres"
                else f"--gpus={kind}{request.gpu}"
            )
        if request.disk is not None:
            args.append(f"--tmp={math.ceil(float(request.disk))}M")
        return [*args, *self.placement_args(request.timeout)]

    def placement_args(self, timeout: float | None = None) -> list[str]:
        """Where the job may run and for how long: partition, account, qos, time limit,
        constraint, and the ``extra`` flags last (so they can override any of them)."""
        args = []
        for name in ("partition", "account", "qos", "constraint"):
            value = getattr(self, name)
            if value is not None:
                args.append(f"--{name}={value}")
        time_limit = self.time
        if time_limit is None and timeout is not None:
            time_limit = str(math.ceil((timeout + TIMEOUT_MARGIN_SECONDS) / 60))
        if time_limit is not None:
            args.append(f"--time={time_limit}")
        return [*args, *self.extra]

    def scheduler_args(self) -> list[str]:
        """The flags of a detached run's scheduler job: where it may run and who pays
        (partition, account, qos), and ``scheduler_time`` as its time limit. The tasks' own
        ``time``, ``constraint`` and ``extra`` are theirs: a run-wide ``--with slurm:time=30``
        must not end the scheduler of a run that takes longer."""
        args = [
            f"--{name}={value}"
            for name in ("partition", "account", "qos")
            if (value := getattr(self, name)) is not None
        ]
        if self.scheduler_time is not None:
            args.append(f"--time={self.scheduler_time}")
        return args

    def output_folder(self) -> Path:
        """Where Slurm's output files of this run's jobs go (read only to explain a job that
        died before its task started)."""
        if self.output_dir is not None:
            return Path(self.output_dir).expanduser()
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(cache) / "flowkit" / "slurm"


def _string(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float) or str(value) == "":
        raise OptionError(f"@slurm {name}={value!r}: give a non-empty string")
    return str(value)


def _time(name: str, value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value <= 0:
            raise OptionError(f"@slurm {name}={value!r}: give a positive number of minutes")
        return str(math.ceil(value))
    return _string(name, value)


def _words(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(shlex.split(value))
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise OptionError(f"@slurm {name}={value!r}: give a list of strings or one string")


def _lines(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise OptionError(f"@slurm setup={value!r}: give a shell command or a list of them")
