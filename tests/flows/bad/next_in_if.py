from flowkit import FlowSpec, step


class NextInIfFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        if self.x:
            self.next(self.a)  # expect: start | must be the last statement
        else:
            self.next(self.end)  # expect: start | must be the last statement

    @step
    def a(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NextInIfFlow()
