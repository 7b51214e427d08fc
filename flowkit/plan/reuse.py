"""Resume and reuse: for each task the planner makes ready, can an earlier task stand in?

A *position* names a task by its step, its input tasks and its place in the open splits.
Clones keep their task ids, so a resumed run's positions match its origin's exactly as
long as nothing before them ran again. A *cache key* hashes what a task's result depends
on: its step's normalized code (and helpers), the artifacts it receives, the parameters it
reads and its foreach position and item (where the split task stored it).

- ``resume`` (no step): clone the origin's task at the same position if it succeeded and
  no parameter it reads changed; run it otherwise (and what depends on it). A task whose code
  changed is still cloned, and the explanation says so.
- ``resume --reuse`` (no step): as ``resume``, but a task whose code changed runs again too.
- ``resume STEP``: run STEP and what follows it; clone everything else that succeeded.
- ``run --reuse``: reuse any earlier successful task of the flow with the same cache key;
  steps marked ``@no_cache`` always run, and so does a task whose earlier twin failed and
  was caught by ``@catch`` (the failure may have been transient: reusing it would keep it).

The step decorators that change what a task stores or computes are part of its key, those
of ``--with`` too (:func:`decorators_text`): ``@catch`` (its ``var``), ``@card``, ``@timeout``
under ``@catch`` (a timeout then becomes a result), and any decorator flowkit does not know
to be neutral. User step decorators (``@environment`` among them) are part of the step's
code digest (:mod:`flowkit.graph.code`).

Nothing is cloned or reused without its data: a task whose artifacts' blobs are missing or
damaged, or whose record holds a tiny artifact inline that does not verify, runs again (and
its write heals the blobs). The check is cheap, a size and a header
per distinct blob, never a re-hash; a resume checks every blob of its origin in one pass.
A foreach split recorded without frozen items (by an older flowkit) runs again too: its
branches would have no item to load.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from flowkit.authoring.decorators import DecoratorSpec
from flowkit.fastdata import dataclass
from flowkit.graph.code import first_difference, key_text, unkeyed_reason
from flowkit.graph.model import FlowGraph, StepNode
from flowkit.plan.tasks import Branch
from flowkit.store.values import INLINE_DAMAGED, inline_damaged

if TYPE_CHECKING:
    from flowkit.store import RunRecord, Store, TaskRecord

Position = tuple[str, tuple[str, ...], tuple[tuple[str, str, int], ...]]
Action = Literal["run", "clone", "reuse"]


def position(step: str, inputs: Iterable[str], path: Iterable[Sequence[Any]]) -> Position:
    """A task's position: its step, its input task ids, and (split step, split task, index)
    of each open split around it."""
    return step, tuple(inputs), tuple((str(b[0]), str(b[1]), int(b[2])) for b in path)


def record_position(record: TaskRecord) -> Position:
    return position(record.step, (p.rsplit("/", 1)[-1] for p in record.parents), record.path)


#: Step decorators that change nothing a successful task stores: where it runs (executor
#: decorators, ``@resources``), how often it is tried (``@retry``: a reused task succeeded),
#: the packages flowkit only checks are installed (``@conda``, ``@pypi``), ``@no_cache``
#: (such a step always runs), ``@sla`` (it only alerts). Any other decorator is part of the
#: cache key.
NEUTRAL_DECORATORS = frozenset({"retry", "resources", "conda", "pypi", "no_cache", "sla"})

#: Arguments of key decorators that change only what is printed.
_NEUTRAL_ARGUMENTS = {"catch": frozenset({"print_exception"})}


def decorators_text(node: StepNode, defaults: Mapping[str, DecoratorSpec]) -> list[str]:
    """The step decorators in ``node``'s cache key, each with its resolved arguments, sorted:
    the step's own and the ``defaults`` (``--with``) it has none of its own for."""
    return sorted(f"@{name}{text}" for name, text, _ in _keyed_decorators(node, defaults))


