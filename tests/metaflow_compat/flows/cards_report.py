"""Flows with @card reports, written as a Metaflow user writes them (only the import differs)."""

from __future__ import annotations

from flowkit import FlowSpec, card, current, step
from flowkit.cards import Artifact, Error, Image, Markdown, ProgressBar, Table, VegaChart

#: The smallest valid PNG: one transparent pixel.
PIXEL_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
EVIL = "<script>alert('x')</script>"


class CardFlow(FlowSpec):
    """A default card with components, several cards on one step, a blank card, and a step
    that appends without @card."""

    @card
    @step
    def start(self):
        self.scores = {"auc": 0.91, "note": EVIL}
        self.rows = [1, 2, 3]
        self.pixel = PIXEL_PNG
        current.card.append(Markdown("# Scores for **start**"))
        current.card.append(Table([["auc", 0.91], ["evil", EVIL]], headers=["metric", "value"]))
        current.card.append(Image(PIXEL_PNG, "one pixel"))
        current.card.extend(
            [Artifact({"k": EVIL}, name="a dict"), ProgressBar(max=10, value=7, label="epochs")]
        )
        self.next(self.several)

    @card(type="blank", id="summary")
    @card(id="details")
    @card(type="blank")
    @step
    def several(self):
        current.card["summary"].append(Markdown("summary card"))
        current.card["details"].append(Markdown("details card"))
        current.card.append(Markdown("the card without an id"))
        current.card["missing"].append(Markdown("goes nowhere"))
        current.card.append(VegaChart({"title": "chart", "mark": "bar"}))
        self.next(self.plain)

    @step
    def plain(self):
        current.card.append(Markdown("no card here"))
        self.done = True
        self.next(self.end)

    @card(type="html")
    @step
    def end(self):
        current.card.append(Error(ValueError("shown"), "an error component"))


class FailingCardFlow(FlowSpec):
    """A step that appends to its card and then fails."""

    @card
    @step
    def start(self):
        self.before = "set before failing"
        current.card.append(Markdown("appended before the failure"))
        raise RuntimeError("the step broke")
        self.next(self.end)

    @step
    def end(self):
        pass


class PlainFlow(FlowSpec):
    """No @card anywhere: ``run --with card`` gives each step one."""

    @step
    def start(self):
        self.answer = 42
        self.next(self.end)

    @step
    def end(self):
        pass
