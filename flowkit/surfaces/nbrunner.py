"""``NBRunner``: Metaflow's notebook runner, for code written for Metaflow. It runs the flow
class in this kernel through :func:`flowkit.run` (no flow file, no subprocess) and returns what
Metaflow's returns: ``nbrun`` the client ``Run``, ``run`` an object with ``run``, ``status``,
``returncode``, ``stdout`` and ``stderr``.

``flowkit.run(FlowClass, **params)`` stays the better call: it raises ``RunFailed`` with the
failed task's traceback where ``nbrun`` returns the failed run.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from flowkit.errors import FlowkitError
from flowkit.surfaces.runner_command import (
    ALIASES,
    NOT_TAKEN,
    TOP_LEVEL,
    api_keywords,
    merge_keywords,
    runner_keyword,
)

if TYPE_CHECKING:
    from flowkit.client import Run


class FinishedRun:
    """A run an :class:`NBRunner` ran to its end: ``run`` is its client ``Run``; ``status``
    (``successful`` or ``failed``), ``returncode`` (0 or 1), and what it printed on
    ``stdout`` and ``stderr``, as Metaflow's ``ExecutingRun``."""

    def __init__(self, run: Run, returncode: int, stdout: str, stderr: str) -> None:
        self.run = run
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    @property
    def status(self) -> str:
        return "successful" if self.returncode == 0 else "failed"

    def __enter__(self) -> FinishedRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pass

    async def wait(self, timeout: float | None = None, stream: str | None = None) -> FinishedRun:
        """The run has ended already: returns at once (Metaflow's ``await wait()``)."""
        return self


class _Tee(io.TextIOBase):
    """Keeps what is written, and passes it on to ``echo`` if given."""

    def __init__(self, echo: IO[str] | None) -> None:
        self.kept = io.StringIO()
        self._echo = echo

    def write(self, text: str) -> int:
        self.kept.write(text)
        if self._echo is not None:
            self._echo.write(text)
        return len(text)

    def flush(self) -> None:
        if self._echo is not None:
            self._echo.flush()


def _api_keywords(kwargs: Mapping[str, Any], *, top_level: bool) -> dict[str, Any]:
    """Metaflow's keyword arguments as :func:`flowkit.run`'s (``decospecs`` ->
    ``with_decorators``, a single tag as a list); at the top level, run options only, and the
    options Metaflow takes before the command (configs, ``branch``, ``production``)."""
    out: dict[str, Any] = {}
    for key, value in kwargs.items():
        keyword = runner_keyword(key, value, "NBRunner") if top_level else ALIASES.get(key, key)
        if keyword is None or keyword == "pylint":
            continue  # Metaflow's switch for its pylint pass: flowkit runs none
        if keyword == "dry_run":
            raise FlowkitError(f"NBRunner takes no option dry_run: {NOT_TAKEN['dry_run']}")
        if top_level and keyword in TOP_LEVEL:
            out |= api_keywords(keyword, value)
            continue
        if keyword in ("tags", "with_decorators") and isinstance(value, str):
            value = [value]
        out[keyword] = value
    return out


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """``env`` set in this process while a run starts and goes (its workers inherit it)."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class NBRunner:
    """Run a flow class from a notebook as Metaflow's ``NBRunner`` does:
    ``NBRunner(MyFlow).nbrun(alpha=5)`` returns the finished run's client ``Run``.

    The run goes in this kernel, through :func:`flowkit.run`. ``show_output=False`` keeps its
    output out of the notebook (``run(...).stdout``/``.stderr`` still have it); ``env`` is set
    while a run goes; other keyword arguments are run options for every run
    (``decospecs``/``with_decorators``, ``max_workers``, ``tags``, ``store``, ...), and
    Metaflow's options before the command: ``config=[("cfg", "cfg.json")]``,
    ``config_value=[("cfg", {...})]``, a ``@project`` flow's ``branch`` and ``production``
    (:func:`flowkit.run`'s ``project_branch`` and ``project_production``).
    ``base_dir`` and ``file_read_timeout`` are accepted for Metaflow's code and unused (no flow
    file is written); ``profile`` is refused.
    """

    def __init__(
        self,
        flow: type,
        show_output: bool = True,
        profile: str | None = None,
        env: Mapping[str, str] | None = None,
        base_dir: str | None = None,
        file_read_timeout: int = 3600,
        **kwargs: Any,
    ) -> None:
        if not isinstance(flow, type):
            raise FlowkitError(
                f"NBRunner takes a flow class, not {type(flow).__name__}",
                "pass the class itself: NBRunner(MyFlow)",
            )
        if profile is not None:
            raise FlowkitError(
                f"NBRunner(profile={profile!r}): flowkit has no Metaflow profiles",
                "set what the profile set through env={...} (FLOWKIT_STORE, ...) instead",
            )
        self.flow = flow
        self.show_output = show_output
        self.env_vars = dict(env or {})
        self.top_level_kwargs = _api_keywords(kwargs, top_level=True)

    def nbrun(self, **kwargs: Any) -> Run:
        """Run the flow with ``kwargs`` to its end; the client ``Run``, failed or not."""
        return self.run(**kwargs).run

    def nbresume(self, **kwargs: Any) -> Run:
        """Resume (``origin_run_id=``, ``step_to_rerun=``) to its end; the client ``Run``."""
        return self.resume(**kwargs).run

    def run(self, **kwargs: Any) -> FinishedRun:
        """Run the flow with ``kwargs`` (parameters and run options) to its end."""
        from flowkit.surfaces.api import run

        return self._go(run, kwargs)

    def resume(self, **kwargs: Any) -> FinishedRun:
        """Resume a run of the flow to its end."""
        from flowkit.surfaces.api import resume

        return self._go(resume, kwargs)

    async def async_run(self, **kwargs: Any) -> FinishedRun:
        """Not offered: an in-kernel run holds the kernel until it ends."""
        raise _no_async("async_run")

    async def async_resume(self, **kwargs: Any) -> FinishedRun:
        """Not offered: an in-kernel run holds the kernel until it ends."""
        raise _no_async("async_resume")

    def cleanup(self) -> None:
        """Nothing to delete: NBRunner writes no flow file."""

    def _go(self, start: Any, kwargs: Mapping[str, Any]) -> FinishedRun:
        from flowkit.runtime.api import RunFailed

        keywords = merge_keywords(self.top_level_kwargs, _api_keywords(kwargs, top_level=False))
        out = _Tee(sys.stdout if self.show_output else None)
        err = _Tee(sys.stderr if self.show_output else None)
        code = 0
        with (
            _environment(self.env_vars),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            try:
                result = start(self.flow, **keywords)
            except RunFailed as failed:  # the view has shown why; Metaflow returns the run
                result, code = failed.run, 1
        return FinishedRun(result, code, out.kept.getvalue(), err.kept.getvalue())


def _no_async(name: str) -> FlowkitError:
    return FlowkitError(
        f"NBRunner.{name} is not offered: NBRunner runs the flow in this kernel",
        "await Runner('flow.py').async_run(...) on a flow file, or call nbrun(...)",
    )
