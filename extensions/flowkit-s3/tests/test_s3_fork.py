"""A process forked after the backend made its client (a task forked from a warm worker)
gets a client, and connections, of its own."""

from __future__ import annotations

import os

from flowkit_s3.backend import S3Backend


def test_a_forked_process_makes_its_own_client(s3_url: str) -> None:
    backend = S3Backend(s3_url)
    backend.put("before", [b"parent"])
    parent_client = backend._clients()
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status, never return into pytest
        status = 1
        try:
            own = backend._clients() is not parent_client
            backend.put("child", [b"child"])
            status = 0 if own and backend.get("before") == b"parent" else 2
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert backend._clients() is parent_client  # the parent's is untouched, and works
    assert backend.get("child") == b"child"
