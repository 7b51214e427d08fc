"""Reading cards: ``get_cards`` on cloned tasks, a card's file and notebook display, the
notebook display of a task, and ``flowkit card view|get`` / ``python flow.py card``."""

from __future__ import annotations

import os
import stat
import tempfile
from html import unescape
from pathlib import Path

import pytest
from click.testing import CliRunner

import flowkit
from flowkit.cards import CardNotFoundError, get_cards
from flowkit.cli.flow_cli import make_cli
from flowkit.cli.main import cli
from flowkit.client.cards import card_of
from flowkit.errors import FlowkitError
from tests.metaflow_compat.flows.cards_report import CardFlow
from tests.runtime.test_shapes import Quiet


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("client-cards"))


@pytest.fixture(scope="module")
def run(store: str) -> flowkit.Run:
    return flowkit.run(CardFlow, store=store, progress=Quiet())


def test_a_cloned_task_has_its_origins_cards(run: flowkit.Run, store: str) -> None:
    resumed = flowkit.resume(CardFlow, "end", origin_run_id=run.id, store=store, progress=Quiet())
    clone = resumed["start"].task
    assert clone.origin_pathspec == run["start"].task.pathspec
    cards = get_cards(clone)
    assert cards.from_resumed and cards.origin_pathspec == run["start"].task.pathspec
    assert [c.hash for c in cards] == [c.hash for c in get_cards(run["start"].task)]
    assert len(get_cards(clone, follow_resumed=False)) == 0


def test_a_card_as_a_file_and_in_a_notebook(run: flowkit.Run, tmp_path: Path) -> None:
    card = get_cards(run["start"].task)[0]
    path = card.save(tmp_path / "start.html")
    assert path.read_text(encoding="utf-8") == card.html == card.get()
    default = card.save()  # named by its content, in the temporary directory
    assert default.name == f"{card.hash}.html" and default.read_text(encoding="utf-8") == card.html
    shown = card._repr_html_()
    # the page goes into an iframe's srcdoc, escaped: the notebook's page keeps its own style
    assert shown.startswith("<iframe class='flowkit-card' srcdoc=\"")
    srcdoc = shown.split('srcdoc="', 1)[1].split('" style=', 1)[0]
    assert '"' not in srcdoc and unescape(srcdoc) == card.html
    assert "Card of type default" in get_cards(run["start"].task)._repr_html_()


def test_a_card_saved_by_default_goes_to_a_folder_of_this_users_alone(
    run: flowkit.Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    card = get_cards(run["start"].task)[0]
    path = card.save()
    assert path.parent == tmp_path / f"flowkit-cards-{os.getuid()}"
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    path.parent.chmod(0o755)  # readable by others: not used, and the user is told
    path.unlink()
    with pytest.raises(FlowkitError, match="is not a folder of this user's alone") as info:
        card.save()
    assert "card.save('card.html')" in info.value.hint and not path.exists()


def test_a_tasks_notebook_display_shows_its_card(run: flowkit.Run) -> None:
    assert "flowkit-card" in run["start"].task._repr_html_()
    assert "flowkit-card" not in run["plain"].task._repr_html_()


def test_card_of_names_the_cards_there_are(run: flowkit.Run) -> None:
    with pytest.raises(CardNotFoundError) as several:
        card_of(run["several"].task)
    assert "has 3 cards: blank, default (id details), blank (id summary)" in str(several.value)
    assert "--id" in several.value.hint
    with pytest.raises(CardNotFoundError) as none:
        card_of(run["plain"].task)
    assert "has no card at all" in str(none.value) and "Add @card" in none.value.hint
    assert card_of(run["several"].task, id="details").type == "default"


def test_flowkit_card_get_and_view(run: flowkit.Run, store: str, tmp_path: Path) -> None:
    pathspec = run["several"].task.pathspec
    runner = CliRunner()
    got = runner.invoke(cli, ["card", "get", pathspec, "--id", "summary", "--store", store])
    assert got.exit_code == 0, got.output
    assert "<p>summary card</p>" in got.output
    target = tmp_path / "card.html"
    saved = runner.invoke(
        cli, ["card", "get", pathspec, str(target), "--type", "default", "--store", store]
    )
    assert saved.exit_code == 0, saved.output
    assert "<p>details card</p>" in target.read_text(encoding="utf-8")
    viewed = runner.invoke(
        cli,
        [
            "card",
            "view",
            pathspec.rsplit("/", 1)[0].replace("several", "start"),
            "--no-open",
            "--store",
            store,
        ],
    )
    assert viewed.exit_code == 0, viewed.output
    assert "Scores for" in Path(viewed.output.strip()).read_text(encoding="utf-8")
    several = runner.invoke(cli, ["card", "view", pathspec, "--no-open", "--store", store])
    assert several.exit_code == 1
    assert "has 3 cards" in several.output and "--hash HASH" in several.output


def test_flow_file_card_command_takes_a_step_of_the_latest_run(
    run: flowkit.Run, store: str
) -> None:
    result = CliRunner().invoke(
        make_cli(CardFlow), ["card", "get", "several", "--id", "details", "--store", store]
    )
    assert result.exit_code == 0, result.output
    assert "<p>details card</p>" in result.output
    by_run = CliRunner().invoke(
        make_cli(CardFlow), ["card", "get", f"{run.id}/start", "--store", store]
    )
    assert by_run.exit_code == 0 and "Scores for" in by_run.output


def test_flowkit_show_says_how_to_view_a_tasks_cards(run: flowkit.Run, store: str) -> None:
    pathspec = run["several"].task.pathspec
    shown = CliRunner().invoke(cli, ["show", pathspec, "--store", store])
    assert shown.exit_code == 0, shown.output
    unnamed = get_cards(run["several"].task)[0]
    assert [line.strip() for line in shown.output.splitlines() if "card " in line] == [
        f"card blank: flowkit card view {pathspec} --hash {unnamed.hash[:12]}",
        f"card default: flowkit card view {pathspec} --id details",
        f"card blank: flowkit card view {pathspec} --id summary",
    ]
    # each command shown picks its card
    picked = CliRunner().invoke(
        cli, ["card", "get", pathspec, "--hash", unnamed.hash[:12], "--store", store]
    )
    assert picked.exit_code == 0 and "the card without an id" in picked.output
    one = CliRunner().invoke(cli, ["show", run["start"].task.pathspec, "--store", store])
    assert f"card default: flowkit card view {run['start'].task.pathspec}\n" in one.output


def test_card_list(run: flowkit.Run, store: str) -> None:
    task = run["several"].task
    listed = CliRunner().invoke(cli, ["card", "list", task.pathspec, "--store", store])
    assert listed.exit_code == 0, listed.output
    assert [line.split() for line in listed.output.splitlines()] == [
        [c.type, c.id or "-", c.hash[:12]] for c in get_cards(task)
    ]
    none = CliRunner().invoke(cli, ["card", "list", run["plain"].task.pathspec, "--store", store])
    assert none.exit_code == 0 and "has no cards (add @card" in none.output
