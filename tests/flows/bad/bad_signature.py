from flowkit import FlowSpec, retry, step


class BadSignatureFlow(FlowSpec):
    @step
    def start(self, a, b):  # expect: start | unsupported signature
        self.next(self.middle)

    @retry(times=-1)  # expect: middle | @retry(times=-1) is invalid
    @step
    def middle(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BadSignatureFlow()
