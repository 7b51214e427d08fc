"""The warm worker imports what rendering a card takes once, before it forks the first task
that has a card, so each such task does not import it after its step; a flow without cards
never imports it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

import flowkit
from flowkit.cards import get_cards
from flowkit.executor.forkserver import ForkServer
from flowkit.task import cards
from tests.flows.card_renderers import CardRenderersFlow
from tests.runtime.test_shapes import Quiet


def test_the_worker_imports_the_card_renderers_before_a_task_with_a_card(tmp_path: Path) -> None:
    run = flowkit.run(
        CardRenderersFlow,
        store=str(tmp_path / "store"),
        progress=Quiet(),
        with_decorators=["card"],  # run --with card: a card on every step
    )
    assert run.successful
    assert run["start"].task.data.loaded is True
    [page] = get_cards(run["start"].task)  # and the card was rendered and stored
    assert "CardRenderersFlow" in page.get()
    assert [card.type for card in get_cards(run["end"].task)] == ["default"]


def test_a_flow_without_cards_never_imports_them(tmp_path: Path) -> None:
    run = flowkit.run(CardRenderersFlow, store=str(tmp_path / "store"), progress=Quiet())
    assert [run["start"].task.data.loaded, run["end"].task.data.loaded] == [False, False]


def test_renderers_that_fail_to_import_leave_the_worker_serving(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken() -> None:
        raise ImportError("a card dependency is missing")

    monkeypatch.setattr(cards, "load_renderers", broken)
    worker = SimpleNamespace(renders_cards=False)
    spec = SimpleNamespace(step="start", with_card={"type": "default"})
    ForkServer._load_renderers(worker, spec, CardRenderersFlow)  # type: ignore[arg-type]
    assert worker.renders_cards is True  # tried once; each task imports them itself
