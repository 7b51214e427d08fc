"""A process forked after the backend made its client (a task forked from a warm worker)
keeps the client but never shares a connection with its parent."""

from __future__ import annotations

import os
import threading

from flowkit_s3.backend import S3Backend


def _reads_its_own(backend: S3Backend, who: str, rounds: int) -> bool:
    """Write and read back keys of its own, many times: a connection shared with another
    process would hand it the other's answers sooner or later."""
    for n in range(rounds):
        data = f"{who} {n} ".encode() * (n + 1)
        backend.put(f"{who}/{n}", [data])
        if backend.get(f"{who}/{n}") != data:
            return False
    return True


def test_a_forked_process_uses_connections_of_its_own(s3_url: str) -> None:
    backend = S3Backend(s3_url)
    backend.put("before", [b"parent"])  # the parent now has a pooled connection
    parent_client = backend._clients()
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status, never return into pytest
        status = 1
        try:
            same = backend._clients() is parent_client  # kept: no new client per task
            ok = _reads_its_own(backend, "child", 40) and backend.get("before") == b"parent"
            status = 0 if same and ok else 2
        finally:
            os._exit(status)
    results: list[bool] = []
    worker = threading.Thread(target=lambda: results.append(_reads_its_own(backend, "parent", 40)))
    worker.start()
    worker.join()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert results == [True]
    assert backend._clients() is parent_client and backend.get("child/39").startswith(b"child 39")
