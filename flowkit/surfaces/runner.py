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
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from flowkit.authoring.names import RUN_OPTIONS, RunOption
from flowkit.errors import FlowkitError

if TYPE_CHECKING:
    import subprocess

    from flowkit.client import Run

_BY_KEYWORD = {o.keyword: o for o in RUN_OPTIONS if o.flag}
#: Metaflow's names for flowkit's options (``Runner(decospecs=[...])``, ``resume(step_to_rerun=)``).
ALIASES = {"decospecs": "with_decorators", "with": "with_decorators", "step_to_rerun": "step"}
#: What the Runner passes itself (or, for a preview, cannot return), so a caller may not.
_OWN = {"runner_attribute_file", "dry_run"}
#: Why a runner takes no such option.
NOT_TAKEN = {
    "runner_attribute_file": "the Runner gives it itself",
    "dry_run": "a Runner returns a run, and a dry run starts none; preview with "
    "flowkit.run(flow, reuse=True, dry_run=True)",
}
#: Seconds a run stopped by ``wait(timeout=)`` has to cancel before it is killed.
TERMINATION_GRACE = 5.0


class RunnerError(FlowkitError, RuntimeError):
    """A run the Runner started ended before it said its run id (a bad flow, a bad option),
    or never said it; a ``RuntimeError`` as Metaflow's, carrying the command's output."""


def top_options() -> list[RunOption]:
    """The run options a runner takes for all its runs."""
    return [o for o in _BY_KEYWORD.values() if not o.resume_only and o.keyword not in _OWN]


def _flag(option: RunOption, value: Any) -> list[str]:
    flag = f"--{option.flag}"
    if option.kind == "flag":
        return [flag] if value else []
    if value is None:
        return []
    if option.kind == "multiple":
        values = [value] if isinstance(value, str) else list(value)
        return [arg for v in values for arg in (flag, str(v))]
    return [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]


def _parameter(name: str, value: Any) -> list[str]:
    if value is None:
        return []
    text = json.dumps(value) if isinstance(value, dict | list | tuple) else str(value)
    return [f"--{name.replace('_', '-')}", text]


def command_line(command: str, top_level: Mapping[str, Any], given: Mapping[str, Any]) -> list[str]:
    """The arguments after ``python flow.py`` for ``command`` (``run`` or ``resume``):
    ``top_level`` are the Runner's own keyword arguments (run options only), ``given`` the
    call's (run options and the flow's parameters)."""
    allowed = [o for o in _BY_KEYWORD.values() if command == "resume" or not o.resume_only]
    options: dict[str, Any] = {}
    for key, value in top_level.items():
        keyword = ALIASES.get(key, key)
        if keyword == "pylint":
            continue  # Metaflow's switch for its pylint pass: flowkit runs none
        if keyword not in {o.keyword for o in top_options()}:
            raise FlowkitError(
                f"Runner(...) has no option {key}={value!r} in flowkit",
                "give Runner the run options "
                f"{', '.join(sorted(o.keyword for o in top_options()))} "
                "(and Metaflow's decospecs); the flow's parameters go to .run(...)",
            )
        options[keyword] = value
    params: dict[str, Any] = {}
    for key, value in given.items():
        keyword = ALIASES.get(key, key)
        option = _BY_KEYWORD.get(keyword)
        if keyword in _OWN or (option is not None and option not in allowed):
            why = NOT_TAKEN.get(keyword, f"{command} has none")
            raise FlowkitError(
                f"{command}() takes no option {key}: {why}",
                f"its options are: {', '.join(sorted(o.keyword for o in allowed))}",
            )
        if option is None:
            params[key] = value
        elif keyword == "tags" and "tags" in options:  # both: the run gets every tag
            options["tags"] = [*_as_list(options["tags"]), *_as_list(value)]
        else:
            options[keyword] = value
    args = [command]
    step = options.pop("step", None)
    for keyword, value in options.items():
        args += _flag(_BY_KEYWORD[keyword], value)
    for name, value in params.items():
        args += _parameter(name, value)
    if step is not None:
        args.append(str(step))
    return args


def _as_list(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value)


