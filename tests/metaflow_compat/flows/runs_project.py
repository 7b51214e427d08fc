"""Metaflow-style flows whose parameters are named ``branch`` and ``production``: one in a
``@project`` (whose own --branch/--production come before the command) with a config, and
one without; each step records what ``for step in self`` yields."""

from flowkit import Config, FlowSpec, Parameter, current, project, retry, step


@project(name="runs_proj")
class RunsProjectFlow(FlowSpec):
    cfg = Config("cfg", default_value={"greeting": "hi"})
    branch = Parameter("branch", default="main")
    production = Parameter("production", default=False, type=bool)

    @retry(times=2)
    @step
    def start(self):
        self.steps = [
            (s.name, s.is_step, [(d.name, d.attributes) for d in s.decorators]) for s in self
        ]
        self.seen = {
            "branch": self.branch,
            "production": self.production,
            "project_branch": current.branch_name,
            "greeting": self.cfg.greeting,
        }
        self.next(self.end)

    @step
    def end(self):
        pass


class PlainBranchFlow(FlowSpec):
    branch = Parameter("branch", default="main")
    production = Parameter("production", default=False, type=bool)

    @step
    def start(self):
        self.seen = (self.branch, self.production, "project_name" in current)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    RunsProjectFlow()
