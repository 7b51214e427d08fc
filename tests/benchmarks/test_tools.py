"""Each benchmark flow is written once; a tool's variant differs only in its import line."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import flows
from benchmarks.tools import Tool

SOURCES = {
    "hello": flows.HELLO,
    "foreach": flows.FOREACH,
    "array": flows.ARRAY,
    "linear": flows.linear(20),
    "client-latest": flows.CLIENT_LATEST,
}
METAFLOW = Tool("metaflow", Path("python"), "metaflow")


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_metaflow_variant_differs_only_in_the_import_line(name: str) -> None:
    ours = SOURCES[name].splitlines()
    theirs = METAFLOW.source(SOURCES[name]).splitlines()
    changed = [(a, b) for a, b in zip(ours, theirs, strict=True) if a != b]
    assert len(changed) == 1
    assert changed[0][0].startswith("from flowkit import ")
    assert changed[0][1] == changed[0][0].replace("flowkit", "metaflow", 1)


def test_linear_flow_has_the_asked_steps_and_fails_at_the_second_to_last() -> None:
    source = flows.linear(20)
    assert source.count("    @step\n") == 20
    assert f"def {flows.fail_step(20)}(self):" in source
    assert flows.fail_step(20) == "s19"


def test_a_source_without_flowkit_import_is_refused() -> None:
    with pytest.raises(ValueError, match="import from flowkit"):
        METAFLOW.source("from metaflow import FlowSpec\n")
