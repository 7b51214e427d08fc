"""Deploy a flow into the store, undeploy it, publish an event: what ``flowkit deploy``,
``flowkit undeploy`` and ``flowkit event publish`` (and :func:`flowkit.publish_event`) do.

A deploy lints the flow, checks the parameters given, snapshots its code into the store as a
run does (the scheduler's runs run that snapshot, whatever is edited since) and writes a new
version of the flow's deployment. It refuses a flow that nothing would ever start (no
``@schedule``, ``@trigger`` or ``@trigger_on_finish``) and a flow whose
``@trigger_on_finish`` closes a loop with the flows deployed already (A runs when B ends,
B when A ends: each would start the other for ever).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowkit.errors import FlowDefinitionError, FlowkitError
from flowkit.fastdata import asdict
from flowkit.store.deployments import Deployment, Deployments, EventSpec
from flowkit.store.errors import StoreError

if TYPE_CHECKING:
    from flowkit.graph.model import FlowGraph
    from flowkit.store import Store


def open_deploy_store(store: str | os.PathLike[str] | Store | None) -> Store:
    """The store to deploy into: given, else the one settings resolve. Its runs' tasks run in
    other processes, so it must be one they see (not ``memory://``)."""
    from flowkit.settings import Settings
    from flowkit.store import Store, UnsharedStoreError, open_store

    if isinstance(store, Store):
        found = store
    else:
        found = open_store(Settings.resolve({"store": None if store is None else str(store)}))
    if not found.shared:
        raise UnsharedStoreError(found.url)
    return found


def deploy(
    flow_file: str | os.PathLike[str],
    *,
    flow_name: str | None = None,
    params: dict[str, Any] | None = None,
    store: str | os.PathLike[str] | Store | None = None,
) -> Deployment:
    """Register the flow in ``flow_file`` with the scheduler; its new deployment."""
    from flowkit.authoring.loader import load_flow_file
    from flowkit.authoring.parameters import resolve_parameters
    from flowkit.authoring.scheduling import overlap_of, schedule_of, triggers_of
    from flowkit.lint.api import check
    from flowkit.runtime.settle import configured_flow
    from flowkit.settings import current_user
    from flowkit.task.code import code_ref_for

    given = dict(params or {})
    flow_cls = load_flow_file(Path(flow_file), flow_name)
    # configs given (by name or attribute: a Path to read, a JSON text, a dict) else their
    # defaults; the schedule and triggers are read on the class configured with them
    configured, settled = configured_flow(flow_cls, given, None, None)
    graph = check(configured)
    schedule = schedule_of(configured)
    triggers = triggers_of(configured)
    overlap = overlap_of(configured)
    if schedule is None and not triggers.on_finish and not triggers.events:
        raise FlowDefinitionError(
            f"{graph.name} has neither a schedule nor a trigger: the scheduler would never "
            "start it",
            "decorate the flow class with @schedule(cron='0 2 * * *'), @trigger(event='NAME') "
            "or @trigger_on_finish(flow='Upstream'), or run it with: "
            f"python {flow_file} run",
            file=graph.file,
            line=graph.line,
        )
    resolve_parameters(configured, settled)  # a bad or missing value fails here, not at 02:00
    the_store = open_deploy_store(store)
    registry = the_store.deployments
    _refuse_loops(graph, triggers.on_finish, registry)
    code = code_ref_for(flow_cls, the_store)
    try:
        previous = registry.latest(graph.name, with_deleted=True)
    except StoreError:  # a damaged version: this deploy replaces it, as its hint says
        previous = None
    now = time.time()
    if previous is None or previous.deleted:
        previous = None
    cron, zone = (schedule.cron, schedule.timezone) if schedule else (None, None)
    catchup = schedule.catchup if schedule else False
    same_schedule = previous is not None and (previous.cron, previous.timezone) == (cron, zone)
    return registry.put(
        Deployment(
            flow=graph.name,
            version=registry.new_version(),
            created_at=now,
            active_since=previous.active_since if previous else now,
            # another cron (or zone, or catchup) counts its slots from now: the old one's
            # slots were handled under it, the new one's before now were never due
            schedule_since=(
                previous.slots_since
                if previous and same_schedule and previous.catchup == catchup
                else now
            ),
            user=current_user(),
            code=asdict(code),
            code_digest=code.target,
            source=str(Path(flow_file).resolve()),
            parameters=_stored_parameters(settled, graph),
            cron=cron,
            timezone=zone,
            catchup=catchup,
            schedule_written=schedule.written if schedule else None,
            on_finish=tuple(triggers.on_finish),
            events=tuple(EventSpec(e.name, tuple(e.parameters)) for e in triggers.events),
            overlap=overlap,
        )
    )


def _stored_parameters(settled: dict[str, Any], graph: FlowGraph) -> dict[str, Any]:
    """The parameters given and every config's value as read now (a config file is read at
    deploy, as the code is snapshotted: each run gets the same configs, which chose the
    schedule)."""
    from flowkit.authoring.config import Settled

    return {
        k: v.value if isinstance(v, Settled) else _plain(k, v, graph) for k, v in settled.items()
    }


def _plain(name: str, value: Any, graph: FlowGraph) -> Any:
    """A parameter value as the deployment stores it (JSON): the scheduler gives it to each
    run as if typed on the command line."""
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    raise FlowDefinitionError(
        f"parameter '{name}' of {graph.name} is given a {type(value).__name__}, which a "
        "deployment cannot store",
        "give it as text, a number, a bool, a list or a dict",
        file=graph.file,
        line=graph.line,
    )


def _refuse_loops(graph: FlowGraph, on_finish: tuple[str, ...], registry: Deployments) -> None:
    """Refuse a deployment whose ``@trigger_on_finish`` would close a loop among the
    deployed flows; the message names the loop."""
    upstream = {d.flow: set(d.on_finish) for d in registry.current()}
    upstream[graph.name] = set(on_finish)
    # a path from graph.name back to itself, each flow followed by the one its end starts
    path = _path_back(graph.name, upstream)
    if path is None:
        return
    loop = " -> ".join([graph.name, *path])
    raise FlowDefinitionError(
        f"deploying {graph.name} would make a trigger loop: {loop} (each flow starts when the "
        "one before it ends, for ever)",
        "remove one @trigger_on_finish of the loop, or undeploy one of its flows first "
        "(flowkit undeploy FLOW)",
        file=graph.file,
        line=graph.line,
    )


def _path_back(flow: str, upstream: dict[str, set[str]]) -> list[str] | None:
    starts: dict[str, list[str]] = {}  # flow -> the flows its end starts
    for downstream, ups in upstream.items():
        for up in ups:
            starts.setdefault(up, []).append(downstream)
    todo: list[tuple[str, list[str]]] = [(d, [d]) for d in sorted(starts.get(flow, ()))]
    seen: set[str] = set()
    while todo:
        current, path = todo.pop(0)
        if current == flow:
            return path
        if current in seen:
            continue
        seen.add(current)
        todo += [(d, [*path, d]) for d in sorted(starts.get(current, ()))]
    return None


def undeploy(flow: str, *, store: str | os.PathLike[str] | Store | None = None) -> Deployment:
    """Stop the scheduler starting ``flow``: a version of its deployment saying it is gone
    (its runs stay, and a run going on goes on)."""
    from flowkit.settings import current_user

    registry = open_deploy_store(store).deployments
    latest = registry.latest(flow)
    if latest is None:
        deployed = ", ".join(d.flow for d in registry.current()) or "none"
        raise FlowkitError(
            f"{flow} is not deployed in the store at {registry.url}",
            f"the flows deployed there are: {deployed} (flowkit deployments lists them)",
        )
    return registry.put(
        Deployment(
            flow=flow,
            version=registry.new_version(),
            created_at=time.time(),
            active_since=latest.active_since,
            user=current_user(),
            deleted=True,
        )
    )


def publish_event(
    name: str,
    payload: dict[str, Any] | None = None,
    store: str | os.PathLike[str] | Store | None = None,
) -> str:
    """Publish the event ``name`` with ``payload`` (a dict of JSON values): every deployed
    flow with ``@trigger(event=name)`` runs once for it, its parameters mapped from the
    payload. The event's id (time-sorted)."""
    import json

    from flowkit.settings import current_user
    from flowkit.store import check_name

    check_name("event", name)
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise FlowkitError(
            f"the payload of event {name} is a {type(payload).__name__}, not a dict",
            'give a dict of field -> value, e.g. {"threshold": 0.3}',
        )
    try:
        json.dumps(payload)
    except (TypeError, ValueError) as exc:
        raise FlowkitError(
            f"the payload of event {name} is not JSON: {exc}",
            "give its fields as text, numbers, bools, lists or dicts",
        ) from None
    return open_deploy_store(store).deployments.publish(name, payload, current_user()).id
