"""What the runtime does when an attempt fails: retry (when, how often), catch, time out;
and the executor a step without one of its own runs on.

A step's own ``@retry``/``@catch``/``@timeout`` (and ``@slurm``...) win; otherwise the
flow-level defaults apply (``--with retry:times=2`` or ``--with slurm:partition=gpu`` on the
command line, ``with_decorators=`` in Python, or the ``retry`` setting). A *lost* attempt (its process died on a signal, or its worker died, before
it wrote its record) is retried at least once even without ``@retry``: the code may well be
fine. Delays are exponential backoff with full jitter, from an injectable generator.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from typing import Any

from flowkit.authoring.decorators import (
    STEP_DECORATORS,
    DecoratorSpec,
    decorator_spec,
    executor_spec,
    timeout_seconds,
)
from flowkit.errors import FlowkitError
from flowkit.fastdata import dataclass, field
from flowkit.graph.model import StepNode
from flowkit.store.records import TaskRecord

#: Step decorators that ``--with`` may apply to every step of a flow.
WITH_DECORATORS = ("retry", "catch", "timeout", "card")

#: The largest exponent backoff uses: 2**64 times any sane base exceeds any sane max_delay.
_MAX_EXPONENT = 64


@dataclass(frozen=True)
class FailurePolicy:
    """Flow-level default decorators, and the generator retry delays are drawn from."""

    defaults: Mapping[str, DecoratorSpec] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)

    def decorator(self, node: StepNode, name: str) -> DecoratorSpec | None:
        return node.decorator(name) or self.defaults.get(name)

    def retries(self, node: StepNode, record: TaskRecord) -> int:
        """How many retries the failure in ``record`` allows, in all."""
        retry = self.decorator(node, "retry")
        times = int(retry.args["times"]) if retry is not None else 0
        return max(times, 1) if record.failure == "lost" else times

    def delay(self, node: StepNode, attempt: int) -> float:
        """Seconds to wait before retrying after failed attempt number ``attempt``."""
        retry = self.decorator(node, "retry")
        return 0.0 if retry is None else backoff_delay(retry.args, attempt, self.rng)

    def timeout(self, node: StepNode) -> float | None:
        spec = self.decorator(node, "timeout")
        return None if spec is None else timeout_seconds(spec)

    def catch(self, node: StepNode) -> DecoratorSpec | None:
        return self.decorator(node, "catch")

    @property
    def executor(self) -> DecoratorSpec | None:
        """The executor ``--with`` applies to every step without one of its own."""
        return next((d for d in self.defaults.values() if d.executor), None)


def backoff_delay(values: Mapping[str, Any], attempt: int, rng: random.Random) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(max_delay, backoff * 2**n)]."""
    base = float(values.get("backoff", 1.0))
    if values.get("minutes_between_retries") is not None:
        base = 60.0 * float(values["minutes_between_retries"])
    # 2**1024 overflows a float; far below that the cap is max_delay anyway.
    cap = min(float(values.get("max_delay", 60.0)), base * 2.0 ** min(attempt, _MAX_EXPONENT))
    return rng.uniform(0.0, cap)


def parse_with(items: Iterable[str], *, retry_setting: int = 0) -> dict[str, DecoratorSpec]:
    """``["retry", "timeout:seconds=30", "slurm:partition=gpu"]`` as default decorators: any
    name that is not a flowkit step decorator names an executor (checked when the run
    starts). ``retry_setting`` > 0 adds ``retry(times=N)`` unless ``--with retry`` says
    otherwise."""
    defaults: dict[str, DecoratorSpec] = {}
    if retry_setting:
        defaults["retry"] = decorator_spec("retry", {"times": retry_setting})
    for item in items:
        name, _, text = item.partition(":")
        if (name in STEP_DECORATORS and name not in WITH_DECORATORS) or not name.isidentifier():
            raise FlowkitError(
                f"--with {item}: '{name}' cannot be applied to every step",
                f"use one of {', '.join(WITH_DECORATORS)} or an executor's name, "
                "e.g. --with retry:times=2",
            )
        try:
            arguments = parse_arguments(text)
            if name in WITH_DECORATORS:
                defaults[name] = decorator_spec(name, arguments)
            else:
                defaults[name] = executor_spec(name, arguments)
        except ValueError as exc:
            raise FlowkitError(
                f"--with {item}: {exc}", "write it as NAME or NAME:ARG=VALUE,ARG=VALUE"
            ) from None
    executors = [d.name for d in defaults.values() if d.executor]
    if len(executors) > 1:
        raise FlowkitError(
            f"--with names {len(executors)} executors ({', '.join(executors)})",
            "every step runs on one executor: give one --with NAME, and pick others per step "
            "with a decorator (@slurm, @batch)",
        )
    return defaults


def parse_arguments(text: str) -> dict[str, Any]:
    """``ARG=VALUE,ARG=VALUE`` as a dict of ints, floats, booleans and strings; a ValueError
    says what is wrong."""
    arguments: dict[str, Any] = {}
    for pair in filter(None, text.split(",")):
        key, eq, raw = pair.partition("=")
        if not eq:
            raise ValueError(f"'{pair}' is not ARG=VALUE")
        arguments[key.strip()] = _value(raw.strip())
    return arguments


def _value(raw: str) -> Any:
    for convert in (int, float):
        try:
            return convert(raw)
        except ValueError:
            continue
    return {"true": True, "false": False}.get(raw.lower(), raw)
