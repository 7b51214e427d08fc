"""Flows changed by mutators, as Metaflow's documentation writes them."""

from flowkit import (
    FlowMutator,
    FlowSpec,
    Parameter,
    StepMutator,
    current,
    retry,
    step,
    timeout,
    user_step_decorator,
)


@user_step_decorator
def stamp(step_name, flow, inputs):
    yield
    flow.stamped = step_name


class RetryTwice(StepMutator):
    def mutate(self, mutable_step):
        mutable_step.add_decorator(retry, deco_kwargs={"times": 2, "backoff": 0})


class NoTimeout(StepMutator):
    def mutate(self, mutable_step):
        mutable_step.remove_decorator("timeout")


class Everywhere(FlowMutator):
    def init(self, parameter_name):
        self.parameter_name = parameter_name

    def pre_mutate(self, mutable_flow):
        mutable_flow.add_parameter(self.parameter_name, Parameter(self.parameter_name, default=3))

    def mutate(self, mutable_flow):
        for _name, mutable_step in mutable_flow.steps:
            mutable_step.add_decorator(stamp)
            mutable_step.add_decorator("retry:times=5,backoff=0")  # runs before step mutators


@Everywhere("alpha")
class MutatedFlow(FlowSpec):
    @RetryTwice
    @step
    def start(self):
        if current.retry_count == 0:
            raise RuntimeError("first attempt fails")
        self.attempt = current.retry_count
        self.next(self.end)

    @NoTimeout
    @timeout(seconds=1)
    @step
    def end(self):
        self.seen_alpha = self.alpha
