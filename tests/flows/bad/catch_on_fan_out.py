from flowkit import FlowSpec, catch, step


class CatchOnFanOutFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.split)

    @catch(var="err")
    @step
    def split(self):  # expect: split | has @catch, but it fans out (foreach)
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.mode = "a"
        self.next(self.choose)

    @catch
    @step
    def choose(self):  # expect: choose | has @catch, but it chooses a case (switch)
        self.next({"a": self.a, "b": self.b}, condition="mode")

    @step
    def a(self):
        self.next(self.end)

    @step
    def b(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CatchOnFanOutFlow()
