"""A Config and a FlowMutator on a 20-split foreach. The mutator notes, in the file
``$CONFIGURED_ONCE_LOG``, the process it ran in; it fails in any process but the one
``$CONFIGURED_ONCE_FAIL_BUT`` names, when that is set (the scheduler's, in a test)."""

import os

from flowkit import Config, FlowMutator, FlowSpec, Parameter, step


class Scaled(FlowMutator):
    def pre_mutate(self, mutable_flow):
        with open(os.environ["CONFIGURED_ONCE_LOG"], "a") as log:
            log.write(f"{os.getpid()}\n")
        spared = os.environ.get("CONFIGURED_ONCE_FAIL_BUT")
        if spared and int(spared) != os.getpid():
            raise RuntimeError("the mutator refused to run here")
        factor = dict(mutable_flow.configs)["cfg"]["factor"]
        mutable_flow.add_parameter("factor", Parameter("factor", default=factor))


@Scaled
class ConfiguredOnceFlow(FlowSpec):
    cfg = Config("cfg", default_value={"factor": 3, "n": 20})

    @step
    def start(self):
        self.items = list(range(self.cfg["n"]))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.scaled = self.input * self.factor
        self.next(self.join)

    @step
    def join(self, inputs):
        self.scaled = sorted(i.scaled for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
