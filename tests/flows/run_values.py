"""Parameters and a config that only some steps read: a resume or a ``--reuse`` run given
new values clones or reuses the steps before them."""

from flowkit import Config, FlowSpec, Parameter, step


class RunValuesFlow(FlowSpec):
    alpha = Parameter("alpha", default=1)
    cfg = Config("cfg", default_value={"scale": 2})

    @step
    def start(self):
        self.rows = [1, 2, 3]
        self.next(self.prep)

    @step
    def prep(self):
        self.total = sum(self.rows)
        self.next(self.fit)

    @step
    def fit(self):
        self.fitted = self.total * self.alpha
        self.next(self.scale)

    @step
    def scale(self):
        self.scaled = self.fitted * self.cfg.scale
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    RunValuesFlow()