class _Process:
    """One ``python flow.py ...`` subprocess: its output copied line by line to files (and,
    with ``show``, to this process's own streams)."""

    def __init__(
        self, args: list[str], env: Mapping[str, str], cwd: str, folder: Path, *, show: bool
    ) -> None:
        import subprocess
        import threading

        self.args = args
        self.timed_out = False
        self.files = {name: folder / f"{name}.log" for name in ("stdout", "stderr")}
        self.popen: subprocess.Popen[bytes] = subprocess.Popen(
            args, env=dict(env), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert self.popen.stdout is not None and self.popen.stderr is not None
        self._copiers = [
            threading.Thread(
                target=_copy, args=(pipe, self.files[name], echo if show else None), daemon=True
            )
            for name, pipe, echo in (
                ("stdout", self.popen.stdout, sys.stdout),
                ("stderr", self.popen.stderr, sys.stderr),
            )
        ]
        for copier in self._copiers:
            copier.start()

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process and for its last output; past ``timeout``, stop it as
        Metaflow does: SIGTERM (the run cancels cleanly), then SIGKILL after a grace."""
        import subprocess

        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.timed_out = True
            self.popen.terminate()
            try:
                self.popen.wait(TERMINATION_GRACE)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        for copier in self._copiers:
            copier.join()
        return self.popen.returncode

    def done(self) -> bool:
        """Whether the process ended and all its output is in the files."""
        return self.popen.poll() is not None and not any(c.is_alive() for c in self._copiers)

    def output(self) -> str:
        return "\n".join(
            f"{name}:\n{path.read_text(encoding='utf-8', errors='replace')}"
            for name, path in self.files.items()
            if path.exists()
        )


def _copy(pipe: IO[bytes], path: Path, echo: IO[str] | None) -> None:
    with path.open("wb") as out:
        for line in iter(pipe.readline, b""):
            out.write(line)
            out.flush()
            if echo is not None:
                echo.write(line.decode("utf-8", errors="replace"))
                echo.flush()
    pipe.close()


class ExecutingRun:
    """A run a :class:`Runner` started: ``run`` is its client ``Run``; ``status``,
    ``returncode``, ``stdout`` and ``stderr`` are its command's, as Metaflow's."""

    def __init__(self, runner: Runner, process: _Process, run: Run) -> None:
        self.runner = runner
        self.process = process
        self.run = run

    def __enter__(self) -> ExecutingRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.runner.cleanup()

    @property
    def returncode(self) -> int | None:
        """The command's exit status; None while it runs."""
        return self.process.popen.poll()

    @property
    def status(self) -> str:
        """``running``, ``successful``, ``failed``, or ``timeout`` (``wait`` killed it)."""
        if self.process.timed_out:
            return "timeout"
        code = self.returncode
        return "running" if code is None else "successful" if code == 0 else "failed"

    @property
    def stdout(self) -> str:
        """What the command printed on stdout so far."""
        return self.process.files["stdout"].read_text(encoding="utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        """What the command printed on stderr so far."""
        return self.process.files["stderr"].read_text(encoding="utf-8", errors="replace")

    async def wait(self, timeout: float | None = None, stream: str | None = None) -> ExecutingRun:
        """Wait for the run to end (killing it past ``timeout`` seconds), printing its
        ``stream`` (``stdout`` or ``stderr``) meanwhile if given; ``await`` it, as Metaflow's."""
        import asyncio

        if stream is None:
            await asyncio.to_thread(self.process.wait, timeout)
            return self
        waiting = asyncio.ensure_future(asyncio.to_thread(self.process.wait, timeout))
        async for _, line in self.stream_log(stream):
            print(line)
        await waiting
        return self

    async def stream_log(
        self, stream: str, position: int | None = None
    ) -> AsyncIterator[tuple[int, str]]:
        """``(position, line)`` for each line of ``stream`` from ``position`` (a byte
        offset a previous call yielded), until the command ends."""
        import asyncio

        if stream not in self.process.files:
            raise FlowkitError(f"no stream {stream!r}", "give 'stdout' or 'stderr'")
        with self.process.files[stream].open("rb") as log:
            log.seek(position or 0)
            while True:
                line = log.readline()
                if line.endswith(b"\n"):
                    yield log.tell(), line.decode("utf-8", errors="replace").rstrip("\n")
                    continue
                log.seek(-len(line), os.SEEK_CUR)
                if self.process.done():
                    rest = log.read()
                    if rest:
                        yield log.tell(), rest.decode("utf-8", errors="replace")
                    return
                await asyncio.sleep(0.05)


class Runner:
    """Run a flow file as Metaflow's ``Runner`` does: ``Runner("flow.py").run(alpha=5)``.

    ``show_output`` echoes the command's output (for ``run``/``resume``), ``env`` adds
    environment variables, ``cwd`` is where the command runs, ``file_read_timeout`` how long to
    wait for the run to say its id. Other keyword arguments are run options for every run
    (``decospecs``/``with_decorators``, ``max_workers``, ``tags``, ``store``, ...). ``profile``
    (a Metaflow profile) has no flowkit counterpart and is refused.

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
        process = _Process(args, self.env_vars, self.cwd, Path(folder), show=show)
        said = _await_file(attributes, process, self.file_read_timeout)
        run = Run(
            f"{said['flow_name']}/{said['run_id']}", store=said["store"], _namespace_check=False
        )
        return ExecutingRun(self, process, run)


def _await_file(path: Path, process: _Process, timeout: float) -> dict[str, str]:
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