def unkeyed(node: StepNode, defaults: Mapping[str, DecoratorSpec]) -> str:
    """Why ``node``'s tasks always run under reuse ("" if they need not): an argument of one
    of its decorators has no stable form for a cache key."""
    if node.unkeyed:
        return node.unkeyed
    return next(
        (unkeyed_reason(n, why) for n, _, why in _keyed_decorators(node, defaults) if why),
        "",
    )


def _keyed_decorators(
    node: StepNode, defaults: Mapping[str, DecoratorSpec]
) -> Iterator[tuple[str, str, str]]:
    """(name, arguments as text, why they have no stable form or "") of each decorator in
    ``node``'s cache key: see :func:`decorators_text`."""
    specs = [
        *node.decorators,
        *(d for name, d in defaults.items() if node.decorator(name) is None),
    ]
    caught = any(d.name == "catch" for d in specs)
    for spec in specs:
        if spec.executor or spec.name in NEUTRAL_DECORATORS:
            continue
        if spec.name == "timeout" and not caught:  # it only fails a task, never changes one
            continue
        neutral = _NEUTRAL_ARGUMENTS.get(spec.name, frozenset())
        args = {k: v for k, v in spec.args.items() if k not in neutral}
        yield (spec.name, *key_text(args))


def cache_key(
    node: StepNode,
    inputs: Sequence[TaskRecord],
    parameters: Mapping[str, tuple[str, int, str]],
    path: Sequence[Branch],
    defaults: Mapping[str, DecoratorSpec] = MappingProxyType({}),
) -> str:
    """What a task's result depends on, hashed (see the module docstring); ``defaults`` are
    the run's ``--with`` decorators."""
    h = hashlib.sha256(b"flowkit-cache-1\0" + node.code_digest.encode())
    for text in decorators_text(node, defaults):  # none: the key is as it always was
        h.update(f"\0decorator {text}".encode())
    for record in inputs:
        h.update(b"\0input")
        for name in sorted(record.artifacts):
            if name not in parameters:  # a parameter counts only where it is read
                h.update(f"\0{name}={record.artifacts[name].digest}".encode())
    for attr in node.reads:
        h.update(f"\0param {attr}={parameters[attr][0]}".encode())
    for branch in path:
        h.update(f"\0at {branch.split_step}[{branch.index}]".encode())
        if branch.item is not None:  # the very item: a split that ran again may reorder
            h.update(f"={branch.item[0]}:{branch.item[1]}".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class Decision:
    """Whether a task runs or an earlier one stands in for it, and why."""

    action: Action
    reason: str
    origin: TaskRecord | None = None

    def to_json(self, step: str, task_id: str) -> dict[str, Any]:
        return {
            "step": step,
            "task_id": task_id,
            "action": self.action,
            "reason": self.reason,
            "origin": self.origin.origin_pathspec or self.origin.pathspec if self.origin else None,
        }


class Decider:
    """Answers, for one run, which tasks run and which are cloned or reused."""

    def __init__(
        self,
        store: Store,
        graph: FlowGraph,
        parameters: Mapping[str, tuple[str, int, str]],
        *,
        origin: RunRecord | None = None,
        restart_step: str | None = None,
        reuse: bool = False,
        defaults: Mapping[str, DecoratorSpec] = MappingProxyType({}),
        notebook: bool = False,
    ) -> None:
        self.store, self.graph, self.parameters = store, graph, parameters
        #: How the user asks a resume to re-run changed code, in the words of where the
        #: run starts: a notebook calls Python, a terminal types the command.
        self.rerun_changed = (
            f"flowkit.resume({graph.name}, reuse=True)" if notebook else "resume --reuse"
        )
        #: The run's ``--with`` decorators: those that change results are in the cache key.
        self.defaults = defaults
        self.origin, self.restart_step, self.reuse = origin, restart_step, reuse
        self.by_position: dict[Position, TaskRecord] = {}
        self.origin_ids: dict[str, str] = {}
        #: Digests whose blobs were found whole: each is checked once. A broken one is checked
        #: again when asked about, since the task that ran again in its place heals it.
        self._whole: set[str] = set()
        #: Earlier tasks by cache key, read a step at a time (``run --reuse``).
        self.cached = store.index.reuse_keys(graph.name)
        if origin is not None:
            for step in store.records.list_steps(origin.flow, origin.run_id):
                for record in store.records.list_tasks(origin.flow, origin.run_id, step):
                    if not record.successful:  # a later attempt (dlq retry) may have succeeded
                        record = store.records.task_attempts(
                            origin.flow, origin.run_id, step, record.task_id
                        )[-1]
                    self.by_position[record_position(record)] = record
                    self.origin_ids[record.task_id] = step
            self._check(r for r in self.by_position.values() if r.successful)

    @property
    def active(self) -> bool:
        """Whether anything could be cloned or reused (else every task simply runs)."""
        return self.origin is not None or self.reuse

    def decide(
        self, node: StepNode, inputs: Sequence[TaskRecord], path: Sequence[Branch], key: str
    ) -> Decision:
        if self.origin is not None:
            decision = self._resume(node, inputs, path, key)
        elif self.reuse:
            decision = self._reuse(node, key)
        else:
            return Decision("run", "")
        if decision.origin is not None:
            unfrozen = _unfrozen(node, decision.origin)
            if unfrozen is not None:
                return Decision("run", unfrozen)
            lost = self._lost(decision.origin)
            if lost is not None:
                return Decision("run", lost)
        return decision

    def _check(self, records: Iterable[TaskRecord]) -> dict[str, str]:
        """Check the blobs of ``records``, each distinct blob once (tasks share many); the
        broken ones, with why."""
        sizes = {
            digest: size
            for record in records
            for _, digest, size in _blobs(record)
            if digest not in self._whole
        }
        broken = self.store.values.damages(sizes)
        self._whole.update(digest for digest in sizes if digest not in broken)
        return broken

    def _lost(self, record: TaskRecord) -> str | None:
        """Why ``record`` cannot stand in for a new task: a blob it names is gone, or a
        value it holds inline does not verify."""
        for name, ref in sorted(record.artifacts.items()):
            if inline_damaged(ref):
                return f"its artifact '{name}' is damaged in its record ({INLINE_DAMAGED})"
        broken = self._check([record])
        for what, digest, _ in _blobs(record):
            why = broken.get(digest)
            if why == "missing":
                return f"{what} missing from the store"
            if why is not None:
                return f"{what} damaged in the store ({why})"
        return None

    def _resume(
        self, node: StepNode, inputs: Sequence[TaskRecord], path: Sequence[Branch], key: str
    ) -> Decision:
        if node.name == self.restart_step:
            return Decision("run", f"the resume starts at step '{node.name}'")
        pos = position(node.name, (r.task_id for r in inputs), (b.to_json() for b in path))
        old = self.by_position.get(pos)
        if old is None:
            rerun = [r for r in inputs if r.task_id not in self.origin_ids]
            if rerun:
                return Decision("run", f"its input from step '{rerun[0].step}' ran again")
            return Decision("run", "the origin run never got to it")
        if not old.successful:
            return Decision("run", _failure(old))
        if self.restart_step is None and old.cache_key and old.cache_key != key:
            changes = self._changes(node, old)
            parameters = [c for c in changes if c.startswith("parameter")]
            if self.reuse or parameters:
                return Decision("run", "; ".join(changes if self.reuse else parameters))
            return Decision(
                "clone",
                f"cloned although {'; '.join(changes)} ({self.rerun_changed} runs it again)",
                old,
            )
        return Decision("clone", "unchanged since the origin run", old)

    def _reuse(self, node: StepNode, key: str) -> Decision:
        if node.decorator("no_cache") is not None:
            return Decision("run", "@no_cache: it reads the outside world, so it always runs")
        why = unkeyed(node, self.defaults)
        if why:
            return Decision("run", why)
        old = self.cached.lookup(node.name, key)
        if old is not None and old.caught:  # indexed by an older flowkit
            return Decision(
                "run",
                "the earlier task with the same code, inputs and parameters failed and @catch "
                "caught it; the failure may have been transient, so it runs again",
            )
        if old is not None:
            return Decision("reuse", "same code, inputs and parameters as an earlier run", old)
        return Decision("run", "no earlier task had the same code, inputs and parameters")

    def _changes(self, node: StepNode, old: TaskRecord) -> list[str]:
        """Why ``old`` (same position, origin run) no longer stands for the new task."""
        assert self.origin is not None
        # Same position means the same input tasks, so only code and parameters can differ.
        why = unkeyed(node, self.defaults)
        reasons = [why] if why else []
        before = self.origin.step_code.get(node.name)
        index = first_difference(before, node.code) if before is not None else None
        if index is not None:
            line = node.statement_lines[index] if index < len(node.statement_lines) else node.line
            reasons.append(f"its code changed at {node.file}:{line}")
        # the values the task ran with: a clone names its own run's (Records.clone_task)
        ran = self.store.records.origin(old) if node.reads else old
        for attr in node.reads:
            ref = ran.artifacts.get(attr)
            if ref is None or ref.digest != self.parameters[attr][0]:
                reasons.append(f"parameter '{attr}' changed{self._values(attr, ref)}")
        if not reasons and before is not None:
            reasons.append("a function it calls or one of its decorators changed")
        return reasons

    def _values(self, attr: str, ref: Any) -> str:
        if ref is None or self.parameters[attr][1] > 4096 or ref.size > 4096:
            return ""
        old, new = (
            self.store.values.load_artifact(ref),
            self.store.values.load(self.parameters[attr][0]),
        )
        return f" ({old!r} -> {new!r})"


def _blobs(record: TaskRecord) -> Iterator[tuple[str, str, int | None]]:
    """Every blob a task's record names: (what it is, for a reason; digest; raw size)."""
    for name, ref in sorted(record.artifacts.items()):
        if ref.inline is None:  # one held inline is in the record itself
            yield f"its artifact '{name}' is", ref.digest, ref.size
    for digest, _count in record.foreach_items:
        yield "the foreach items it stored are", digest, None


def _unfrozen(node: StepNode, record: TaskRecord) -> str | None:
    """Why ``record``, a task of foreach step ``node``, has no items for its branches to load,
    if it has none: an older flowkit recorded only how many there were."""
    if node.transition != "foreach" or record.foreach_items:
        return None
    if record.foreach_count is None:
        return "it did not fan out when it ran (its self.next changed since)"
    return "its foreach items were not frozen (recorded by an older flowkit)"


def _failure(record: TaskRecord) -> str:
    if record.status == "running":
        return "it never finished in the origin run (the run was interrupted)"
    if record.status == "killed":
        return "it was killed in the origin run"
    what = f": {record.exception}" if record.exception else ""
    return f"it failed in the origin run{what}"


def summarize(decisions: Sequence[Mapping[str, Any]], steps: Sequence[str]) -> list[str]:
    """Per step (in ``steps`` order): how many tasks ran, were cloned or reused, and why."""
    lines = []
    for name in [*steps, *sorted({d["step"] for d in decisions} - set(steps))]:
        mine = [d for d in decisions if d["step"] == name]
        if not mine:
            continue
        counts: dict[str, int] = {}
        reasons: dict[str, dict[str, int]] = {}
        for d in mine:
            counts[d["action"]] = counts.get(d["action"], 0) + 1
            reasons.setdefault(d["action"], {}).setdefault(d["reason"], 0)
            reasons[d["action"]][d["reason"]] += 1
        head = ", ".join(f"{n} {_verb(a, n)}" for a, n in counts.items())
        lines.append(f"{name}: {head}")
        for action, why in reasons.items():
            for reason, n in why.items():
                if reason:
                    lines.append(f"    {_verb(action, n)}{'' if n == 1 else f' ({n})'}: {reason}")
    return lines


def _verb(action: str, n: int) -> str:
    return {"run": "run", "clone": "cloned", "reuse": "reused"}[action]
