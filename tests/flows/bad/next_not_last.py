from flowkit import FlowSpec, step


class NextNotLastFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)  # expect: start | must be the last statement
        self.x = 1

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NextNotLastFlow()
