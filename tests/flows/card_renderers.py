"""A flow whose first step has a card: each step says whether its process had the card
renderers imported before the step ran."""

import sys

from flowkit import FlowSpec, card, step


def _renderers() -> bool:
    return "flowkit.task.card_page" in sys.modules


class CardRenderersFlow(FlowSpec):
    @card
    @step
    def start(self):
        self.loaded = _renderers()
        self.next(self.end)

    @step
    def end(self):
        self.loaded = _renderers()


class NoCardsFlow(FlowSpec):
    @step
    def start(self):
        self.loaded = _renderers()
        self.next(self.end)

    @step
    def end(self):
        self.loaded = _renderers()
