"""A store holding real runs for the web UI's tests, made once per test session (per xdist
worker): a successful foreach run with a DataFrame, an array and an image; a failed run with
a dead letter, and its resumed run that succeeded."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

import flowkit
from tests.flows.failures import FixableFlow
from tests.flows.ui import UiShowcaseFlow
from tests.runtime.test_shapes import Quiet


@dataclass(frozen=True)
class UiStore:
    """Where the store is and the ids of the runs in it."""

    path: Path
    #: UiShowcaseFlow's run: width 4 (start -> 4 x train -> join -> end), label "baseline".
    showcase: str
    #: A second UiShowcaseFlow run: width 6, label "wider" (what run comparisons compare).
    wider: str
    #: FixableFlow's run whose ``work`` failed on both attempts (a dead letter).
    failed: str
    #: The resume of ``failed`` with the fix, which succeeded.
    resumed: str


@pytest.fixture(scope="session")
def ui_store(tmp_path_factory: pytest.TempPathFactory) -> UiStore:
    root = tmp_path_factory.mktemp("ui-store") / "store"
    store = str(root)
    showcase = flowkit.run(UiShowcaseFlow, store=store, progress=Quiet())
    wider = flowkit.run(UiShowcaseFlow, store=store, progress=Quiet(), width=6, label="wider")
    with pytest.raises(flowkit.RunFailed) as failed:
        flowkit.run(FixableFlow, store=store, progress=Quiet())
    os.environ["FLOWKIT_TEST_FIXED"] = "1"
    try:
        resumed = flowkit.resume(FixableFlow, store=store, progress=Quiet())
    finally:
        del os.environ["FLOWKIT_TEST_FIXED"]
    return UiStore(root, showcase.id, wider.id, failed.value.run.id, resumed.id)
