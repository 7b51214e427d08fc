from flowkit import FlowSpec, step


class NoNextFlow(FlowSpec):
    @step
    def start(self):  # expect: start | never calls self.next()
        self.x = 1

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NoNextFlow()
