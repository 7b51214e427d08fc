"""Parameters, ``current`` and the flow object, written as a Metaflow user writes them."""

from flowkit import FlowSpec, Parameter, current, step


class ParamsFlow(FlowSpec):
    """Parameters with a separator and from the environment; current; self._graph."""

    names = Parameter("names", default="a,b", separator=",", help="comma-separated")
    alpha = Parameter("alpha", default=0.5)
    size = Parameter("my-size", default=1)
    label = Parameter("label", default="none")

    @step
    def start(self):
        try:
            self.alpha = 5
        except AttributeError as exc:
            self.assign_error = str(exc)
        self.params_seen = {
            "names": self.names,
            "alpha": self.alpha,
            "size": self.size,
            "label": self.label,
        }
        self.parameter_names = current.parameter_names
        self.step_names = [s.__name__ for s in self]
        self.current_values = {
            "is_running_flow": current.is_running_flow,
            "retry_count": current.retry_count,
            "origin_run_id": current.origin_run_id,
            "namespace": current.namespace,
            "username": current.username,
            "tags": sorted(current.tags),
            "parallel": tuple(current.parallel),
            "project_name in current": "project_name" in current,
            "get project_name": current.get("project_name", "no project"),
        }
        self.graph_steps = current.graph["steps"]
        self.graph_structure = current.graph["graph_structure"]
        self.nodes = {
            n.name: {
                "type": n.type,
                "out_funcs": n.out_funcs,
                "in_funcs": n.in_funcs,
                "split_parents": n.split_parents,
                "matching_join": n.matching_join,
                "foreach_param": n.foreach_param,
                "is_inside_foreach": n.is_inside_foreach,
                "func_lineno": n.func_lineno,
                "doc": n.doc,
            }
            for n in self._graph
        }
        self.next(self.each, foreach="names")

    @step
    def each(self):
        """One name."""
        self.upper = self.input.upper()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.uppers = [i.upper for i in inputs]
        self.input_alphas = [i.alpha for i in inputs]  # a parameter, read on an input
        self.merge_artifacts(inputs, exclude=["upper"])
        self.next(self.end)

    @step
    def end(self):
        self.end_names = self.names


if __name__ == "__main__":
    ParamsFlow()
