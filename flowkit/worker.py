"""``python -m flowkit.worker [--quiet] [--index-from VAR] STORE SPEC-KEY`` (or ``python -m
flowkit.worker SPEC``): run one task from the store alone.

The entry point of every remote executor (Slurm, AWS Batch, ...) and the same code path as
a local task. SPEC-KEY is the key ``Store.put_spec`` gave the task's spec in the store at
STORE; SPEC is a TaskSpec as JSON, a file holding it, or ``-`` for stdin. The task's output
is stored as its log and echoed here (``--quiet``: only stored, for a cluster job whose own
output file would hold a second copy); if the task's process dies without writing its final
record, this writes it. The exit status is the task's (2 if there is no such SPEC-KEY).

With ``--index-from VAR``, SPEC-KEY names a list of spec keys (``Store.put_task_list``: an
array job's, whose elements all run one command) and ``$VAR`` (``AWS_BATCH_JOB_ARRAY_INDEX``)
picks the task. With SPEC-KEY, everything happens in the store at STORE, whatever path the
spec was written through: a shared store may be mounted elsewhere on a cluster's nodes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowkit.store import Store


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    quiet = index_from = None
    while args and args[0] in ("--quiet", "--index-from"):
        if args.pop(0) == "--quiet":
            quiet = True
        elif args and not args[0].startswith("-"):
            index_from = args.pop(0)
        else:
            args = []  # --index-from without its variable: say how to use it
    if len(args) not in (1, 2) or args[0] in ("-h", "--help") or (index_from and len(args) != 2):
        print(__doc__, file=sys.stderr)
        return 2
    from flowkit.executor.forkserver import ForkServer
    from flowkit.store import StoreError, open_store
    from flowkit.task.outcome import final_record
    from flowkit.task.spec import TaskSpec

    store_url = None  # a spec given whole names its store
    if len(args) == 2:
        try:
            store = open_store(args[0])
            key = args[1] if index_from is None else _listed_key(store, args[1], index_from)
            text = _stored_spec(store, key)
        except StoreError as error:
            print(f"error: {error.render()}", file=sys.stderr)
            return 2
        store_url = store.url
    else:
        text = _spec_text(args[0])
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
    server.setup({"store": store_url or spec.store, "code": _code(spec), "echo": not quiet})
    server.fork("task", text, {})
    server.wait_all()
    status = statuses["task"]
    record = final_record(server.store, spec, status)
    return 0 if record.successful else (status if status > 0 else 1)


def _listed_key(store: Store, key: str, variable: str) -> str:
    """The spec key at the index ``$variable`` names in the task list stored under ``key``
    (an array job's: each element runs the same command, and its index picks its task)."""
    from flowkit.store import StoreError

    keys = store.task_list(_stored_key(store, key))
    raw = os.environ.get(variable, "")
    if not raw.isdigit() or int(raw) >= len(keys):
        raise StoreError(
            f"${variable} is {raw!r}, not an index of the {len(keys)} tasks listed under {key}",
            f"run it as an element of the array job it was submitted as (0 to {len(keys) - 1})",
        )
    return keys[int(raw)]


def _spec_text(arg: str) -> str:
    if arg == "-":
        return sys.stdin.read()
    if arg.lstrip().startswith("{"):
        return arg
    return Path(arg).read_text()


def _stored_spec(store: Store, key: str) -> str:
    """The spec stored under ``key``; a key that is malformed or names nothing raises a
    :class:`~flowkit.store.StoreError` saying so (not that the store is damaged)."""
    return store.get_spec(_stored_key(store, key))


def _stored_key(store: Store, key: str) -> str:
    """``key``, if it names something stored: else a :class:`~flowkit.store.StoreError`
    saying that it is malformed or names nothing."""
    from flowkit.store import InvalidKeyError, NotFoundError

    hint = (
        "give the key the executor stored the task's spec under (Store.put_spec), and "
        "the store it used, as this machine reaches it"
    )
    try:
        stored = store.values.has(key)
    except InvalidKeyError:
        raise InvalidKeyError(
            f"'{key}' is not a task spec key (64 hex digits) for the store at {store.url}", hint
        ) from None
    if not stored:
        raise NotFoundError(f"no task spec '{key}' in the store at {store.url}", hint)
    return key


def _code(spec: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(spec.code)


if __name__ == "__main__":
    sys.exit(main())
