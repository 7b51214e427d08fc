"""A foreach gives every branch the item the split task froze: the same in every process,
whatever its hash seed, and on every resume (issue 11, section 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import flowkit
from tests.conftest import FLOWS, ROOT
from tests.flows.foreach_kinds import WORDS

FLOW = FLOWS / "foreach_kinds.py"

#: Under these two seeds a set of WORDS iterates in different orders, so a branch that
#: re-iterated the set itself would take another branch's word after the resume.
SEED_RUN, SEED_RESUME = "1", "2"


def _python(store: Path, seed: str, *args: str, fail: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": seed}
    env.pop("FLOWKIT_TEST_FAIL_WORD", None)
    if fail:
        env["FLOWKIT_TEST_FAIL_WORD"] = fail
    return subprocess.run(
        [sys.executable, str(FLOW), *args, "--store", str(store), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["set", "dict", "generator", "range"])
def test_a_resumed_foreach_gives_each_item_to_exactly_one_branch(kind: str, tmp_path: Path) -> None:
    failed = _python(tmp_path, SEED_RUN, "run", "--kind", kind, fail="gamma")
    assert failed.returncode != 0, failed.stdout + failed.stderr
    assert "told to fail on gamma" in failed.stdout + failed.stderr
    resumed = _python(tmp_path, SEED_RESUME, "resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr

    run = flowkit.Flow("ForeachKindsFlow", store=str(tmp_path)).latest_run
    assert run.successful and run.origin_run_id is not None
    ran = [d["step"] for d in run.explanation if d["action"] == "run"]
    assert sorted(ran) == ["each", "end", "join"]  # the other five branches were cloned
    join = run["join"].task.data
    assert sorted(join.words) == sorted(WORDS) and len(set(join.words)) == len(WORDS)
    assert join.positions == list(range(len(WORDS)))
    expected_inputs = list(range(len(WORDS))) if kind == "range" else join.words
    assert join.inputs_seen == expected_inputs
    branches = {t.index: t.data.word for t in run["each"]}
    assert [branches[i] for i in range(len(WORDS))] == join.words
