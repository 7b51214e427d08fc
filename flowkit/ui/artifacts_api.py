"""One artifact of a task attempt: ``GET .../artifacts/NAME`` (its record's type, size and
digest, a client snippet, and a preview of its value: the one endpoint that loads a value)
and ``GET .../artifacts/NAME/raw`` (an image's bytes)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from flowkit.store import Store
from flowkit.store.records import ArtifactRef, TaskRecord
from flowkit.ui import preview
from flowkit.ui.attempts import all_attempts, asked_attempt
from flowkit.ui.common import ApiError, api_url, context, handler
from flowkit.ui.task_api import with_attempt

ARTIFACT = "/api/runs/{flow}/{run_id}/{step}/{task_id}/artifacts/{name}"


def _artifact(store: Store, request: Request) -> tuple[TaskRecord, str, ArtifactRef]:
    _, record = all_attempts(store, request)
    name = request.path_params["name"]
    # a failed attempt's record names what it had, not a result (the task page lists none)
    refs = record.artifacts if record.successful else {}
    ref = refs.get(name)
    if ref is None:
        known = ", ".join(sorted(refs)) or "none"
        raise ApiError(
            404,
            f"task {record.pathspec} attempt {record.attempt} has no artifact '{name}'",
            f"its artifacts are: {known}",
        )
    return record, name, ref


def _load(store: Store, record: TaskRecord, name: str, ref: ArtifactRef) -> Any:
    owner = f"artifact '{name}' of task {record.pathspec}"
    return store.values.load_artifact(ref, owner=owner)


def snippet(store: Store, record: TaskRecord, name: str, attempt: int | None) -> str:
    """The client code that loads the artifact (the step's one task by the step, when it
    has one task, as a user would write it)."""
    if attempt is None:
        tasks = store.records.list_tasks(record.flow, record.run_id, record.step)
        if len(tasks) == 1:
            return f"Flow('{record.flow}')['{record.run_id}']['{record.step}'].task.data.{name}"
        return f"Task('{record.pathspec}').data.{name}"
    return f"Task('{record.pathspec}', attempt={attempt}).data.{name}"


def artifact(request: Request) -> dict[str, Any]:
    store = context(request).store
    record, name, ref = _artifact(store, request)
    attempt = asked_attempt(request)
    raw = with_attempt(
        api_url(record.flow, record.run_id, record.step, record.task_id, "artifacts", name, "raw"),
        attempt,
    )
    if ref.size > preview.LOAD_LIMIT:
        shown = preview.too_large()
    else:
        try:
            value = _load(store, record, name, ref)
        except Exception as exc:  # unpickling runs the value's own code: any error is possible
            shown = preview.load_error(exc)
        else:
            shown = preview.preview(value, raw)
    return {
        "name": name,
        "type": ref.type,
        "size": ref.size,
        "digest": ref.digest,
        "pathspec": f"{record.pathspec}/{name}",
        "snippet": snippet(store, record, name, attempt),
        "preview": shown,
    }


def artifact_raw(request: Request) -> Response:
    store = context(request).store
    record, name, ref = _artifact(store, request)
    not_image = ApiError(
        404,
        f"artifact '{name}' of task {record.pathspec} is not an image",
        "its preview (the same address without /raw) shows what it is",
    )
    if ref.size > preview.LOAD_LIMIT:
        raise ApiError(
            404,
            f"artifact '{name}' of task {record.pathspec} is {ref.size} bytes stored, more "
            f"than the UI loads ({preview.LOAD_LIMIT})",
            f"load it with: {snippet(store, record, name, asked_attempt(request))}",
        )
    try:
        value = _load(store, record, name, ref)
    except Exception as exc:  # as for its preview: any error unpickling it; not an image here
        raise ApiError(
            404,
            f"artifact '{name}' of task {record.pathspec} cannot be loaded here: "
            f"{preview.load_error(exc)['message']}",
            f"load it with: {snippet(store, record, name, asked_attempt(request))}",
        ) from None
    found = preview.image_bytes(value)
    if found is None:
        raise not_image
    data, media_type = found
    return Response(data, media_type=media_type, headers={"Cache-Control": "max-age=3600"})


routes: list[BaseRoute] = [
    Route(ARTIFACT, handler(artifact), methods=["GET"]),
    Route(f"{ARTIFACT}/raw", handler(artifact_raw), methods=["GET"]),
]
