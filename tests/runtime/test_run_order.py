"""Which run is the most recent: a run with a chosen id (``resume --run-id``) sorts by when it
started, not by its name, for the client, a resume's default origin and gc alike; a resume
that took the most recent run says which; and what a run is started with is checked before
the run exists (its id, its tags)."""

from __future__ import annotations

import io
import re
import shutil
import time
from pathlib import Path

import pytest

import flowkit
from flowkit.client.tags import TaggingError
from flowkit.errors import FlowkitError
from flowkit.runtime.events import RunStarted
from flowkit.settings import current_user
from flowkit.store import LocalBackend, Store
from flowkit.store.gc import collect
from flowkit.store.gc_plan import Policy
from flowkit.surfaces.terminal import TerminalView
from tests.flows.linear import LinearFlow
from tests.runtime.test_shapes import Quiet

pytestmark = pytest.mark.slow


def _store(root: Path) -> Store:
    return Store(LocalBackend(root, durable=False))


def test_a_chosen_run_id_sorts_by_its_time_for_latest_run_resume_and_gc(tmp_path: Path) -> None:
    root = str(tmp_path / "store")
    first = flowkit.run(LinearFlow, store=root, progress=Quiet(), base=1).id
    # "zz-nightly" sorts after every time-sorted id by its name
    chosen = flowkit.resume(
        LinearFlow, origin_run_id=first, run_id="zz-nightly", store=root, progress=Quiet()
    ).id
    newer = flowkit.run(LinearFlow, store=root, progress=Quiet(), base=2).id
    flow = flowkit.Flow("LinearFlow", store=root, _namespace_check=False)
    assert [r.id for r in flow.runs()] == [newer, chosen, first]
    assert flow.latest_run is not None and flow.latest_run.id == newer

    kept = tmp_path / "gc"
    shutil.copytree(root, kept)
    collect(_store(kept), Policy(keep_last=1, grace=0), now=time.time() + 3600)
    assert _store(kept).records.list_runs("LinearFlow") == [newer]

    sink = Quiet()
    resumed = flowkit.resume(LinearFlow, store=root, progress=sink)
    assert resumed.origin_run_id == newer
    (started,) = [e for e in sink.events if isinstance(e, RunStarted)]
    assert started.resuming is not None
    user = re.escape(str(current_user()))
    when = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"
    assert re.fullmatch(
        rf"LinearFlow/{newer} \(the most recent run, by {user}, {when}\)", started.resuming
    )
    out = io.StringIO()
    view = TerminalView(out, live=False)
    view.handle(started)
    lines = out.getvalue().splitlines()
    assert lines[0].endswith(f"LinearFlow/{resumed.id} started (store: {Path(root).resolve()})")
    assert lines[1] == f"  resuming {started.resuming}"

    named = Quiet()
    flowkit.resume(LinearFlow, origin_run_id=first, store=root, progress=named)
    assert [e.resuming for e in named.events if isinstance(e, RunStarted)] == [None]


def test_a_chosen_run_id_that_reads_as_a_time_sorted_id_is_refused(tmp_path: Path) -> None:
    root = str(tmp_path / "store")
    first = flowkit.run(LinearFlow, store=root, progress=Quiet()).id
    fake = "00000000000000000000000000"  # 1970, as a time-sorted id
    with pytest.raises(FlowkitError, match="reads as one of flowkit's time-sorted ids") as err:
        flowkit.resume(LinearFlow, origin_run_id=first, run_id=fake, store=root, progress=Quiet())
    assert "leave --run-id out" in err.value.hint
    assert _store(Path(root)).records.list_runs("LinearFlow") == [first]


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ([""], "a tag in the run's tags (--tag) is an empty string"),
        (["x" * 600], "is too long (600 > 500 characters)"),
        ([f"t{i}" for i in range(51)], "would have 51 user tags, more than 50"),
        ("nightly", "may not be a string ('nightly')"),
    ],
)
def test_tags_at_start_follow_the_tag_rules_before_the_run_exists(
    tmp_path: Path, tags: object, message: str
) -> None:
    root = tmp_path / "store"
    with pytest.raises(TaggingError) as err:
        flowkit.run(LinearFlow, store=str(root), progress=Quiet(), tags=tags)
    assert message in err.value.message and err.value.hint
    assert _store(root).records.list_flows() == []  # no run was created


def test_a_tag_too_long_for_today_rules_can_still_be_removed(tmp_path: Path) -> None:
    store = _store(tmp_path / "store")
    old = store.records.create_run("OldFlow", tags=["y" * 600, "kept"])  # before the rules
    run = flowkit.Run(f"OldFlow/{old.run_id}", store=store, _namespace_check=False)
    run.remove_tag("y" * 600)
    assert run.user_tags == {"kept"}
