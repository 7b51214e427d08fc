"""``Runner``: Metaflow's programmatic runs, for code written for Metaflow. A flow file runs as
``python flow.py run|resume ...`` in a subprocess, which says its run through
``--runner-attribute-file``; the result is an :class:`ExecutingRun` like Metaflow's.

``flowkit.run``/``flowkit.resume`` stay the better way from Python: they run in this
process, raise :class:`~flowkit.RunFailed` with the task's traceback, and need no subprocess.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from flowkit.errors import FlowkitError
from flowkit.surfaces.runner_command import command_line
from flowkit.surfaces.runner_process import ExecutingRun, RunProcess

__all__ = ["ExecutingRun", "Runner", "RunnerError", "command_line"]


class RunnerError(FlowkitError, RuntimeError):
    """A run the Runner started ended before it said its run id (a bad flow, a bad option),
    or never said it; a ``RuntimeError`` as Metaflow's, carrying the command's output."""


class Runner:
    """Run a flow file as Metaflow's ``Runner`` does: ``Runner("flow.py").run(alpha=5)``.

    ``show_output`` echoes the command's output (for ``run``/``resume``), ``env`` adds
    environment variables, ``cwd`` is where the command runs, ``file_read_timeout`` how long to
    wait for the run to say its id. Other keyword arguments are run options for every run
    (``decospecs``/``with_decorators``, ``max_workers``, ``tags``, ``store``, ...) and, as in
    Metaflow, the options that come before the command: ``config=[("cfg", "cfg.json")]``,
    ``config_value=[("cfg", {...})]``, and a ``@project`` flow's ``branch`` and ``production``.
    ``profile`` (a Metaflow profile) has no flowkit counterpart and is refused.

    Prefer ``flowkit.run(flow, **params)``: it runs in this process and returns the client
    ``Run`` (or raises ``RunFailed`` with the failed task's traceback).
    """

    def __init__(
        self,
        flow_file: str | os.PathLike[str],
        show_output: bool = True,
        profile: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        file_read_timeout: int = 3600,
        **kwargs: Any,
    ) -> None:
        if profile is not None:
            raise FlowkitError(
                f"Runner(profile={profile!r}): flowkit has no Metaflow profiles",
                "set what the profile set through env={...} (FLOWKIT_STORE, ...) instead",
            )
        self.flow_file = os.path.abspath(flow_file)
        if not os.path.isfile(self.flow_file):
            raise FlowkitError(
                f"Runner: no flow file at {self.flow_file}",
                "give the path of a flow file (relative to the current directory)",
            )
        self.show_output = show_output
        self.env_vars = {**os.environ, **(env or {})}
        self.cwd = os.fspath(cwd) if cwd is not None else os.getcwd()
        self.file_read_timeout = file_read_timeout
        command_line("run", kwargs, {})  # refuse an unknown option now, not at the first run
        self.top_level_kwargs = kwargs
        self._folders: list[str] = []

    def __enter__(self) -> Runner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()

    async def __aenter__(self) -> Runner:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()

    def run(self, **kwargs: Any) -> ExecutingRun:
        """Run the flow with ``kwargs`` (its parameters and run options) and wait for it to
        end; a run that fails is returned too (``status`` says ``failed``)."""
        return self._finish(self._start("run", kwargs, show=self.show_output))

    def resume(self, **kwargs: Any) -> ExecutingRun:
        """Resume (``origin_run_id=``, ``step_to_rerun=``/``step=``, parameters) and wait."""
        return self._finish(self._start("resume", kwargs, show=self.show_output))

    async def async_run(self, **kwargs: Any) -> ExecutingRun:
        """Start a run and return once it exists, while it goes (``await`` it)."""
        import asyncio

        return await asyncio.to_thread(self._start, "run", kwargs, show=False)

    async def async_resume(self, **kwargs: Any) -> ExecutingRun:
        """Start a resume and return once its run exists, while it goes (``await`` it)."""
        import asyncio

        return await asyncio.to_thread(self._start, "resume", kwargs, show=False)

    def cleanup(self) -> None:
        """Delete the files the runs' output was kept in."""
        import shutil

        while self._folders:
            shutil.rmtree(self._folders.pop(), ignore_errors=True)

    def _finish(self, executing: ExecutingRun) -> ExecutingRun:
        executing.process.wait()
        return executing

    def _start(self, command: str, kwargs: Mapping[str, Any], *, show: bool) -> ExecutingRun:
        import tempfile

        from flowkit.client import Run

        folder = tempfile.mkdtemp(prefix="flowkit-runner-")
        self._folders.append(folder)
        attributes = Path(folder, "run.json")
        args = [
            sys.executable,
            self.flow_file,
            *command_line(command, self.top_level_kwargs, kwargs),
            "--runner-attribute-file",
            str(attributes),
        ]
        process = RunProcess(args, self.env_vars, self.cwd, Path(folder), show=show)
        said = _await_file(attributes, process, self.file_read_timeout)
        run = Run(
            f"{said['flow_name']}/{said['run_id']}", store=said["store"], _namespace_check=False
        )
        return ExecutingRun(self, process, run)


def _await_file(path: Path, process: RunProcess, timeout: float) -> dict[str, str]:
    """What the run wrote to its attribute file (written whole, once its run exists)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.popen.poll() is not None and not path.exists():
            process.wait()
            raise RunnerError(
                f"{' '.join(process.args[1:])} exited with status {process.popen.returncode} "
                f"before its run started\n{process.output()}".rstrip(),
                "fix what its output says, then run again",
            )
        if time.monotonic() > deadline:
            raise RunnerError(
                f"{' '.join(process.args[1:])} did not start a run within {timeout:g} s\n"
                f"{process.output()}".rstrip(),
                "raise file_read_timeout, or look at why the command is slow to start",
            )
        time.sleep(0.05)
    said: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return said
