"""Rendering and storing a task's cards when it ends: a card that cannot render, or takes
too long, never fails its task; the card names the problem, and so does stderr."""

from __future__ import annotations

from pathlib import Path

import pytest

import flowkit
from flowkit.cards import get_cards
from flowkit.store.blobs import blob_key
from flowkit.store.fsck import fsck
from flowkit.store.gc_names import task_names
from flowkit.store.open import open_store
from tests.runtime.test_shapes import Quiet
from tests.task.card_flows import BrokenCardFlow, OneCardFlow


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> flowkit.Run:
    store = tmp_path_factory.mktemp("broken-cards")
    return flowkit.run(BrokenCardFlow, store=str(store), progress=Quiet())


def test_an_artifact_that_cannot_be_shown_is_an_error_in_its_own_cell(run: flowkit.Run) -> None:
    task = run["start"].task
    assert task.successful
    [card] = get_cards(task)
    assert "failed to render" not in card.html and "[@card WARNING]" not in task.stderr
    assert "<td><i>not shown: ValueError: no repr for this value</i></td>" in card.html
    assert "<td><b>fine</b></td>" in card.html and "IMPORTANT-REPORT" in card.html  # the rest


def test_a_card_over_its_timeout_says_so(run: flowkit.Run) -> None:
    task = run["slow"].task
    assert task.successful
    [card] = get_cards(task)
    assert "took more than its timeout of 0.5s" in card.html
    assert "took more than its timeout of 0.5s" in task.stderr
    # the task did not wait for the component: well under its 5 s
    assert task.finished_at is not None and (task.finished_at - task.created_at).total_seconds() < 4


def test_the_final_record_names_the_stored_card(tmp_path: Path) -> None:
    run = flowkit.run(OneCardFlow, store=str(tmp_path), progress=Quiet())
    record = run["start"].task.record
    [ref] = record.cards
    assert (ref.type, ref.id) == ("blank", "only")
    store = open_store(str(tmp_path))
    assert "<p>one</p>" in store.values.load(ref.digest)
    assert ref.digest in task_names(record).digests  # gc keeps the cards of the runs it keeps
    assert fsck(store).problems == []
    blob = tmp_path / blob_key(ref.digest)
    blob.write_bytes(blob.read_bytes()[:-3])
    [problem] = fsck(store).problems
    assert "its blank card" in problem.message and record.pathspec in problem.message
