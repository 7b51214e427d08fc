"""Damaged store files end in one clear error that names the file and says what to do,
in the client, in ``flowkit show`` and in ``resume``; nothing stored is lost."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import flowkit
from flowkit.cli.main import cli
from flowkit.store.errors import StoreError
from tests.client.conftest import Runs
from tests.flows.linear import LinearFlow
from tests.runtime.test_shapes import Quiet


@pytest.mark.parametrize("damage", [b"garbage{", b"{}", b'{"tasks": [1]}', b"\xff\xfe"])
def test_a_damaged_step_index_is_named_with_a_hint(tmp_path: Path, damage: bytes) -> None:
    store = str(tmp_path)
    run = flowkit.run(LinearFlow, store=store, progress=Quiet())
    index = tmp_path / "runs" / "LinearFlow" / run.id / "index" / "a.json"
    good = index.read_bytes()
    index.write_bytes(damage)

    with pytest.raises(StoreError) as info:
        flowkit.Flow("LinearFlow", store=store).latest_run["a"].task  # noqa: B018
    text = str(info.value)
    assert str(index) in text and "hint: the index of step 'a' was damaged" in text

    shown = CliRunner().invoke(cli, ["show", f"LinearFlow/{run.id}", "--store", store])
    assert shown.exit_code == 1
    assert "Traceback" not in shown.output
    assert f"{index}" in shown.output and "hint: the index of step 'a'" in shown.output

    with pytest.raises(StoreError, match="index of step 'a' was damaged"):
        flowkit.resume(LinearFlow, store=store, progress=Quiet())
    # nothing was lost, and no half-made run was left behind
    assert [r.id for r in flowkit.Flow("LinearFlow", store=store).runs()] == [run.id]
    index.unlink()
    assert flowkit.Flow("LinearFlow", store=store).latest_run["a"].task.data.total == 3
    index.write_bytes(good)
    assert flowkit.Flow("LinearFlow", store=store).latest_run.data.total == 6


def _chunk(runs: Runs) -> Path:
    root = Path(runs.store.url) / "logs" / "TrainFlow" / runs.good.run_id / "start"
    (chunk,) = root.glob("*/*/stdout.*")
    return chunk


@pytest.mark.parametrize(
    ("content", "shown"),
    [
        (b"not a log line\n", "line 1: 'not a log line'"),
        (b"1.5 |ok\n2.5 ?what\n", "line 2: '2.5 ?what'"),
    ],
)
def test_a_log_chunk_not_in_flowkits_format_is_named(
    runs: Runs, content: bytes, shown: str
) -> None:
    chunk = _chunk(runs)
    chunk.write_bytes(content)
    result = CliRunner().invoke(
        cli, ["logs", f"TrainFlow/{runs.good.run_id}/start", "--store", runs.store.url]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"log chunk {chunk} is not in flowkit's log format ({shown})" in result.output
    assert "hint: it was changed or damaged after the task wrote it" in result.output


def test_a_symlink_in_the_store_is_refused_not_followed(runs: Runs, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("1.0 |the secret\n")
    chunk = _chunk(runs)
    chunk.unlink()
    chunk.symlink_to(secret)
    result = CliRunner().invoke(
        cli, ["logs", f"TrainFlow/{runs.good.run_id}/start", "--store", runs.store.url]
    )
    assert result.exit_code == 1 and "the secret" not in result.output
    assert f"{chunk} is a symbolic link; flowkit does not follow links" in result.output
    assert secret.read_text() == "1.0 |the secret\n"
