"""What a new run settles before it is created: its configs and parameters as stored
values, ``@project``'s system tags, a chosen run id, and the file to resume it with."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from flowkit.errors import FlowkitError
from flowkit.runtime.origin import origin_configs, origin_parameters

if TYPE_CHECKING:
    from collections.abc import Sequence

    from flowkit.graph.model import FlowGraph
    from flowkit.runtime.api import RunOptions
    from flowkit.store import RunRecord, Store


def configured_flow(
    flow_cls: type, params: dict[str, Any], store: Store | None, origin: RunRecord | None
) -> tuple[type, dict[str, Any]]:
    """The flow class with its config expressions evaluated under the run's configs (those
    given, else those a resume's ``origin`` stored in ``store``, else their defaults), and
    ``params`` with every config's value settled in: a run stores its configs as it stores
    its parameters."""
    from flowkit.authoring.config import Settled, configs_of, resolve_configs, split_given
    from flowkit.authoring.configure import configure

    if not configs_of(flow_cls):
        return configure(flow_cls, {}), params
    given, rest = split_given(flow_cls, params)
    kept = None if store is None else origin_configs(flow_cls, store, origin)
    values = resolve_configs(flow_cls, given, kept)
    return configure(flow_cls, values), {**rest, **{k: Settled(v) for k, v in values.items()}}


def settle_parameters(
    flow_cls: type, store: Store, given: dict[str, Any], origin: RunRecord | None
) -> tuple[dict[str, tuple[str, int, str]], dict[str, Any]]:
    """Each parameter as a stored value (digest, size, type), and as the run record shows it.

    On a resume, what was not given keeps the origin's value (by digest: nothing is copied).
    """
    from flowkit.authoring.parameters import parameters_of, resolve_parameters

    params = parameters_of(flow_cls)
    inherited = origin_parameters(store, origin) if origin else {}
    by_name = {p.name: str(p.attr) for p in params}
    given_attrs = {by_name.get(k, k) for k in given}
    # Resolved once, here: tasks read the stored values, never their own environment.
    values = resolve_parameters(flow_cls, given, kept=inherited, environ=os.environ)
    stored: dict[str, tuple[str, int, str]] = {}
    shown: dict[str, Any] = {}
    for p in params:
        attr = str(p.attr)
        if attr in inherited and attr not in given_attrs:
            stored[attr] = inherited[attr]
            shown[attr] = origin.parameters.get(attr) if origin else None
            continue
        ref = store.values.put(values[attr], name=attr, step="<parameters>")
        stored[attr] = (ref.digest, ref.size, ref.type)
        shown[attr] = (
            f"<{len(values[attr])} bytes>" if isinstance(values[attr], bytes) else values[attr]
        )
    return stored, shown


def project_tags(flow_cls: type, options: RunOptions | None) -> tuple[str, ...]:
    """The system tags of ``@project`` (none without it); ``options`` None: the user's
    branch, as a run without ``--branch``/``--production`` has."""
    from flowkit.authoring.project import project_of
    from flowkit.settings import current_user

    info = project_of(
        flow_cls,
        branch=options.branch if options else None,
        production=options.production if options else False,
        user=current_user(),
    )
    return () if info is None else info.system_tags


def create_run_record(
    store: Store,
    graph: FlowGraph,
    parameters: dict[str, tuple[str, int, str]],
    shown: dict[str, Any],
    *,
    code_digest: str,
    tags: Sequence[str],
    system_tags: Sequence[str],
    source: str | None,
    origin_run_id: str | None = None,
    run_id: str | None = None,
) -> RunRecord:
    """A new run's record: its graph, each step's code, its settled ``parameters`` (as
    :func:`settle_parameters` returns them) and tags. Every way a run starts (the command
    line, Python, an Airflow DAG's first task) creates it here."""
    return store.records.create_run(
        graph.name,
        parameters=shown,
        code_digest=code_digest,
        tags=list(tags),
        steps=[s.name for s in graph.ordered()],
        origin_run_id=origin_run_id,
        step_code={s.name: s.code for s in graph.steps.values()},
        graph={s.name: list(s.targets) for s in graph.steps.values()},
        source=source,
        parameter_digests={attr: digest for attr, (digest, _, _) in parameters.items()},
        run_id=run_id,
        system_tags=tuple(system_tags),
    )


def check_new_run_id(store: Store, flow: str, run_id: str) -> None:
    """Refuse a chosen run id that is not a valid name, that reads as a time-sorted id (it
    would claim a time it was not made at: runs sort by it) or that a run of ``flow`` has."""
    from flowkit.store import is_name, name_rule
    from flowkit.store.ids import id_time

    if not is_name(run_id):
        raise FlowkitError(f"--run-id {run_id!r} is not a valid run id", name_rule("run"))
    if id_time(run_id) is not None:
        raise FlowkitError(
            f"--run-id {run_id!r} reads as one of flowkit's time-sorted ids (26 letters and "
            "digits), which would misplace the run among the flow's runs; nothing ran",
            "choose an id of another length or with a character such as '-' or '_', or leave "
            "--run-id out to get a new time-sorted id",
        )
    if store.records.has_run(flow, run_id):
        raise FlowkitError(
            f"run {flow}/{run_id} already exists in the store at {store.url}; a run id names "
            "one run, so nothing ran",
            "give a new --run-id, or leave it out to get a new id",
        )


def flow_source(flow_cls: type, *, notebook: bool) -> str | None:
    """The flow file a user would resume the run with; None for a notebook's flow (and for a
    flow file imported into a notebook: there, the call is what to type)."""
    module = sys.modules.get(flow_cls.__module__)
    file = getattr(module, "__file__", None)
    if not isinstance(file, str) or (flow_cls.__module__ != "__main__" and notebook):
        return None
    return os.path.abspath(file)
