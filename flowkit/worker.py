"""``python -m flowkit.worker STORE SPEC-KEY`` (or ``python -m flowkit.worker SPEC``): run
one task from the store alone.

The entry point of every remote executor (Slurm, AWS Batch, ...) and the same code path as
a local task. SPEC-KEY is the key ``Store.put_spec`` gave the task's spec in the store at
STORE; SPEC is a TaskSpec as JSON, a file holding it, or ``-`` for stdin. The task's output
is stored as its log and echoed here; if the task's process dies without writing its final
record, this writes it. The exit status is the task's.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2) or args[0] in ("-h", "--help"):
        print(__doc__, file=sys.stderr)
        return 2
    from flowkit.executor.forkserver import ForkServer
    from flowkit.task.outcome import final_record
    from flowkit.task.spec import TaskSpec

    text = _spec_text(args[0]) if len(args) == 1 else _stored_spec(args[0], args[1])
    spec = TaskSpec.from_json(text)
    statuses: dict[str, int] = {}

    def relay(message: dict[str, Any]) -> None:
        if message["op"] == "log":
            stream = sys.stdout if message["stream"] == "stdout" else sys.stderr
            for line in message["lines"]:
                print(f"[{spec.step}/{spec.task_id}] {line}", file=stream, flush=True)
        elif message["op"] == "exit":
            statuses[message["key"]] = message["status"]

    server = ForkServer(os.dup(1), relay)
    server.setup({"store": spec.store, "code": _code(spec), "echo": True})
    server.fork("task", text, {})
    server.wait_all()
    status = statuses["task"]
    record = final_record(server.store, spec, status)
    return 0 if record.successful else (status if status > 0 else 1)


def _spec_text(arg: str) -> str:
    if arg == "-":
        return sys.stdin.read()
    if arg.lstrip().startswith("{"):
        return arg
    return Path(arg).read_text()


def _stored_spec(store_url: str, key: str) -> str:
    from flowkit.store import open_store

    return open_store(store_url).get_spec(key)


def _code(spec: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(spec.code)


if __name__ == "__main__":
    sys.exit(main())
