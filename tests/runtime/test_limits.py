"""max_workers above this machine's CPUs: each local step takes one CPU by default, so fewer
tasks run at once; the run says so as it starts (RunStarted.limit), and only then."""

from __future__ import annotations

import os
from pathlib import Path

import flowkit
from flowkit import FlowSpec, resources, step
from flowkit.lint.api import graph_of
from flowkit.runtime.events import RunStarted
from flowkit.runtime.limits import cpu_limit
from flowkit.runtime.policy import FailurePolicy
from tests.flows.foreach import ForeachFlow
from tests.runtime.test_shapes import Quiet


class HalfCpuFlow(FlowSpec):
    @resources(cpu=0.5)
    @step
    def start(self):
        self.next(self.end)

    @resources(cpu=0.5)
    @step
    def end(self):
        pass


class LinearFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class SplitFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b, self.c)

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def c(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_more_workers_than_cpus_says_how_many_run_at_once() -> None:
    note = cpu_limit(graph_of(ForeachFlow), FailurePolicy(), max_workers=4, cpus=2)
    assert note == (
        "max_workers=4, but this machine has 2 CPUs and each step takes 1 CPU by default: "
        "at most 2 tasks run at once (@resources(cpu=0.5) lets two share one)"
    )


def test_no_note_when_the_cpus_hold_back_nothing() -> None:
    graph = graph_of(ForeachFlow)
    assert cpu_limit(graph, FailurePolicy(), max_workers=2, cpus=2) is None
    assert cpu_limit(graph, FailurePolicy(), max_workers=1, cpus=8) is None
    # half a CPU a step: 4 fit on 2 cores, 6 do not
    assert cpu_limit(graph_of(HalfCpuFlow), FailurePolicy(), max_workers=4, cpus=2) is None
    six = cpu_limit(graph_of(ForeachFlow), FailurePolicy(), max_workers=6, cpus=3)
    assert six is not None and "takes 1 CPU by default: at most 3 tasks run at once" in six


def test_no_note_for_a_flow_that_never_runs_more_tasks_at_once_than_fit() -> None:
    # one task at a time: the CPUs hold nothing back, whatever max_workers says
    assert cpu_limit(graph_of(HalfCpuFlow), FailurePolicy(), max_workers=6, cpus=2) is None
    assert cpu_limit(graph_of(LinearFlow), FailurePolicy(), max_workers=4, cpus=2) is None
    # a split into 3 branches: 2 at once on 2 cores holds one back; on 3 cores, none
    assert cpu_limit(graph_of(SplitFlow), FailurePolicy(), max_workers=4, cpus=3) is None
    note = cpu_limit(graph_of(SplitFlow), FailurePolicy(), max_workers=4, cpus=2)
    assert note is not None and "at most 2 tasks run at once" in note


def test_a_run_with_more_workers_than_cpus_reports_the_limit(tmp_path: Path) -> None:
    cpus = os.cpu_count() or 1
    progress = Quiet()
    flowkit.run(ForeachFlow, store=str(tmp_path), max_workers=cpus + 2, progress=progress, n=2)
    (started,) = [e for e in progress.events if isinstance(e, RunStarted)]
    assert started.limit is not None
    assert f"max_workers={cpus + 2}, but this machine has {cpus} CPUs" in started.limit
    assert f"at most {cpus} tasks run at once" in started.limit
    quiet = Quiet()
    flowkit.run(ForeachFlow, store=str(tmp_path), max_workers=1, progress=quiet, n=2)
    assert [e.limit for e in quiet.events if isinstance(e, RunStarted)] == [None]
