from flowkit import FlowSpec, step


class SwitchWithoutConditionFlow(FlowSpec):
    @step
    def start(self):
        self.mode = "a"
        self.next({"a": self.a, "b": self.end})  # expect: start | a dict of cases needs condition=

    @step
    def a(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SwitchWithoutConditionFlow()
