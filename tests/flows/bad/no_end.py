from flowkit import FlowSpec, step


class NoEndFlow(FlowSpec):  # expect: - | has no 'end' step
    @step
    def start(self):
        self.next(self.finish)

    @step
    def finish(self):  # expect: finish | never calls self.next()
        pass


if __name__ == "__main__":
    NoEndFlow()
