"""Serving the UI: bind, say where, serve until Ctrl-C or SIGTERM, stop cleanly.

The socket is bound here (not by uvicorn) so the address printed is the real one, port 0
included, and is printed only once the server listens.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import sys
import threading
import webbrowser
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from urllib.parse import quote

import uvicorn

from flowkit.errors import FlowkitError
from flowkit.fastdata import dataclass
from flowkit.store import Store
from flowkit.store.cached import cached
from flowkit.store.errors import NotFoundError
from flowkit.ui.app import create_app
from flowkit.ui.common import UiContext

#: Addresses only this machine reaches: no token is needed there.
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
#: The Host header names a UI without a token answers (an IPv6 address comes in brackets).
HOST_NAMES = ("127.0.0.1", "localhost", "[::1]")
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class UiOptions:
    """What ``flowkit ui`` was asked for."""

    host: str = "127.0.0.1"
    port: int = 8808
    token: str | None = None
    writable: bool = False
    browser: bool = True


def check_store(store: Store) -> None:
    """A local store must exist before the UI serves it (a mistyped path would show an empty
    UI); a remote one is found out on the first page."""
    if "://" not in store.url and not os.path.isdir(store.url):
        raise NotFoundError(
            f"there is no store at {store.url}",
            "give the folder of an existing store with --store (or FLOWKIT_STORE), "
            "or run a flow first",
        )


def token_for(options: UiOptions) -> str | None:
    """The token requests must carry: the one given, or one made up for an address other
    machines reach; None on the loopback address without one."""
    if options.token:
        return options.token
    if options.host in LOOPBACK:
        return None
    return secrets.token_urlsafe(24)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free one)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise FlowkitError(
            f"cannot listen on {host}: {exc}", "give --host an address of this machine"
        ) from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise FlowkitError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            "choose another port with --port (0: any free port)",
        ) from None
    return sock


def address(host: str, port: int, token: str | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    query = f"?token={quote(token, safe='')}" if token else ""
    return f"http://{shown}:{port}/{query}"


def serve(store: Store, options: UiOptions, say: Callable[[str], None]) -> None:
    """Serve ``store`` until Ctrl-C or SIGTERM; ``say`` prints the address once listening."""
    check_store(store)
    token = token_for(options)
    # without a token, only requests that name this machine by a loopback name (DNS rebinding)
    hosts = HOST_NAMES if token is None else None
    app = create_app(UiContext(cached(store), writable=options.writable), token=token, hosts=hosts)
    sock = bind(options.host, options.port)
    port = sock.getsockname()[1]
    url = address(options.host, port, token)
    mode = "tag edits allowed" if options.writable else "read-only"
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    say(f"flowkit ui: {url}  (store: {store.url}, {mode})")
    if options.browser and has_display():
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    with _quiet_stop_signals():
        server.run(sockets=[sock])
    sock.close()


def has_display() -> bool:
    """Whether a browser could open a window here."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@contextmanager
def _quiet_stop_signals() -> Iterator[None]:
    """While uvicorn serves, Ctrl-C and SIGTERM stop it; uvicorn raises the signal again once
    it stopped, which must then end the command with status 0, not a KeyboardInterrupt or a
    death by SIGTERM (signals reach the main thread only: elsewhere there is nothing to do)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {sig: signal.signal(sig, _ignore) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def _ignore(sig: int, frame: FrameType | None) -> None:
    """uvicorn already stopped: nothing more to do."""
