"""Flows for the scheduler's tests: overlap policies, refusals, a loop, a per-minute flow."""

from flowkit import FlowSpec, Parameter, current, schedule, step, trigger, trigger_on_finish


@trigger(event={"name": "work", "parameters": ["item"]}, overlap="queue")
class QueuedFlow(FlowSpec):
    item = Parameter("item", default="none")

    @step
    def start(self):
        self.done = self.item
        self.next(self.end)

    @step
    def end(self):
        pass


@trigger(event={"name": "work", "parameters": ["item"]})
class SkippedFlow(FlowSpec):
    item = Parameter("item", default="none")

    @step
    def start(self):
        self.done = self.item
        self.next(self.end)

    @step
    def end(self):
        pass


class PlainFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


@trigger_on_finish(flow="LoopB")
class LoopA(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


@trigger_on_finish(flow="LoopA")
class LoopB(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


@schedule(cron="* * * * *")
class MinuteFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


@schedule(hourly=True, catchup=True)
class CatchupFlow(FlowSpec):
    @step
    def start(self):
        self.slot = current.scheduled_at
        self.next(self.end)

    @step
    def end(self):
        pass


@trigger(event={"name": "numbers", "parameters": {"alpha": "value"}})
class TypedFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5)

    @step
    def start(self):
        self.doubled = 2 * self.alpha
        self.next(self.end)

    @step
    def end(self):
        pass
