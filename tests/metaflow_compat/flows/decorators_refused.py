"""Flows using Metaflow features flowkit does not offer: importing works, lint refuses."""

from flowkit import FlowSpec, exit_hook, kubernetes, secrets, step


@exit_hook(on_error=["page_someone"])
class RefusedFlow(FlowSpec):
    @kubernetes(cpu=2)
    @step
    def start(self):
        self.next(self.end)

    @secrets(sources=["db-credentials"])
    @step
    def end(self):
        pass
