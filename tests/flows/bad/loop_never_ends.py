from flowkit import FlowSpec, step


class LoopNeverEndsFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.spin)

    @step
    def spin(self):
        self.again = "yes"
        self.next({"yes": self.spin}, condition="again")  # expect: spin | the loop never ends

    @step
    def end(self):  # expect: end | can never run
        pass


if __name__ == "__main__":
    LoopNeverEndsFlow()
