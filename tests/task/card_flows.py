"""Flows whose cards cannot be rendered: a value whose repr raises, a component that takes
longer than its card's timeout."""

from __future__ import annotations

import time

from flowkit import FlowSpec, card, current, step
from flowkit.cards import CardComponent, Markdown


class Unprintable:
    def __repr__(self) -> str:
        raise ValueError("no repr for this value")


class Slow(CardComponent):
    def render(self) -> str:
        time.sleep(5)
        return "too late"


class BrokenCardFlow(FlowSpec):
    @card
    @step
    def start(self):
        self.odd = Unprintable()
        self.fine = 42
        current.card.append(Markdown("IMPORTANT-REPORT"))
        self.next(self.slow)

    @card(type="blank", timeout=0.5)
    @step
    def slow(self):
        current.card.append(Slow())
        self.next(self.end)

    @card(type="blank")
    @step
    def end(self):
        current.card.append(Markdown("fine"))


class OneCardFlow(FlowSpec):
    @card(type="blank", id="only")
    @step
    def start(self):
        current.card.append(Markdown("one"))
        self.next(self.end)

    @step
    def end(self):
        pass
