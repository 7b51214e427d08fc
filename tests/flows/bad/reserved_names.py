from flowkit import FlowSpec, step


class ReservedNamesFlow(FlowSpec):
    @step
    def start(self):
        self.input = [1, 2]  # expect: start | 'input' is reserved
        self.next(self.name)

    @step
    def name(self):  # expect: name | 'name' cannot be a step name
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ReservedNamesFlow()
