"""Storing what a step assigned: its artifacts, and a foreach's frozen items."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowkit.task.foreach import freeze, store_items

if TYPE_CHECKING:
    from flowkit.authoring.flowspec import FlowSpecBase
    from flowkit.store import Store
    from flowkit.task.spec import TaskSpec


def fan_out(
    flow: FlowSpecBase, store: Store, spec: TaskSpec, where: tuple[str | None, int | None]
) -> dict[str, Any]:
    """Freeze the foreach's items and store them: the record fields that name them."""
    attr = str(spec.contract.foreach)
    value = getattr(flow, attr)
    items = freeze(value, attr, limit=spec.max_num_splits, step=spec.step, where=where)
    if iter(value) is value:  # a generator or iterator: consumed, and it cannot be stored
        flow.__dict__[attr] = items
    return {
        "foreach_count": len(items),
        "foreach_items": store_items(store, items, attr, step=spec.step),
    }


def persist(flow: FlowSpecBase, store: Store, spec: TaskSpec) -> dict[str, Any]:
    """What the task assigned is stored; what it did not touch, and the run's parameters,
    are named by reference, and so is what it loaded and left unchanged (proven so without
    hashing it again: :meth:`flowkit.store.values.Loaded.holds`)."""
    from flowkit.authoring import metrics
    from flowkit.authoring.metrics import METRICS_ARTIFACT
    from flowkit.store.records import ArtifactRef

    values = {k: v for k, v in flow.__dict__.items() if not k.startswith("_")}
    sources = flow.__dict__["_flowkit_refs"]
    loaded = {}
    for name, value in values.items():
        reader = getattr(sources.get(name), "loaded", None)  # a store's source knows
        found = reader(name, value) if reader is not None else None
        if found is not None:
            loaded[name] = found
    refs = dict(store.values.put_artifacts(values, step=spec.step, loaded=loaded))
    for name, source in sources.items():
        if name not in refs:
            refs[name] = source.ref(name)
    # a task's metrics are its own: never a parent's, inherited
    refs.pop(METRICS_ARTIFACT, None)
    logged = metrics.taken()
    if logged:
        refs.update(store.values.put_artifacts({METRICS_ARTIFACT: logged}, step=spec.step))
    # the run's own values: a parent cloned from an earlier run may carry that run's values
    for attr, (digest, size, kind) in spec.parameters.items():
        refs[attr] = ArtifactRef(digest, size, kind)
    return refs
