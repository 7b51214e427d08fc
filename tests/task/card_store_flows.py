"""Flows whose task cannot finish as planned in flowkit's own code, as ``FLOWKIT_TEST_BREAK``
says: ``card-store`` (storing a card fails, as on a full disk) or ``settle`` (flowkit fails
after the step, outside anything that reports it). Importing this module (in the task's
process, or the test's) installs the breakage; it acts only while the variable is set."""

from __future__ import annotations

import os
from typing import Any

from flowkit import FlowSpec, card, catch, current, step
from flowkit.cards import Markdown
from flowkit.store import StoreError
from flowkit.task.cards import TaskCards
from flowkit.task.started import StartRecord

_store_card = TaskCards._store_card
_settle = StartRecord.settle


def _failing_store_card(self: TaskCards, *args: Any) -> Any:
    if os.environ.get("FLOWKIT_TEST_BREAK") == "card-store":
        raise StoreError("simulated: no space left on device", "free some space")
    return _store_card(self, *args)


def _failing_settle(self: StartRecord) -> None:
    if os.environ.get("FLOWKIT_TEST_BREAK") == "settle":
        raise RuntimeError("simulated failure in flowkit's own code")
    _settle(self)


TaskCards._store_card = _failing_store_card  # type: ignore[method-assign]
StartRecord.settle = _failing_settle  # type: ignore[method-assign]


class CardStoreFlow(FlowSpec):
    """``good`` succeeds and ``bad`` fails, both with a card."""

    @card
    @step
    def start(self):
        self.next(self.good)

    @card(type="blank")
    @step
    def good(self):
        current.card.append(Markdown("fine"))
        self.v = 1
        self.next(self.bad)

    @card
    @step
    def bad(self):
        raise ValueError("THE REAL USER ERROR")
        self.next(self.end)

    @step
    def end(self):
        pass


class CaughtCardFlow(FlowSpec):
    """A caught step's card keeps what the step appended before it failed."""

    @step
    def start(self):
        self.next(self.work)

    @card(type="blank")
    @catch(var="err")
    @step
    def work(self):
        current.card.append(Markdown("PROGRESS-REPORT-41"))
        raise RuntimeError("late failure")
        self.next(self.end)

    @step
    def end(self):
        pass
