from flowkit import FlowSpec, step


class BadStepNamesFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.étape)

    @step
    def étape(self):  # expect: étape | 'étape' cannot be a step name
        self.next(self.sxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx)

    @step
    def sxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx(self):  # expect: sxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | cannot be a step name: the store could not hold its tasks
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BadStepNamesFlow()
