"""What a task says when flowkit's own work around its step fails: a card that cannot be
stored never hides the step's exception nor fails a step that succeeded, and a failure in
flowkit's code is printed in the task's log before the process exits 70."""

from __future__ import annotations

from pathlib import Path

import pytest

import flowkit
from flowkit.cards import get_cards
from tests.runtime.test_shapes import Quiet
from tests.task.card_store_flows import CardStoreFlow, CaughtCardFlow


def test_a_card_that_cannot_be_stored_hides_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWKIT_TEST_BREAK", "card-store")
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(CardStoreFlow, store=str(tmp_path), progress=Quiet())
    run = info.value.run
    good = run["good"].task
    assert good.successful and good.data.v == 1 and good.record.cards == ()
    assert "[@card WARNING]" in good.stderr and "no space left on device" in good.stderr
    bad = run["bad"].task
    assert bad.record.status == "failed" and bad.record.exit_code == 1
    assert bad.exception is not None and bad.exception.message == "THE REAL USER ERROR"
    assert "ValueError: THE REAL USER ERROR" in bad.stderr  # its traceback, in its log
    assert "its cards were not stored" in bad.stderr and bad.record.cards == ()
    assert "THE REAL USER ERROR" in info.value.render()


def test_a_failure_in_flowkits_own_code_is_printed_before_exit_70(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWKIT_TEST_BREAK", "settle")
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(CardStoreFlow, store=str(tmp_path), progress=Quiet())
    start = info.value.run["start"].task
    assert start.record.exit_code == 70
    assert "could not be finished (exit status 70)" in start.stderr
    assert "RuntimeError: simulated failure in flowkit's own code" in start.stderr
    assert "Traceback (most recent call last):" in start.stderr


def test_a_caught_steps_card_keeps_what_it_appended_before_it_failed(tmp_path: Path) -> None:
    run = flowkit.run(CaughtCardFlow, store=str(tmp_path), progress=Quiet())
    work = run["work"].task
    assert work.record.status == "caught" and work.data.err.message == "late failure"
    [card] = get_cards(work)
    assert "PROGRESS-REPORT-41" in card.html
