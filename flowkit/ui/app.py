"""The ASGI app: the JSON API's routes, the front end's static files, and every other path
answered with the single page (its script routes by the path, shaped like a pathspec)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from flowkit.ui import (
    artifacts_api,
    cards_api,
    compare_api,
    logs_api,
    run_api,
    runs_api,
    step_api,
    task_api,
)
from flowkit.ui.auth import TokenMiddleware
from flowkit.ui.common import UiContext

STATIC = Path(__file__).parent / "static"


def create_app(
    ui: UiContext, *, token: str | None = None, hosts: Sequence[str] | None = None
) -> Starlette:
    """The UI over ``ui.store``; with ``token``, every request must carry it; with ``hosts``,
    a request naming another host in its ``Host`` header answers 400 (a page of another
    site that rebinds its name to 127.0.0.1 must not read a UI that asks no token)."""
    routes: list[BaseRoute] = [
        *runs_api.routes,
        *compare_api.routes,
        *run_api.routes,
        *step_api.routes,
        *task_api.routes,
        *logs_api.routes,
        *artifacts_api.routes,
        *cards_api.routes,
        Route("/api/{rest:path}", _unknown_api),
        Mount("/-/static", StaticFiles(directory=STATIC), name="static"),
        Route("/{rest:path}", _page),
    ]
    app = Starlette(routes=routes)
    app.state.ui = ui
    if token is not None:
        app.add_middleware(TokenMiddleware, token=token)
    if hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(hosts))
    return app


def _unknown_api(request: Request) -> Response:
    return JSONResponse(
        {"error": f"no API endpoint {request.url.path}", "hint": "see docs/ui.md for the API"},
        status_code=404,
    )


def _page(request: Request) -> Response:
    # every page is the one document: its script reads the path and asks the API
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})
