"""Upstream -> Downstream (runs when Upstream succeeds), and Retrain (runs on an event)."""

from flowkit import FlowSpec, Parameter, current, step, trigger, trigger_on_finish


class Upstream(FlowSpec):
    fail = Parameter("fail", default=False, type=bool)

    @step
    def start(self):
        if self.fail:
            raise RuntimeError("upstream failed on purpose")
        self.value = 41
        self.next(self.end)

    @step
    def end(self):
        pass


@trigger_on_finish(flow="Upstream")
class Downstream(FlowSpec):
    @step
    def start(self):
        run = current.trigger.run
        self.upstream = run.pathspec
        self.value = run.data.value + 1
        self.next(self.end)

    @step
    def end(self):
        pass


@trigger(event={"name": "drift_detected", "parameters": {"threshold": "drift"}})
class Retrain(FlowSpec):
    threshold = Parameter("threshold", default=0.5)

    @step
    def start(self):
        self.seen = float(self.threshold)
        self.event = current.trigger.event.name
        self.next(self.end)

    @step
    def end(self):
        pass
