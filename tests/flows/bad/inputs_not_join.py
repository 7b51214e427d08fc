from flowkit import FlowSpec, step


class InputsNotJoinFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.middle)

    @step
    def middle(self, inputs):  # expect: middle | takes inputs but is not a join
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    InputsNotJoinFlow()
