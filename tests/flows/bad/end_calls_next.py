from flowkit import FlowSpec, step


class EndCallsNextFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        self.next(self.start)  # expect: end | end step must not call self.next()


if __name__ == "__main__":
    EndCallsNextFlow()
