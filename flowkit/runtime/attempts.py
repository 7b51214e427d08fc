"""One attempt of a task as the scheduler holds it, and what its step's decorators make of
its spec: the attempt ``@catch`` adds, whether a failure is echoed, where ``@timeout``
interrupts the step's code, ``--with card``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flowkit.fastdata import dataclass
from flowkit.graph.model import StepNode
from flowkit.plan.tasks import PlannedTask
from flowkit.runtime.policy import FailurePolicy
from flowkit.task.spec import TaskSpec

if TYPE_CHECKING:
    from flowkit.store import TaskRecord


@dataclass(slots=True)
class LiveAttempt:
    """An attempt the scheduler holds: slotted, as a fan-out holds one per branch."""

    task_id: str
    planned: PlannedTask
    attempt: int = 0
    not_before: float = 0.0
    cache_key: str | None = None
    #: When ``@timeout`` ends the attempt (monotonic), and whether it did.
    deadline: float | None = None
    timed_out: bool = False
    #: For the attempt ``@catch`` adds: what it stores (see ``TaskSpec.catch``).
    catch: dict[str, str | None] | None = None
    #: The attempt's spec, built once when it is submitted.
    spec: TaskSpec | None = None
    #: Whether its executor said it started (it may wait in the executor's queue before).
    started: bool = False

    @property
    def key(self) -> str:
        return f"{self.planned.step}/{self.task_id}/{self.attempt}"

    def next(self, not_before: float = 0.0) -> LiveAttempt:
        """The task's next attempt, not started before ``not_before`` (monotonic)."""
        return LiveAttempt(self.task_id, self.planned, self.attempt + 1, not_before, self.cache_key)


def caught_attempt(
    task: LiveAttempt, record: TaskRecord, catch: Mapping[str, Any], error: str
) -> LiveAttempt:
    """The attempt ``@catch`` adds after the last failure: it stores the failure in ``var``."""
    info = record.exception
    caught = task.next()
    caught.catch = {
        "var": str(catch["var"]) if catch.get("var") else None,
        "type": info.type if info else "TaskFailed",
        "message": info.message if info else error,
        "traceback": info.traceback if info else "",
        "failure": record.failure,
        "qualified_type": info.qualified_type if info else None,
        # what the failed attempt had set (its record names it, if it could store it)
        "attempt": str(record.attempt),
        "print": "yes" if catch.get("print_exception", True) else None,
    }
    return caught


def lost_caught_again(task: LiveAttempt, record: TaskRecord) -> LiveAttempt | None:
    """The attempt that runs a lost ``@catch`` attempt again, as any lost attempt is (once:
    its next loss is its end); None when ``task`` is not one to run again."""
    if task.catch is None or record.failure != "lost" or task.catch.get("lost"):
        return None
    again = task.next()
    again.catch = {**task.catch, "lost": "yes"}
    return again


def spec_fields(policy: FailurePolicy, node: StepNode, attempt: int) -> dict[str, Any]:
    """The :class:`TaskSpec` fields an attempt (number ``attempt``) of ``node``'s step gets
    from its decorators."""
    catch = policy.catch(node)
    card = policy.defaults.get("card")
    return {
        # set to None when the step succeeds, as Metaflow does
        "catch_var": str(catch.args["var"]) if catch and catch.args.get("var") else None,
        "timeout": interrupted(policy, node),
        # --with card, for a step without a @card of its own
        "with_card": dict(card.args) if card and node.decorator("card") is None else None,
        "print_exception": _prints_exception(policy, node, attempt),
    }


def interrupted(policy: FailurePolicy, node: StepNode) -> float | None:
    """The ``@timeout`` after which the step's code is interrupted by an exception: under
    ``@catch`` only, which passes on what the step set (Metaflow keeps it); otherwise the
    process group is killed at the timeout, as flowkit's design has it."""
    return policy.timeout(node) if policy.catch(node) is not None else None


def _prints_exception(policy: FailurePolicy, node: StepNode, attempt: int) -> bool:
    """False for an attempt ``@catch(print_exception=False)`` catches if it fails: one after
    its step's ``@retry`` is used up (an earlier one's failure is retried, and said, as
    Metaflow says it)."""
    catch = policy.catch(node)
    if catch is None or catch.args.get("print_exception", True):
        return True
    retry = policy.decorator(node, "retry")
    return attempt < (int(retry.args["times"]) if retry is not None else 0)
