"""A resume's origin run: which run it is (the most recent one by default), what it says of
it, and the parameter and config values it stored, which the resume keeps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flowkit.errors import FlowkitError
from flowkit.runtime.drive import end_unstarted

if TYPE_CHECKING:
    from flowkit.graph.model import FlowGraph
    from flowkit.store import RunRecord, Store


def pick_origin(store: Store, flow: str, run_id: str) -> RunRecord | None:
    """The run a resume starts from: ``run_id``, or ``flow``'s most recent run when it is
    empty (None: the flow has no run). Picked once per resume: its configs shape the flow
    (:func:`origin_configs`), its tasks are what the plan clones (:func:`find_origin`)."""
    if run_id:
        return store.records.get_run(flow, run_id)
    return next(store.records.iter_runs(flow), None)


def find_origin(store: Store, graph: FlowGraph, picked: RunRecord | None) -> RunRecord:
    """The run to resume, as :func:`pick_origin` picked it; fails if the flow had none."""
    if picked is None:
        raise FlowkitError(
            f"{graph.name} has no run to resume in the store at {store.url}",
            "run it first (python flow.py run), or pass --store where its runs are",
        )
    return picked


def defaulted_origin(origin: RunRecord) -> str:
    """What a resume says of the origin it took for the user: which run, whose, and when."""
    from datetime import UTC, datetime

    when = datetime.fromtimestamp(origin.created_at, tz=UTC)
    return (
        f"{origin.flow}/{origin.run_id} (the most recent run, by {origin.user or 'an unknown user'}"
        f", {when:%Y-%m-%d %H:%M:%S} UTC)"
    )


def check_origin_kept(store: Store, record: RunRecord, origin: RunRecord) -> None:
    """Fail the resume ``record`` cleanly if a gc deleted its origin while it started.

    gc deletes a run's ``run.json``, then looks for runs created since that name it as their
    origin (and writes it back for them); a resume writes its own ``run.json``, then checks
    that its origin's is still there. Whichever comes second sees the other.
    """
    from flowkit.store import NotFoundError

    try:
        store.records.get_run(origin.flow, origin.run_id)
    except NotFoundError:
        error = FlowkitError(
            f"flowkit gc deleted run {origin.flow}/{origin.run_id} while this resume of it "
            f"was starting (as {record.flow}/{record.run_id}): nothing ran",
            "resume from a run that is still there (--origin-run-id; flowkit runs "
            f"{origin.flow} lists them), or start a new run",
        )
        end_unstarted(store, record, error)
        raise error from None


def origin_configs(flow_cls: type, store: Store, origin: RunRecord | None) -> dict[str, Any] | None:
    """The configs of the run a resume starts from (:func:`pick_origin`), as it stored them
    (None: no such run yet, which the resume reports once it looks for its origin)."""
    return None if origin is None else stored_configs(flow_cls, store, origin.parameter_digests)


def stored_configs(flow_cls: type, store: Store, digests: Mapping[str, str]) -> dict[str, Any]:
    """The config values a run stored (``digests``: attribute -> blob), by attribute."""
    from flowkit.authoring.config import configs_of

    attrs = [str(c.attr) for c in configs_of(flow_cls)]
    return {
        attr: store.values.load(digests[attr], owner=f"config '{attr}'")
        for attr in attrs
        if attr in digests
    }


def origin_parameters(store: Store, origin: RunRecord) -> dict[str, tuple[str, int, str]]:
    """The origin run's own parameter values, as stored. Its run record names them; its start
    task may not (a resume clones it from an earlier run that had other values)."""
    from flowkit.store.records import ArtifactRef

    start: dict[str, ArtifactRef] = {}
    if "start" in store.records.list_steps(origin.flow, origin.run_id):
        for record in store.records.list_tasks(origin.flow, origin.run_id, "start"):
            start = dict(record.artifacts)
            break
    if not origin.parameter_digests:  # a run recorded before runs named their digests
        return {a: (r.digest, r.size, r.type) for a, r in start.items() if a in origin.parameters}
    values: dict[str, tuple[str, int, str]] = {}
    for attr, digest in origin.parameter_digests.items():
        ref = start.get(attr)
        if ref is None or ref.digest != digest:
            again = store.values.put(store.values.load(digest, owner=f"parameter '{attr}'"))
            ref = again if again.digest == digest else ArtifactRef(digest, again.size, again.type)
        values[attr] = (ref.digest, ref.size, ref.type)
    return values
