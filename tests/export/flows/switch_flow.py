"""A switch whose "skip" case goes straight to where the "deploy" case ends: the deploy
task is skipped under Airflow and the run still succeeds."""

from flowkit import FlowSpec, Parameter, step


class SwitchFlow(FlowSpec):
    decision = Parameter("decision", default="skip")

    @step
    def start(self):
        self.choice = self.decision
        self.next({"deploy": self.deploy, "skip": self.end}, condition="choice")

    @step
    def deploy(self):
        self.deployed = True
        self.next(self.end)

    @step
    def end(self):
        self.finished = True


if __name__ == "__main__":
    SwitchFlow()
