"""``--with NAME`` applies an executor to every step without one of its own."""

from __future__ import annotations

import pytest

from flowkit.errors import FlowkitError
from flowkit.runtime.policy import FailurePolicy, parse_with


def test_with_an_executor_name_applies_that_executor() -> None:
    defaults = parse_with(["retry:times=1", "slurm:partition=gpu,nodes=2"])
    policy = FailurePolicy(defaults)
    assert policy.executor is not None
    assert (policy.executor.name, dict(policy.executor.args)) == (
        "slurm",
        {"partition": "gpu", "nodes": 2},
    )
    assert FailurePolicy(parse_with(["retry"])).executor is None


def test_with_names_one_executor_at_most() -> None:
    with pytest.raises(FlowkitError) as info:
        parse_with(["slurm", "batch:queue=q"])
    assert info.value.render() == (
        "--with names 2 executors (slurm, batch)\n    hint: every step runs on one executor: "
        "give one --with NAME, and pick others per step with a decorator (@slurm, @batch)"
    )


@pytest.mark.parametrize("item", ["no_cache", "resources:cpu=2", "my-executor"])
def test_with_refuses_what_is_neither_a_default_nor_an_executor(item: str) -> None:
    name = item.partition(":")[0]
    with pytest.raises(FlowkitError, match=f"'{name}' cannot be applied to every step"):
        parse_with([item])
