"""The token a UI bound to another address than 127.0.0.1 requires: sent as
``Authorization: Bearer T``, or a cookie a browser gets by opening a page with ``?token=T``
(then sent on to the same address without it, so the token leaves the address bar)."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import parse_qsl, urlencode

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

#: The cookie a browser keeps the token in is this, then a digest of the token: cookies
#: ignore ports, and two UIs on one host must not overwrite each other's.
COOKIE = "flowkit_ui_token"


def cookie_name(token: str) -> str:
    return f"{COOKIE}_{hashlib.sha256(token.encode()).hexdigest()[:12]}"


_PAGE = (
    b"<!doctype html><meta charset=utf-8><title>flowkit ui: token needed</title>"
    b"<p>This flowkit UI needs its token: open the address <code>flowkit ui</code> printed "
    b"(it ends in <code>?token=...</code>).</p>"
)


class TokenMiddleware:
    """Answers 401 to any request that does not carry ``token``."""

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        self.app = app
        self._token = token.encode()
        self._cookie = cookie_name(token)

    def _matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self._token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if self._matches(_bearer(headers.get("authorization"))) or self._matches(
            _cookie(headers.get("cookie"), self._cookie)
        ):
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        given = [v for k, v in query if k == "token"]
        if given and self._matches(given[-1]) and scope["type"] == "http":
            await _redirect_with_cookie(
                scope, [(k, v) for k, v in query if k != "token"], send, self._token.decode()
            )
            return
        await _refuse(scope, send)


def _bearer(header: str | None) -> str | None:
    if header is None:
        return None
    kind, _, value = header.partition(" ")
    return value.strip() if kind.lower() == "bearer" else None


def _cookie(header: str | None, name: str) -> str | None:
    # cookies of every other server on this host come along (they ignore the port); the
    # standard library's SimpleCookie drops them all at one it cannot parse ('x={"a":1}')
    return cookie_parser(header).get(name) if header else None


async def _redirect_with_cookie(
    scope: Scope, query: list[tuple[str, str]], send: Send, token: str
) -> None:
    # one leading slash: '//evil.example/?token=T' must not redirect to another site
    path = "/" + (scope.get("root_path", "") + scope["path"]).lstrip("/")
    location = path + ("?" + urlencode(query) if query else "")
    cookie = f"{cookie_name(token)}={token}; Path=/; HttpOnly; SameSite=Strict"
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [
                (b"location", location.encode("latin-1")),
                (b"set-cookie", cookie.encode("latin-1")),
                (b"content-length", b"0"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})


async def _refuse(scope: Scope, send: Send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    if scope["path"].startswith("/api/") or scope["path"] == "/api":
        body = json.dumps(
            {
                "error": "this flowkit UI requires its token",
                "hint": "send the header 'Authorization: Bearer TOKEN' with the token "
                "flowkit ui printed (or set with --token / FLOWKIT_UI_TOKEN)",
            }
        ).encode()
        kind = b"application/json"
    else:
        body, kind = _PAGE, b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", kind),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b"Bearer"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
