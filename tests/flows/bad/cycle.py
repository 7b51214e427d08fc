from flowkit import FlowSpec, step


class CycleFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a)

    @step
    def a(self):
        self.next(self.b)

    @step
    def b(self):
        self.next(self.a)  # expect: b | making a cycle

    @step
    def end(self):  # expect: end | can never run
        pass


if __name__ == "__main__":
    CycleFlow()
