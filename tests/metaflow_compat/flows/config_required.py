"""A flow whose config must be given, whose expression needs a key, and a plain config."""

from flowkit import Config, FlowSpec, Parameter, step, timeout


class ConfigRequiredFlow(FlowSpec):
    need = Config("need", required=True)
    raw = Config("raw", default_value="just text", plain=True)
    limit = Parameter("limit", default=need.limits.seconds)

    @timeout(**need.timeout)
    @step
    def start(self):
        self.raw_seen = self.raw
        self.limit_seen = self.limit
        self.next(self.end)

    @step
    def end(self):
        pass
