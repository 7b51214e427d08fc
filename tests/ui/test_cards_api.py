"""A task's @card reports in the UI: listed by the task API, each served as its HTML page,
sandboxed so that a card's scripts cannot reach the UI."""

from __future__ import annotations

from pathlib import Path

import pytest

import flowkit
from tests.metaflow_compat.flows.cards_report import EVIL, CardFlow
from tests.runtime.test_shapes import Quiet
from tests.ui.conftest import api_client


@pytest.fixture(scope="module")
def card_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    store = tmp_path_factory.mktemp("cards") / "store"
    run = flowkit.run(CardFlow, store=str(store), progress=Quiet())
    return store, run.id


def test_a_tasks_cards_are_listed_and_served_sandboxed(card_run: tuple[Path, str]) -> None:
    store, run_id = card_run
    client = api_client(store)
    (start,) = client.get(f"/api/runs/CardFlow/{run_id}/start").json()["tasks"]
    task = client.get(f"/api/runs/{start['pathspec']}").json()
    assert [(c["type"], c["id"]) for c in task["cards"]] == [("default", None)]
    page = client.get(task["cards"][0]["url"])
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == "sandbox allow-scripts allow-popups"
    assert "Scores for" in page.text
    # the step's own text is escaped in the card, never markup
    assert EVIL not in page.text


def test_several_cards_keep_their_ids_and_types(card_run: tuple[Path, str]) -> None:
    store, run_id = card_run
    client = api_client(store)
    (several,) = client.get(f"/api/runs/CardFlow/{run_id}/several").json()["tasks"]
    cards = client.get(f"/api/runs/{several['pathspec']}").json()["cards"]
    assert sorted((c["type"], c["id"] or "") for c in cards) == [
        ("blank", ""),
        ("blank", "summary"),
        ("default", "details"),
    ]
    texts = {(c["type"], c["id"]): client.get(c["url"]).text for c in cards}
    assert "summary card" in texts["blank", "summary"]
    assert "details card" in texts["default", "details"]


def test_a_card_that_is_not_there_is_a_404(card_run: tuple[Path, str]) -> None:
    store, run_id = card_run
    client = api_client(store)
    (plain,) = client.get(f"/api/runs/CardFlow/{run_id}/plain").json()["tasks"]
    assert client.get(f"/api/runs/{plain['pathspec']}").json()["cards"] == []
    for index in ("0", "-1", "x"):
        answer = client.get(f"/api/runs/{plain['pathspec']}/cards/{index}")
        assert answer.status_code == 404
        assert "has no card" in answer.json()["error"]
