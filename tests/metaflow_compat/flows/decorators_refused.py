"""Flows using Metaflow features flowkit does not offer: importing works, lint refuses."""

from flowkit import FlowSpec, kubernetes, schedule, secrets, step


@schedule(daily=True)
class ScheduledFlow(FlowSpec):
    @kubernetes(cpu=2)
    @step
    def start(self):
        self.next(self.end)

    @secrets(sources=["db-credentials"])
    @step
    def end(self):
        pass
