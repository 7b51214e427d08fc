"""The local executor: one warm fork server per run, tasks forked from it in milliseconds."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from flowkit.errors import FlowkitError
from flowkit.executor.base import Exited, Message, Output, Started
from flowkit.task.spec import CodeRef, TaskSpec


class WorkerStartError(FlowkitError):
    """The warm worker could not import the flow."""


class LocalExecutor:
    """Runs tasks as children of a warm worker process on this machine."""

    def __init__(
        self, store_url: str, code: CodeRef, *, echo: bool = True, start_timeout: float = 60.0
    ) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "flowkit.executor.forkserver"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # terminal signals reach the scheduler, which decides
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._in = self._proc.stdin
        self._out = self._proc.stdout.fileno()
        self._buffer = b""
        self._pending: list[dict[str, Any]] = []
        self._send({"store": store_url, "code": asdict(code), "echo": echo})
        self._await_ready(start_timeout)

    def _send(self, message: dict[str, Any]) -> None:
        self._in.write((json.dumps(message, separators=(",", ":")) + "\n").encode())
        self._in.flush()

    def _await_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for message in self._read(max(0.0, deadline - time.monotonic())):
                if message["op"] == "ready":
                    return
                if message["op"] == "error":
                    self.close()
                    raise WorkerStartError(
                        f"the worker could not load the flow: {message['type']}: "
                        f"{message['message']}\n{message['traceback']}".rstrip(),
                        "fix the error above; it happens when the flow's module is imported",
                    )
                self._pending.append(message)
            if time.monotonic() >= deadline or self._proc.poll() is not None:
                self.close()
                raise WorkerStartError(
                    "the warm worker did not start",
                    "see the output above; run 'python -m flowkit.executor.forkserver' to debug",
                )

    def _read(self, timeout: float) -> list[dict[str, Any]]:
        readable, _, _ = select.select([self._out], [], [], timeout)
        if not readable:
            return []
        data = os.read(self._out, 1 << 16)
        if not data:
            return []
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]

    def submit(self, key: str, spec: TaskSpec, env: Mapping[str, str]) -> None:
        self._send({"op": "run", "key": key, "spec": spec.to_json(), "env": dict(env)})

    def poll(self, timeout: float) -> list[Message]:
        raw, self._pending = self._pending, []
        raw += self._read(0.0 if raw else timeout)
        out: list[Message] = []
        for message in raw:
            op = message["op"]
            if op == "started":
                out.append(Started(message["key"], message["pid"]))
            elif op == "log":
                out.append(Output(message["key"], message["stream"], tuple(message["lines"])))
            elif op == "exit":
                out.append(Exited(message["key"], message["status"]))
        return out

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def cancel(self, key: str) -> None:
        self._send({"op": "cancel", "key": key})

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                self._send({"op": "shutdown"})
                self._in.close()
            except (BrokenPipeError, ValueError):
                pass
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def drain(self, timeout: float) -> list[Message]:
        """Messages until the worker has exited or ``timeout`` passes (after a shutdown)."""
        deadline = time.monotonic() + timeout
        out: list[Message] = []
        while time.monotonic() < deadline:
            got = self.poll(0.05)
            out += got
            if not got and not self.alive:
                break
        return out
