"""A Metaflow-style flow with configs: a default file, a default value, a parser given by
its dotted name, config expressions in decorators, a parameter default and ``@project``."""

from flowkit import (
    Config,
    FlowSpec,
    Parameter,
    config_expr,
    current,
    project,
    resources,
    retry,
    step,
)


def kv_parser(text):
    """``a=1`` lines as a dict, for ``Config(parser=...)``."""
    return dict(line.split("=", 1) for line in text.splitlines() if line.strip())


@project(name=config_expr("cfg.project"))
class ConfigFlow(FlowSpec):
    cfg = Config("cfg", default="config_default.json", help="the flow's settings")
    settings = Config("settings", default_value={"greeting": "hi", "scale": 2})
    kv = Config(
        "kv", default_value="a=1\nb=2", parser="tests.metaflow_compat.flows.config_flow.kv_parser"
    )
    alpha = Parameter("alpha", default=cfg.alpha)
    fail_end = Parameter("fail_end", default=False)

    @retry(times=cfg.retries)
    @resources(cpu=config_expr("cfg.cpu"))
    @step
    def start(self):
        self.lr = self.cfg.model.lr
        self.lr_item = self.cfg["model"]["lr"]
        self.alpha_seen = self.alpha
        self.kv_seen = dict(self.kv)
        self.project = (current.project_name, current.branch_name, current.project_flow_name)
        try:
            self.cfg.model.lr = 5
        except TypeError as exc:
            self.immutable = str(exc)
        self.next(self.middle)

    @step
    def middle(self):
        self.scaled = 10 * self.settings.scale
        self.next(self.end)

    @step
    def end(self):
        if self.fail_end:
            raise RuntimeError("end was told to fail")
        self.greeting = self.settings.greeting
        self.cfg_seen = self.cfg.to_dict()


if __name__ == "__main__":
    ConfigFlow()
