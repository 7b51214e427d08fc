from flowkit import FlowSpec, step


class ForeachNotNameFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.work, foreach=self.items)  # expect: start | foreach= must name an artifact as a string

    @step
    def work(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ForeachNotNameFlow()
