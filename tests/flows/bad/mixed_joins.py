from flowkit import FlowSpec, step


class MixedJoinsFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b, self.c)  # expect: start | branch 'c' of split 'start' never reaches its join 'join'

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def c(self):
        self.next(self.join2)

    @step
    def join(self, inputs):
        self.next(self.join2)

    @step
    def join2(self, inputs):  # expect: join2 | from inside split 'start' (c) and from outside it (join)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MixedJoinsFlow()
