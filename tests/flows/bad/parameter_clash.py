from flowkit import FlowSpec, Parameter, step


class ParameterClashFlow(FlowSpec):
    train = Parameter("train", default=1)  # expect: - | defined here and again as a step
    index = Parameter("index", default=0)  # expect: - | reserved name 'index'
    reuse = Parameter("reuse", default="no")  # expect: - | has the name of the run option --reuse
    workers = Parameter("max-workers", default=2)  # expect: - | the run option --max-workers
    with_ = Parameter("with", default="")  # expect: - | has the name of the run option --with

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
