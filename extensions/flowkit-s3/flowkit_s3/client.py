"""The boto3 S3 client a backend uses: made on first use, once per process.

A client holds a pool of open connections, which a forked process must not share with its
parent (the local executor forks task processes from a warm worker), so a process forked
after the client was made keeps the client but drops the pooled connections it inherited
(they are the parent's: its copies are closed, the parent's stay open) and opens its own.
Making a new client instead would cost each task ~15 ms of CPU; a client whose HTTP session
cannot be reset that way (another botocore) is made anew from the session, which survives
the fork with its loaded service models.
"""

from __future__ import annotations

import os
import threading
from typing import Any

#: How many times a request is tried in all, unless AWS_MAX_ATTEMPTS (or max_attempts in
#: the AWS profile) says otherwise: throttling (503 SlowDown) and 5xx answers are retried
#: with exponential backoff and full jitter, which botocore's retry modes do.
DEFAULT_ATTEMPTS = 8


class Clients:
    """``clients()`` is this process's S3 client; ``pool`` bounds its open connections (at
    least the transfers' threads, so parallel parts never wait for a connection)."""

    def __init__(self, *, pool: int) -> None:
        self.pool = pool
        self._session: Any = None
        self._client: Any = None
        self._pid = 0
        self._lock = threading.Lock()
        self._lock_pid = os.getpid()

    def __call__(self) -> Any:
        pid = os.getpid()
        if self._pid == pid:
            return self._client
        if self._lock_pid != pid:  # forked: a lock held by a parent's thread stays held
            self._lock, self._lock_pid = threading.Lock(), pid
        with self._lock:
            if self._pid != pid:
                inherited = self._client is not None and _drop_connections(self._client)
                if not inherited:
                    self._client = self._make()
                self._pid = pid
        return self._client

    @property
    def endpoint(self) -> str | None:
        """The endpoint the client talks to, for messages (None before the first request)."""
        return None if self._client is None else str(self._client.meta.endpoint_url)

    def _make(self) -> Any:
        import boto3
        from botocore.config import Config

        if self._session is None:
            self._session = boto3.session.Session()
        settings = self._session._session  # the botocore session: AWS's config chain
        config = Config(
            retries={
                "mode": settings.get_config_variable("retry_mode") or "standard",
                "total_max_attempts": int(
                    settings.get_config_variable("max_attempts") or DEFAULT_ATTEMPTS
                ),
            },
            max_pool_connections=self.pool,
            tcp_keepalive=True,
            user_agent_appid="flowkit",
        )
        return self._session.client("s3", config=config)


def _drop_connections(client: Any) -> bool:
    """Close a forked process's copies of the connections its parent's ``client`` pooled,
    so the client opens its own; False if this botocore keeps them where we cannot reach."""
    session = getattr(getattr(client, "_endpoint", None), "http_session", None)
    close = getattr(session, "close", None)
    if close is None:
        return False
    close()
    return True
