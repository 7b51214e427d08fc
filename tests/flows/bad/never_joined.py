from flowkit import FlowSpec, step


class NeverJoinedFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.work, foreach="items")  # expect: start | are never joined

    @step
    def work(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NeverJoinedFlow()
