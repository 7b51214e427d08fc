"""@retry: separate attempt records, lost tasks retried without it, flow-level defaults,
and the backoff's exponential full jitter."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import flowkit
from flowkit.errors import FlowkitError
from flowkit.runtime.policy import backoff_delay, parse_with
from tests.failure.helpers import attempts, flow_cli
from tests.flows.failures import FlakyFlow, LostFlow, NoRetryFlakyFlow
from tests.runtime.test_shapes import Quiet


def test_each_attempt_is_its_own_record(tmp_path: Path) -> None:
    run = flowkit.run(FlakyFlow, store=str(tmp_path), progress=Quiet())
    assert run["work"].task.data.result == "ok after 2 retries"
    assert attempts(tmp_path, "FlakyFlow", "work") == [
        [("failed", "error"), ("failed", "error"), ("succeeded", None)]
    ]
    task = run["work"].task
    assert task.current_attempt == 2


def test_a_lost_task_is_retried_once_without_retry(tmp_path: Path) -> None:
    progress = Quiet()
    run = flowkit.run(LostFlow, store=str(tmp_path), progress=progress)
    assert run["work"].task.data.result == "survived"
    assert attempts(tmp_path, "LostFlow", "work") == [[("failed", "lost"), ("succeeded", None)]]
    retried = [e for e in progress.events if getattr(e, "status", None) == "retrying"]
    assert len(retried) == 1 and "SIGKILL" in str(retried[0].error)  # type: ignore[attr-defined]


def test_a_user_error_is_not_retried_without_retry(tmp_path: Path) -> None:
    with pytest.raises(flowkit.RunFailed):
        flowkit.run(NoRetryFlakyFlow, store=str(tmp_path), progress=Quiet())
    assert attempts(tmp_path, "NoRetryFlakyFlow", "start") == [[("failed", "error")]]


def test_with_retry_on_the_command_line(tmp_path: Path) -> None:
    result = flow_cli(
        "NoRetryFlakyFlow", "run", "--store", tmp_path, "--with", "retry:times=1,backoff=0"
    )
    assert result.returncode == 0, result.stderr
    assert attempts(tmp_path, "NoRetryFlakyFlow", "start") == [
        [("failed", "error"), ("succeeded", None)]
    ]
    bad = flow_cli("NoRetryFlakyFlow", "run", "--store", tmp_path, "--with", "retry:tims=1")
    assert bad.returncode == 1
    assert "error: --with retry:tims=1: @retry has no argument 'tims'" in bad.stderr
    assert "hint:" in bad.stderr and "Traceback" not in bad.stderr


def test_the_retry_setting_applies_to_every_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWKIT_RETRY", "1")
    run = flowkit.run(NoRetryFlakyFlow, store=str(tmp_path), progress=Quiet())
    assert run["start"].task.data.result == 1
    monkeypatch.setenv("FLOWKIT_RETRY", "-2")
    with pytest.raises(FlowkitError, match="setting retry must be a whole number >= 0"):
        flowkit.run(NoRetryFlakyFlow, store=str(tmp_path), progress=Quiet())


def test_with_rejects_what_cannot_apply_to_every_step() -> None:
    with pytest.raises(FlowkitError, match="'resources' cannot be applied to every step"):
        parse_with(["resources:cpu=2"])
    assert parse_with(["retry"])["retry"].args["times"] == 3
    assert parse_with([], retry_setting=2)["retry"].args["times"] == 2
    assert parse_with(["timeout:minutes=1.5"])["timeout"].args["minutes"] == 1.5


@pytest.mark.parametrize("attempt", [0, 1, 3, 6])
def test_backoff_is_exponential_with_full_jitter(attempt: int) -> None:
    rng = random.Random(1234 + attempt)
    values = {"backoff": 0.5, "max_delay": 20.0}
    cap = min(20.0, 0.5 * 2**attempt)
    samples = sorted(backoff_delay(values, attempt, rng) for _ in range(4000))
    assert samples[0] >= 0.0 and samples[-1] <= cap
    # uniform on [0, cap]: every quantile where it should be (Kolmogorov-Smirnov distance)
    ks = max(abs((i + 1) / len(samples) - s / cap) for i, s in enumerate(samples))
    assert ks < 0.03, ks
    assert samples[-1] > 0.95 * cap and samples[0] < 0.05 * cap  # full, not "equal", jitter
    again = random.Random(1234 + attempt)
    assert backoff_delay(values, attempt, again) == backoff_delay(
        values, attempt, random.Random(1234 + attempt)
    )
