from flowkit import FlowSpec, Parameter, step


class ParameterClashFlow(FlowSpec):
    train = Parameter("train", default=1)  # expect: - | defined here and again as a step
    index = Parameter("index", default=0)  # expect: - | reserved name 'index'

    @step
    def start(self):
        self.next(self.train)

    @step
    def train(self):  # noqa: F811 - the clash lint must report
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParameterClashFlow()
