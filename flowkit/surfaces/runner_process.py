"""The process a :class:`~flowkit.surfaces.runner.Runner` starts (``python flow.py ...``, its
output copied to files as it comes) and the :class:`ExecutingRun` it returns for it."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING

from flowkit.errors import FlowkitError

if TYPE_CHECKING:
    import subprocess

    from flowkit.client import Run
    from flowkit.surfaces.runner import Runner

#: Seconds a run stopped by ``wait(timeout=)`` has to cancel before it is killed.
TERMINATION_GRACE = 5.0


class RunProcess:
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

    def __init__(self, runner: Runner, process: RunProcess, run: Run) -> None:
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
