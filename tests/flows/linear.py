"""Linear: start -> a -> b -> end, passing artifacts along untouched and changed."""

from flowkit import FlowSpec, Parameter, current, step

EXPECTED = {"end": {"total": 6, "seen": ["start", "a", "b"], "untouched": "kept"}}


class LinearFlow(FlowSpec):
    base = Parameter("base", default=1)

    @step
    def start(self):
        self.total = self.base
        self.seen = [current.step_name]
        self.untouched = "kept"
        self.next(self.a)

    @step
    def a(self):
        self.total += 2
        self.seen = [*self.seen, current.step_name]
        self.next(self.b)

    @step
    def b(self):
        self.total += 3
        self.seen = [*self.seen, current.step_name]
        self.next(self.end)

    @step
    def end(self):
        assert current.pathspec.endswith("/end/" + current.task_id)
