"""Flows whose decorators and mutators read configs, as Metaflow's documentation writes them."""

import os

from flowkit import (
    Config,
    FlowMutator,
    FlowSpec,
    Parameter,
    UserStepDecorator,
    config_expr,
    current,
    environment,
    retry,
    step,
    user_step_decorator,
)


class Mark(UserStepDecorator):
    def init(self, n=0):
        self.n = n

    def pre_step(self, step_name, flow, inputs=None):
        flow.marked = self.n


@user_step_decorator
def stamp(step_name, flow, inputs, attributes):
    flow.stamp_value = attributes["value"]
    yield


class ConfiguredDecoratorsFlow(FlowSpec):
    cfg = Config("cfg", default_value={"n": 7, "v": "seven", "greeting": "hi"})

    @Mark(n=cfg.n)
    @stamp(value=config_expr("cfg.v"))
    @environment(vars={"GREETING": config_expr("cfg.greeting")})
    @step
    def start(self):
        self.seen = os.environ.get("GREETING")
        self.next(self.end)

    @step
    def end(self):
        pass


class BadDecoratorExprFlow(FlowSpec):
    cfg = Config("cfg", default_value={"n": 1})

    @Mark(n=config_expr("cfg.missing"))
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class RetryFromConfig(FlowMutator):
    def pre_mutate(self, mutable_flow):
        cfg = dict(mutable_flow.configs)["cfg"]
        mutable_flow.add_parameter("extra", Parameter("extra", default=cfg.retries * 10))

    def mutate(self, mutable_flow):
        cfg = dict(mutable_flow.configs)["cfg"]
        for _name, mutable_step in mutable_flow.steps:
            mutable_step.add_decorator(retry, deco_kwargs={"times": cfg.retries, "backoff": 0})


@RetryFromConfig
class ConfigMutatedFlow(FlowSpec):
    cfg = Config("cfg", default_value={"retries": 2})

    @step
    def start(self):
        if current.retry_count < self.cfg.retries:
            raise RuntimeError("fails until its last retry")
        self.attempt = current.retry_count
        self.extra_seen = self.extra
        self.next(self.end)

    @step
    def end(self):
        pass


class DropRetry(FlowMutator):
    def mutate(self, mutable_flow):
        for _name, mutable_step in mutable_flow.steps:
            mutable_step.remove_decorator("retry")


class RetryBase(FlowSpec):
    @retry(times=4)
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


@DropRetry
class RetryChild(RetryBase):
    pass
