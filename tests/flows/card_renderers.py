"""A flow whose steps say whether their process had the card renderers imported before the
step ran (run it with ``--with card`` to give every step a card)."""

import sys

from flowkit import FlowSpec, step


def _renderers() -> bool:
    return "flowkit.task.card_page" in sys.modules


class CardRenderersFlow(FlowSpec):
    @step
    def start(self):
        self.loaded = _renderers()
        self.next(self.end)

    @step
    def end(self):
        self.loaded = _renderers()
