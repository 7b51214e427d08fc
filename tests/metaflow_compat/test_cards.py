"""Metaflow's cards under flowkit, used as a Metaflow user uses them: ``@card`` on steps
(several per step, with ids), ``current.card.append``/``extend``/``current.card[ID]``,
the components of ``metaflow.cards``, and ``get_cards`` on the finished tasks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import flowkit
from flowkit.cards import Card, get_cards
from tests.metaflow_compat.flows.cards_report import EVIL, CardFlow, FailingCardFlow, PlainFlow
from tests.runtime.test_shapes import Quiet

DATA_URI = re.compile(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]+"')


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("cards"))


@pytest.fixture(scope="module")
def run(store: str) -> flowkit.Run:
    return flowkit.run(CardFlow, store=store, progress=Quiet())


def _cards(run: flowkit.Run, step: str) -> list[Card]:
    return list(get_cards(run[step].task))


def test_default_card_shows_the_components_and_the_artifacts(run: flowkit.Run) -> None:
    [card] = _cards(run, "start")
    assert (card.type, card.id) == ("default", None)
    html = card.html
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html
    assert "<h1>Scores for <strong>start</strong></h1>" in html  # Markdown
    assert "<th>metric</th><th>value</th>" in html and "<td>auc</td><td>0.91</td>" in html
    assert DATA_URI.search(html) and "<figcaption>one pixel</figcaption>" in html  # Image
    assert "<progress max='10.0' value='7.0'></progress> 7/10" in html  # ProgressBar
    assert "<b>a dict</b>" in html  # Artifact
    # the task's artifacts, each with its type and a preview: bytes of an image shown as one
    assert "<td><b>rows</b></td><td>list</td>" in html and "<code>[1, 2, 3]</code>" in html
    assert html.count("data:image/png;base64,") == 2
    # the flow's graph, this task's step marked as done
    assert '<g class="flowkit-step" data-step="start" data-phase="done">' in html
    assert '<g class="flowkit-step" data-step="several" data-phase="">' in html
    # values never become markup: the script tag is text wherever it appears
    assert EVIL not in html and html.count("&lt;script&gt;alert(&#x27;x&#x27;)") == 3


def test_several_cards_per_step_with_ids(run: flowkit.Run, store: str) -> None:
    cards = get_cards(run["several"].task)
    assert [(c.type, c.id) for c in cards] == [
        ("blank", None),
        ("default", "details"),
        ("blank", "summary"),
    ]
    unnamed, details, summary = cards
    # current.card.append goes to the one editable card without an id
    assert "the card without an id" in unnamed.html and "the card without an id" not in summary.html
    assert "<p>summary card</p>" in summary.html and "summary card" not in details.html
    assert "<p>details card</p>" in details.html
    # a blank card has the components only, a default card the task too
    assert "<h2>Artifacts</h2>" in details.html and "<h2>Artifacts</h2>" not in summary.html
    # a VegaChart shows its spec as JSON: cards run no scripts
    assert "Vega-Lite chart" in unnamed.html and "&quot;mark&quot;: &quot;bar&quot;" in unnamed.html
    # get_cards(id=...) and (type=...) pick, and a pathspec works as well as a Task
    pathspec = run["several"].task.pathspec
    assert [c.id for c in get_cards(pathspec, id="summary", store=store)] == ["summary"]
    assert [c.id for c in get_cards(run["several"].task, type="blank")] == [None, "summary"]


def test_a_missing_id_warns_and_the_step_goes_on(run: flowkit.Run) -> None:
    task = run["several"].task
    assert task.successful
    assert "`current.card['missing']` is not present" in task.stderr
    assert "goes nowhere" not in "".join(c.html for c in get_cards(task))
    # the warning shows in the step's editable cards too, as Metaflow shows it
    assert "`current.card[&#x27;missing&#x27;]` is not present" in get_cards(task)[0].html


def test_appending_without_card_warns_and_does_not_fail(run: flowkit.Run) -> None:
    task = run["plain"].task
    assert task.successful and task.data.done is True
    assert len(get_cards(task)) == 0
    assert "[@card WARNING] Step 'plain' has no @card decorator." in task.stderr


def test_a_card_type_flowkit_lacks_renders_a_page_saying_so(run: flowkit.Run) -> None:
    task = run["end"].task
    assert task.successful
    [card] = get_cards(task)
    assert card.type == "html" and "flowkit has no card type &#x27;html&#x27;" in card.html
    assert "Card of type `html` doesn't exist." in task.stderr


def test_a_failed_task_has_its_card(tmp_path: Path) -> None:
    with pytest.raises(flowkit.RunFailed):
        flowkit.run(FailingCardFlow, store=str(tmp_path), progress=Quiet())
    task = flowkit.Flow("FailingCardFlow", store=str(tmp_path)).latest_run["start"].task
    assert not task.successful
    [card] = get_cards(task)
    html = card.html
    assert "<span class='fk-status-failed'>failed</span>" in html
    assert "RuntimeError: the step broke" in html  # the exception, with its traceback
    assert "<p>appended before the failure</p>" in html  # what the step appended first
    assert "<td><b>before</b></td><td>str</td>" in html  # what it set first (Metaflow keeps it)
    assert '<g class="flowkit-step" data-step="start" data-phase="failed">' in html


def test_run_with_card_gives_every_step_a_default_card(tmp_path: Path) -> None:
    run = flowkit.run(PlainFlow, store=str(tmp_path), progress=Quiet(), with_decorators=["card"])
    for step in ("start", "end"):
        [card] = get_cards(run[step].task)
        assert card.type == "default" and "<h2>Artifacts</h2>" in card.html
    assert "<td><b>answer</b></td><td>int</td>" in get_cards(run["end"].task)[0].html
    # a step's own @card wins over --with card
    own = flowkit.run(
        CardFlow, store=str(tmp_path), progress=Quiet(), with_decorators=["card:type=blank"]
    )
    assert [c.type for c in get_cards(own["start"].task)] == ["default"]
    [blank] = get_cards(own["plain"].task)
    assert blank.type == "blank" and "<p>no card here</p>" in blank.html
