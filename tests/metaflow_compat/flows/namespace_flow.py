"""A Metaflow-style flow whose step says which namespace its client reads runs in, and
which runs of the flow it sees there (``run --namespace``)."""

from flowkit import Flow, FlowSpec, current, get_namespace, step


class NamespaceFlow(FlowSpec):
    @step
    def start(self):
        self.client_namespace = get_namespace()
        self.current_namespace = current.namespace
        self.seen = sorted(r.id for r in Flow(current.flow_name).runs())
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NamespaceFlow()
