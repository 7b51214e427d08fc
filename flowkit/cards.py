"""``flowkit.cards``: what ``metaflow.cards`` offers, for ``@card`` reports.

Components to append with ``current.card.append(...)`` inside a ``@card`` step, and
:func:`get_cards` to read a finished task's cards (each one self-contained HTML page)::

    from flowkit import FlowSpec, card, current, step
    from flowkit.cards import Markdown, Table

    class Report(FlowSpec):
        @card
        @step
        def start(self):
            current.card.append(Markdown("# Scores"))
            current.card.append(Table([[1, 0.9]], headers=["fold", "auc"]))
            self.next(self.end)
"""

from flowkit.authoring.card_collector import CardCollector, CardComponents
from flowkit.authoring.cards import (
    Artifact,
    CardComponent,
    Error,
    Image,
    Markdown,
    MetaflowCardComponent,
    ProgressBar,
    PythonCode,
    Table,
    ValueBox,
    VegaChart,
)
from flowkit.client.cards import Card, CardContainer, CardNotFoundError, get_cards

__all__ = [
    "Artifact",
    "Card",
    "CardCollector",
    "CardComponent",
    "CardComponents",
    "CardContainer",
    "CardNotFoundError",
    "Error",
    "Image",
    "Markdown",
    "MetaflowCardComponent",
    "ProgressBar",
    "PythonCode",
    "Table",
    "ValueBox",
    "VegaChart",
    "get_cards",
]
