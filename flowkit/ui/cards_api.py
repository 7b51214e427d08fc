"""A task's ``@card`` reports: ``GET .../TASK/cards/N`` serves the N-th card's HTML page (the
task API lists them). A card is HTML a step wrote, with its own scripts: it is served
sandboxed (a unique origin), so it can draw itself but never read this UI's pages, token
cookie or API."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from flowkit.ui.attempts import all_attempts
from flowkit.ui.common import ApiError, context, handler

#: A card may run its scripts, in an origin of its own: no cookies, no same-origin requests.
CARD_HEADERS = {
    "Content-Security-Policy": "sandbox allow-scripts allow-popups",
    "X-Content-Type-Options": "nosniff",
}


def card(request: Request) -> Response:
    store = context(request).store
    _, record = all_attempts(store, request)
    raw = request.path_params["index"]
    index = int(raw) if raw.isdecimal() else -1
    if not 0 <= index < len(record.cards):
        raise ApiError(
            404,
            f"task {record.pathspec} (attempt {record.attempt}) has no card {raw!r}",
            f"it has {len(record.cards)} card(s), numbered from 0 in the task API's 'cards'",
        )
    ref = record.cards[index]
    html = store.values.load(ref.digest, owner=f"the {ref.type} card of {record.pathspec}")
    return HTMLResponse(str(html), headers=CARD_HEADERS)


routes: list[BaseRoute] = [
    Route(
        "/api/runs/{flow}/{run_id}/{step}/{task_id}/cards/{index}", handler(card), methods=["GET"]
    ),
]
