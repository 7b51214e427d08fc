"""A flow whose output attacks the UI's pages: ``HostileFlow`` prints terminal colour codes
and markup, then fails with a message of markup and 500 unbroken characters."""

from flowkit import FlowSpec, step

MARKUP = "<img src=x onerror=alert(1)></script>"


class HostileFlow(FlowSpec):
    @step
    def start(self):
        print("\x1b[31mred alert\x1b[0m " + MARKUP)
        self.next(self.boom)

    @step
    def boom(self):
        raise RuntimeError("bad " + MARKUP + " " + "y" * 500)
        self.next(self.end)

    @step
    def end(self):
        pass
