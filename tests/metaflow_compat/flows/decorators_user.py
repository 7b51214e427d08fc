"""Flows with user step decorators, written as a Metaflow user writes them."""

import os

from flowkit import USER_SKIP_STEP, FlowSpec, UserStepDecorator, step, user_step_decorator


@user_step_decorator
def timing(step_name, flow, inputs):
    flow.before = f"before {step_name}"
    yield
    flow.after = f"after {step_name}"


@user_step_decorator
def tagged(step_name, flow, inputs, attributes):
    flow.tags_seen = (flow.__dict__.get("tags_seen") or []) + [attributes.get("label", "none")]
    yield


@user_step_decorator
def swallow(step_name, flow, inputs):
    try:
        yield
    except ValueError as exc:
        flow.swallowed = str(exc)


@user_step_decorator
def skip_it(step_name, flow, inputs):
    yield USER_SKIP_STEP


@user_step_decorator
def count_inputs(step_name, flow, inputs, attributes):
    flow.n_inputs = None if inputs is None else len(inputs)
    yield


class AddOne(UserStepDecorator):
    def init(self, *args, **kwargs):
        self.amount = kwargs.get("amount", 1)

    def pre_step(self, step_name, flow, inputs=None):
        flow.counter = getattr(flow, "counter", 0) + self.amount

    def post_step(self, step_name, flow, exception=None):
        flow.counter_after = flow.counter * 10
        if exception:
            return exception
        return None


class UserDecoratorFlow(FlowSpec):
    @timing
    @tagged(label="outer")
    @step
    def start(self):
        self.inside = os.getpid() > 0
        self.next(self.fails)

    @swallow
    @step
    def fails(self):
        self.partial = "set before raising"
        if self.partial:
            raise ValueError("step raised")
        self.next(self.skipped)

    @skip_it
    @step
    def skipped(self):
        self.never = True
        self.next(self.end)

    @AddOne(amount=5)
    @step
    def end(self):
        self.counter += 1


class BranchingUserDecoratorFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @count_inputs
    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


@user_step_decorator
def boom(step_name, flow, inputs):
    yield
    raise RuntimeError(f"boom after {step_name}")


class FailingUserDecoratorFlow(FlowSpec):
    @boom
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
