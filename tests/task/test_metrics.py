"""current.log_metric: a task's metrics are stored with its artifacts, its own only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import flowkit
from flowkit.authoring.metrics import METRICS_ARTIFACT
from flowkit.errors import NotInTaskError
from flowkit.runtime.api import RunFailed
from flowkit.store import open_store
from tests.flows.metrics import MetricsFlow
from tests.runtime.test_shapes import Quiet


def _metrics(store: str, run_id: str, step: str) -> list[list[tuple[str, float, int]]]:
    opened = open_store(store)
    found = []
    for record in opened.records.list_tasks("MetricsFlow", run_id, step):
        ref = record.artifacts.get(METRICS_ARTIFACT)
        logged = [] if ref is None else opened.values.load_artifact(ref)
        found.append([(name, value, at) for name, value, at, _ in logged])
    return sorted(found)


def test_each_task_stores_the_metrics_it_logged(tmp_path: Path) -> None:
    run = flowkit.run(MetricsFlow, store=str(tmp_path), progress=Quiet(), epochs=3)
    assert _metrics(str(tmp_path), run.id, "start") == [[("setup", 1.0, 0)]]
    losses = _metrics(str(tmp_path), run.id, "train")
    assert losses == [
        [
            ("loss", r / 1, 0),
            ("loss", r / 2, 1),
            ("loss", r / 3, 2),
            ("final", r, 0),
            ("epochs", 3.0, 0),
        ]
        for r in (0.5, 2.0)
    ]
    # a join and the end log nothing, and inherit nothing of their parents'
    assert _metrics(str(tmp_path), run.id, "join") == [[]]
    assert _metrics(str(tmp_path), run.id, "end") == [[]]
    # private: the client lists it only when asked, as any artifact starting with "_"
    assert METRICS_ARTIFACT not in [a.id for a in run["end"].task]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("value", "metric 'loss' has the value 'high', not a number"),
        ("step", "metric 'loss' has step='one', not an int"),
    ],
)
def test_a_bad_metric_fails_its_step_saying_why(tmp_path: Path, bad: str, message: str) -> None:
    with pytest.raises(RunFailed) as info:
        flowkit.run(MetricsFlow, store=str(tmp_path), progress=Quiet(), epochs=1, bad=bad)
    assert message in str(info.value)
    assert "/train/" in (info.value.task or "")


def test_outside_a_step_log_metric_says_where_it_works() -> None:
    with pytest.raises(NotInTaskError, match=r"current.log_metric has no value outside"):
        flowkit.current.log_metric("loss", 1.0)


@pytest.mark.parametrize(
    ("name", "value", "step", "message"),
    [
        ("acc@top5", 0.5, None, "the metric name 'acc@top5' is not one MLflow takes"),
        ("a..b", 0.5, None, "the metric name 'a..b' is not one MLflow takes"),
        ("x" * 251, 0.5, None, "at most 250 characters"),
        ("loss", 0.5, 2**70, f"metric 'loss' has step={2**70}, past a 64-bit integer"),
        ("loss", [1.0, 2.0], None, "metric 'loss' has the value [1.0, 2.0], not a number"),
    ],
)
def test_a_metric_a_tracker_would_refuse_is_refused_when_logged(
    name: str, value: object, step: int | None, message: str
) -> None:
    """Refused in the step, naming the metric: MLflow would refuse it later, for the whole
    task's batch (and every sync after)."""
    from flowkit.authoring import metrics
    from flowkit.errors import FlowkitError

    with pytest.raises(FlowkitError, match=re.escape(message)):
        metrics.log(name, value, step)
    assert metrics.taken() == []
    metrics.log("acc_top-5/val: a.b", 0.5, 2**63 - 1)  # the rule's edges are taken
    assert [m[:3] for m in metrics.taken()] == [("acc_top-5/val: a.b", 0.5, 2**63 - 1)]


def test_a_numpy_array_is_not_a_metric() -> None:
    np = pytest.importorskip("numpy")
    from flowkit.authoring import metrics
    from flowkit.errors import FlowkitError

    with pytest.raises(FlowkitError, match=r"metric 'm' has the value array\(\[1\., 2\.\]\)"):
        metrics.log("m", np.array([1.0, 2.0]), None)
    metrics.log("m", np.float32(0.5), None)
    assert [m[:3] for m in metrics.taken()] == [("m", 0.5, 0)]
