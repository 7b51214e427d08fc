"""Handing a line and open descriptors to another process over a Unix socket (``SCM_RIGHTS``):
how the warm worker gives its zygote a task's pipes, how a shepherd gives its task them, and
how a command line gives a parked spare its stdin, stdout and stderr.

Through ``_socket``, the C module under :mod:`socket`: these processes need a socket pair and
``sendmsg``/``recvmsg``, not the ~3 ms of enums and helpers :mod:`socket` would import.
"""

from __future__ import annotations

import _socket
import struct
from typing import Any

#: Bytes read at once.
CHUNK = 65536
_INT = struct.calcsize("i")


def socketpair() -> tuple[Any, Any]:
    """Two connected stream sockets (``_socket.socket`` objects)."""
    return _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)


def send(sock: Any, data: bytes, fds: tuple[int, ...] = ()) -> None:
    """Send all of ``data``; ``fds``, if any, travel with its first byte."""
    view = memoryview(data)
    sent = sock.sendmsg([view], rights(fds) if fds else [])
    while sent < len(view):  # a signal cut the write short: the rest, plainly
        view = view[sent:]
        sent = sock.sendmsg([view])


def peer(sock: Any) -> tuple[int, int]:
    """The pid and uid of the process at the other end of the Unix socket ``sock``
    (``SO_PEERCRED``: as it was when it connected)."""
    creds = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _ = struct.unpack("3i", creds)
    return pid, uid


def rights(fds: tuple[int, ...]) -> list[tuple[int, int, bytes]]:
    """The ancillary data that passes ``fds``."""
    return [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack(f"{len(fds)}i", *fds))]


def receive(sock: Any, max_fds: int) -> tuple[bytes, list[int], bool]:
    """What one read gives: bytes (empty at the end), the descriptors passed with them, and
    whether more descriptors came than ``max_fds`` (cut off: the sender broke the protocol)."""
    data, ancillary, flags, _ = sock.recvmsg(CHUNK, _socket.CMSG_SPACE(max_fds * _INT))
    fds: list[int] = []
    for level, kind, payload in ancillary:
        if (level, kind) == (_socket.SOL_SOCKET, _socket.SCM_RIGHTS):
            count = len(payload) // _INT
            fds.extend(struct.unpack(f"{count}i", payload[: count * _INT]))
    return data, fds, bool(flags & _socket.MSG_CTRUNC)


def receive_line(sock: Any, max_fds: int) -> tuple[bytes, list[int]] | None:
    """One line (without its newline) and the descriptors passed with it; None if the
    other end closes first."""
    data = b""
    fds: list[int] = []
    while not data.endswith(b"\n"):
        chunk, passed, _ = receive(sock, max_fds)
        fds += passed
        if not chunk:
            return None
        data += chunk
    return data[:-1], fds
