"""The batch script of a job: one task, an array of tasks, or a detached scheduler.

The script only picks the spec key of its array element and runs ``python -m MODULE ...``:
every other choice travels as ``sbatch`` flags, and every value is quoted. After the
program ends it says its exit status, so that a job that ends without the task's final
record can be explained from its output file (see :func:`exit_status`).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

#: The line the script prints last: the program's exit status.
_TRAILER = "flowkit-slurm: exit status"
_STATUS = re.compile(rf"^{_TRAILER} (\d+)$", re.MULTILINE)


def batch_script(
    python: str,
    setup: Sequence[str],
    module: Sequence[str],
    keys: Sequence[str] = (),
    *,
    title: str = "",
) -> str:
    """``python -m MODULE ARGS... [KEY]``, where KEY is ``keys[SLURM_ARRAY_TASK_ID]`` (the
    only key of a single job) when ``keys`` are given, after the ``setup`` lines."""
    lines = ["#!/bin/bash"]
    if title:
        lines.append(f"# flowkit: {title}")
    command = [shlex.quote(python), "-m", *map(shlex.quote, module)]
    if keys:
        lines += ["keys=(", *map(shlex.quote, keys), ")"]
        lines.append('key="${keys[${SLURM_ARRAY_TASK_ID:-0}]}"')
        command.append('"$key"')
    # A setup that failed would only make the interpreter fail obscurely: a line that fails
    # exits, and the trap (which also catches a line that calls ``exit`` itself) says which.
    if setup:
        said = '"flowkit-slurm: the setup line failed: $flowkit_setup"'
        lines.append(f"trap 'status=$?; echo {said} >&2; echo \"{_TRAILER} $status\" >&2' EXIT")
    for line in setup:
        lines += [f"flowkit_setup={shlex.quote(line)}", f"{{ {line}\n}} || exit"]
    if setup:
        lines.append("trap - EXIT")
    lines += [
        " ".join(command),
        "status=$?",
        f'echo "{_TRAILER} $status" >&2',
        'exit "$status"',
    ]
    return "\n".join(lines) + "\n"


def exit_status(output: str) -> int | None:
    """The exit status the script printed last in ``output``, if it got that far."""
    found = _STATUS.findall(output)
    return int(found[-1]) if found else None


def without_trailer(output: str) -> str:
    """``output`` without the script's own status lines."""
    return _STATUS.sub("", output).strip()
