"""Executor decorators (``@slurm``, ``@batch``, any made with the factory) record where a step
runs, with the backend's own arguments as they are."""

from __future__ import annotations

from flowkit import batch, resources, slurm, step
from flowkit.authoring.decorators import decorators_of, executor_decorator


def test_an_executor_decorator_records_its_name_and_arguments() -> None:
    kube = executor_decorator("kube", "Run the step on Kubernetes.")

    @kube(namespace="ml", tolerations=["gpu"])
    @resources(gpu=1)
    @step
    def a(self):
        pass

    @slurm
    @step
    def b(self):
        pass

    specs, problems = decorators_of(a)
    assert problems == ()
    assert [(d.name, d.executor) for d in specs] == [("resources", False), ("kube", True)]
    assert dict(specs[1].args) == {"namespace": "ml", "tolerations": ["gpu"]}
    assert specs[1].to_json() == {
        "name": "kube",
        "args": {"namespace": "ml", "tolerations": ["gpu"]},
        "executor": True,
    }
    assert specs[0].to_json() == {"name": "resources", "args": dict(specs[0].args)}
    (spec,), _ = decorators_of(b)
    assert (spec.name, dict(spec.args), spec.executor) == ("slurm", {}, True)
    assert kube.__name__ == "kube" and kube.__doc__ == "Run the step on Kubernetes."


def test_two_executors_on_a_step_and_odd_arguments_are_recorded_for_lint() -> None:
    @batch(queue=object())
    @slurm(partition="gpu")
    @step
    def a(self):
        pass

    specs, problems = decorators_of(a)
    assert [d.name for d in specs] == ["slurm"]
    assert problems == (
        "@batch(queue=...) is invalid: an executor's arguments must be plain values "
        "(strings, numbers, booleans, lists, dicts)",
        "@slurm and @batch both say where the step runs; keep one",
    )
