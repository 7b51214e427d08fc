"""``run --reuse``: exactly the tasks whose code, inputs or parameters changed run again."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

import flowkit
from flowkit.store import open_store
from flowkit.store.blobs import blob_key, digest_of
from flowkit.store.serialize import to_frames
from tests.conftest import FLOWS, run_python
from tests.runtime.test_shapes import Quiet


@pytest.fixture
def flow_file(tmp_path: Path) -> Path:
    target = tmp_path / "code" / "reuse_fanout.py"
    target.parent.mkdir()
    shutil.copy(FLOWS / "fanout.py", target)
    return target


def _ran(run: flowkit.Run) -> list[str]:
    return sorted(d["step"] for d in run.explanation if d["action"] == "run")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_edits_rerun_exactly_what_changed(flow_file: Path, tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    first = flowkit.run(flow_file, store=store, progress=Quiet(), reuse=True, n=5)
    assert _ran(first) == sorted(["start", *["work"] * 5, "join", "scaled", "end"])
    same = flowkit.run(flow_file, store=store, progress=Quiet(), reuse=True, n=5)
    assert _ran(same) == [] and len(same.explanation) == 9

    _edit(
        flow_file,
        "    @step\n    def work(self):\n",
        '    @step\n    def work(self):\n        """Now documented."""\n        # and commented\n',
    )
    _edit(
        flow_file, "self.value = self.input * 10", "self.value = (self.input *   10)  # same code"
    )
    commented = flowkit.run(flow_file, store=store, progress=Quiet(), reuse=True, n=5)
    assert _ran(commented) == []

    _edit(
        flow_file,
        "self.total = sum(i.value for i in inputs)",
        "self.total = sum(i.value for i in inputs) + 1",
    )
    edited = flowkit.run(flow_file, store=store, progress=Quiet(), reuse=True, n=5)
    assert _ran(edited) == ["end", "join", "scaled"]
    assert edited.data.result == sum(i * 10 for i in range(5)) + 1


def test_a_parameter_reruns_only_the_tasks_that_read_it(flow_file: Path, tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    flowkit.run(flow_file, store=store, progress=Quiet(), reuse=True, n=4, scale=1)
    changed = flowkit.run(flow_file, store=store, progress=Quiet(), reuse=True, n=4, scale=3)
    assert _ran(changed) == ["end", "scaled"]
    assert changed["scaled"].task.data.result == 3 * sum(i * 10 for i in range(4))
    reasons = {d["step"]: d["reason"] for d in changed.explanation}
    assert reasons["work"] == "same code, inputs and parameters as an earlier run"
    more = flowkit.run(flow_file, store=store, progress=Quiet(), reuse=True, n=6, scale=3)
    assert _ran(more).count("work") == 6  # the list changed, so every split's inputs did


def test_resume_with_a_changed_parameter_explains_it(flow_file: Path, tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    origin = flowkit.run(flow_file, store=store, progress=Quiet(), n=3, scale=1)
    resumed = flowkit.resume(flow_file, store=store, progress=Quiet(), scale=2)
    assert _ran(resumed) == ["end", "scaled"]
    why = {d["step"]: d["reason"] for d in resumed.explanation}
    assert why["scaled"] == "parameter 'scale' changed (1 -> 2)"
    assert resumed.parameters["n"] == 3 and resumed.origin_run_id == origin.id


def test_a_resume_of_a_resume_keeps_the_value_its_origin_was_given(
    flow_file: Path, tmp_path: Path
) -> None:
    """The start task of a resume is cloned from the first run, with the first run's value of
    a parameter start does not read; a later resume and the client still see the new value."""
    store = str(tmp_path / "store")
    flowkit.run(flow_file, store=store, progress=Quiet(), n=3, scale=1)
    resumed = flowkit.resume(flow_file, store=store, progress=Quiet(), scale=2)
    again = flowkit.resume(flow_file, store=store, progress=Quiet(), origin_run_id=resumed.id)
    expected = 2 * sum(i * 10 for i in range(3))
    assert again.parameters["scale"] == 2
    assert again.data.result == resumed.data.result == expected
    assert resumed["end"].task.data.scale == again["end"].task.data.scale == 2


def test_no_cache_steps_always_run(tmp_path: Path) -> None:
    flow = tmp_path / "ingest_flow.py"
    flow.write_text(
        "from flowkit import FlowSpec, no_cache, step\n\n"
        "class IngestFlow(FlowSpec):\n"
        "    @no_cache\n    @step\n    def start(self):\n        self.rows = [1, 2]\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n"
    )
    store = str(tmp_path / "store")
    flowkit.run(flow, store=store, progress=Quiet(), reuse=True)
    again = flowkit.run(flow, store=store, progress=Quiet(), reuse=True)
    assert _ran(again) == ["start"]
    assert "@no_cache" in again.explanation[0]["reason"]
    assert again.explanation[1]["action"] == "reuse"  # its output did not change


def test_dry_run_and_show_from_the_command_line(flow_file: Path, tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    first = run_python(flow_file, "run", "--store", store, "--quiet", "--n", "3")
    assert first.returncode == 0, first.stderr
    _edit(
        flow_file,
        "self.result = self.total * self.scale",
        "self.result = self.total * self.scale * 2",
    )
    plain = run_python(flow_file, "resume", "--store", store, "--dry-run")
    assert "    cloned: cloned although its code changed at" in plain.stdout, plain.stdout
    assert "(resume --reuse runs it again)" in plain.stdout
    dry = run_python(flow_file, "resume", "--reuse", "--store", store, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    line = next(i for i, row in enumerate(dry.stdout.splitlines()) if row.startswith("scaled:"))
    rows = dry.stdout.splitlines()
    assert rows[line] == "scaled: 1 run"
    code_line = (
        flow_file.read_text()
        .splitlines()
        .index("        self.result = self.total * self.scale * 2")
        + 1
    )
    assert rows[line + 1] == f"    run: its code changed at {flow_file}:{code_line}"
    real = run_python(flow_file, "resume", "--reuse", "--store", store, "--quiet")
    assert real.returncode == 0, real.stderr
    run_id = flowkit.Flow("FanoutFlow", store=store).latest_run.id
    shown = run_python("-m", "flowkit", "show", f"FanoutFlow/{run_id}", "--store", store)
    assert "why each task ran or was reused" in shown.stdout, shown.stderr
    assert f"run: its code changed at {flow_file}:{code_line}" in shown.stdout


#: Scales the values of ``work`` (0, 10 and 20 before) and so ``scaled``'s result (210) up
#: to pickle streams too long to be held inline by their records (INLINE_MAX): blobs, for
#: the tests below to delete and damage.
BIG = 10**300


def _big_values(flow_file: Path) -> None:
    _edit(flow_file, "self.value = self.input * 10", "self.value = self.input * 10 * 10**300")


def _blob_of(store: str, value: object) -> Path:
    """The file of the blob that stores ``value``."""
    return Path(store) / blob_key(digest_of(to_frames(value).segments))


def _break(store: str, *, missing: int, damaged: int) -> str:
    """Delete the blob of one value and truncate that of another; the damage, as reported.
    With n=3 and scale=7, only split 2 of ``work`` writes 20 * BIG and only ``scaled`` writes
    210 * BIG."""
    _blob_of(store, missing).unlink()
    blob = _blob_of(store, damaged)
    data = blob.read_bytes()
    blob.write_bytes(data[:-5])
    return f"{len(data) - 5} bytes stored, {len(data)} expected"


def _reasons(decisions: list[dict[str, Any]], action: str) -> list[tuple[str, str]]:
    return sorted((d["step"], d["reason"]) for d in decisions if d["action"] == action)


def test_reuse_runs_again_a_task_whose_data_is_missing_or_damaged(
    flow_file: Path, tmp_path: Path
) -> None:
    store = str(tmp_path / "store")
    _big_values(flow_file)
    flowkit.run(flow_file, store=store, progress=Quiet(), reuse=True, n=3, scale=7)
    damage = _break(store, missing=20 * BIG, damaged=210 * BIG)
    preview = flowkit.run(flow_file, store=store, reuse=True, dry_run=True, n=3, scale=7)
    assert _reasons(preview.decisions, "run") == [
        ("end", "its input from step 'scaled' runs again"),
        ("join", "its input from step 'work' runs again"),
        ("scaled", "its input from step 'join' runs again"),
        ("work", "its artifact 'value' is missing from the store"),
    ]
    assert "    run: its artifact 'value' is missing from the store" in str(preview)

    again = flowkit.run(flow_file, store=store, progress=Quiet(), reuse=True, n=3, scale=7)
    # join and end are reused: the same inputs, and by then scaled's run healed the blob
    assert _reasons(again.explanation, "run") == [
        ("scaled", f"its artifact 'result' is damaged in the store ({damage})"),
        ("work", "its artifact 'value' is missing from the store"),
    ]
    assert sorted(t.data.value for t in again["work"]) == [0, 10 * BIG, 20 * BIG]
    assert again.data.result == 210 * BIG and again["scaled"].task.data.result == 210 * BIG
    assert open_store(store).values.blobs.damage(digest_of(to_frames(210 * BIG).segments)) is None

    third = flowkit.run(flow_file, store=store, progress=Quiet(), reuse=True, n=3, scale=7)
    assert _ran(third) == []  # the cache now names the tasks that ran again


def test_resume_runs_again_a_cloned_task_whose_data_is_missing_or_damaged(
    flow_file: Path, tmp_path: Path
) -> None:
    store = str(tmp_path / "store")
    _big_values(flow_file)
    origin = flowkit.run(flow_file, store=store, progress=Quiet(), n=3, scale=7)
    damage = _break(store, missing=210 * BIG, damaged=20 * BIG)
    work_reason = f"its artifact 'value' is damaged in the store ({damage})"
    dry = run_python(flow_file, "resume", "--store", store, "--dry-run")
    assert f"    run: {work_reason}" in dry.stdout, dry.stdout + dry.stderr
    resumed = flowkit.resume(flow_file, store=store, progress=Quiet())
    assert resumed.origin_run_id == origin.id
    assert _reasons(resumed.explanation, "run") == [
        ("end", "its input from step 'scaled' ran again"),
        ("join", "its input from step 'work' ran again"),
        ("scaled", "its input from step 'join' ran again"),
        ("work", work_reason),
    ]
    assert sorted(t.data.value for t in resumed["work"]) == [0, 10 * BIG, 20 * BIG]
    assert resumed.data.result == 210 * BIG
    shown = run_python("-m", "flowkit", "show", f"FanoutFlow/{resumed.id}", "--store", store)
    assert f"    run: {work_reason}" in shown.stdout, shown.stderr
    again = flowkit.resume(flow_file, store=store, progress=Quiet())
    assert _ran(again) == []  # healed: the next resume clones everything


def test_resume_runs_the_split_again_when_its_foreach_items_are_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.flows.foreach_kinds import WORDS, ForeachKindsFlow

    store = str(tmp_path / "store")
    monkeypatch.setenv("FLOWKIT_TEST_FAIL_WORD", "gamma")
    with pytest.raises(flowkit.RunFailed):
        flowkit.run(ForeachKindsFlow, store=store, progress=Quiet(), kind="range")
    monkeypatch.delenv("FLOWKIT_TEST_FAIL_WORD")
    # the split stored the items of range(6) in a chunk: a blob no artifact names
    split = flowkit.Flow("ForeachKindsFlow", store=store).latest_run["start"].task.record
    ((chunk, _),) = split.foreach_items
    (Path(store) / blob_key(chunk)).unlink()
    resumed = flowkit.resume(ForeachKindsFlow, store=store, progress=Quiet())
    reasons = dict(_reasons(resumed.explanation, "run"))
    assert reasons["start"] == "the foreach items it stored are missing from the store"
    assert resumed["join"].task.data.words == WORDS


@pytest.mark.parametrize("damage", [b"garbage", b'{"attempt": 0}', b'{"pathspec": "a/b"}'])
def test_a_broken_cache_entry_is_no_entry(flow_file: Path, tmp_path: Path, damage: bytes) -> None:
    store = str(tmp_path / "store")
    flowkit.run(flow_file, store=store, progress=Quiet(), reuse=True, n=3, scale=7)
    entries = sorted((tmp_path / "store" / "cache").rglob("*.json"))
    entries[0].write_bytes(damage)
    again = flowkit.run(flow_file, store=store, progress=Quiet(), reuse=True, n=3, scale=7)
    assert again.successful and again.data.result == 210
    assert len(_ran(again)) >= 1  # the task whose entry broke ran (and what reads it)
    assert entries[0].read_bytes() != damage  # its run wrote the entry anew
    third = flowkit.run(flow_file, store=store, progress=Quiet(), reuse=True, n=3, scale=7)
    assert _ran(third) == []
