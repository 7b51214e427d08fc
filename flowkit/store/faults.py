"""A test hook in the local backend's write path, so fault tests can land a failure mid-write.

``FLOWKIT_TEST_STORE_FAULT=ACTION:KEY_PART[:MARKER]`` makes the next write of a key that
contains ``KEY_PART`` stop after its first part is in the temporary file, and then:

- ``kill``: SIGKILL the writing process (a task, the warm worker or the scheduler);
- ``kill-parent``: SIGKILL the writer's parent (a task's warm worker), then the writer;
- ``enospc``: raise ``OSError(ENOSPC)``, as a full disk would.

With ``MARKER`` (a file path), the fault fires once: only for the process that creates the
marker. The variable is read on each write, never at import; unset, the hook costs one
environment lookup.
"""

from __future__ import annotations

import errno
import os
import signal

ENV = "FLOWKIT_TEST_STORE_FAULT"
ACTIONS = ("kill", "kill-parent", "enospc")


def inject(key: str) -> None:
    """Fire the configured fault if ``key`` matches it (called with a write half done)."""
    setting = os.environ.get(ENV)
    if not setting:
        return
    action, _, rest = setting.partition(":")
    part, _, marker = rest.partition(":")
    if action not in ACTIONS or part not in key:
        return
    if marker:
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            return
    if action == "enospc":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), key)
    if action == "kill-parent":
        os.kill(_warm_worker(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def _warm_worker() -> int:
    """The writer's parent; for a task, the warm worker above the shepherd that leads the
    task's session."""
    parent = os.getppid()
    if os.getsid(0) == parent:
        try:
            with open(f"/proc/{parent}/stat") as fh:
                return int(fh.read().rpartition(")")[2].split()[1])
        except OSError:
            pass
    return parent
