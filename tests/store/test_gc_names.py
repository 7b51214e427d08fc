"""What gc marks is what fsck checks (one definition, in gc_names): a run's code package and
parameters, a foreach's item chunks, a dead letter's task spec. A store whose runs have two
code versions, a foreach and a kept dead letter reads back after gc and fsck is clean; a
named blob gone missing is reported by fsck."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import flowkit
from flowkit.client import Run
from flowkit.runtime.api import RunFailed
from flowkit.store import ExceptionInfo, LocalBackend, MemoryBackend, Store
from flowkit.store.blobs import blob_key
from flowkit.store.deadletters import list_letters, write_letter
from flowkit.store.fsck import fsck
from flowkit.store.gc import collect
from flowkit.store.gc_plan import Policy
from flowkit.store.packages import CodePackage
from flowkit.testing.fake_run import FakeTask, write_fake_run
from tests.runtime.test_shapes import Quiet

FLOW = """
from flowkit import FlowSpec, Parameter, step


class MixedFlow(FlowSpec):
    fail = Parameter("fail", default=0)

    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        if self.fail and self.input == 2:
            raise ValueError("two")
        self.out = self.input * FACTOR
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.out for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
"""


@pytest.fixture(autouse=True)
def _no_skew(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWKIT_CLOCK_SKEW_SECONDS", "0")


def _version(folder: Path, factor: int) -> Path:
    """The flow file, its code as of version ``factor``."""
    path = folder / "mixed_flow.py"
    path.write_text(FLOW.replace("FACTOR", str(factor)))
    return path


def _code(store: Store, run_id: str) -> str:
    digest = store.records.get_run("MixedFlow", run_id).code_digest
    assert digest is not None
    return digest


@pytest.mark.slow
def test_fsck_is_clean_after_gc_of_runs_with_two_code_versions_a_foreach_and_a_letter(
    tmp_path: Path,
) -> None:
    root = str(tmp_path / "store")

    def run(factor: int, **params: object) -> str:
        return flowkit.run(_version(tmp_path, factor), store=root, progress=Quiet(), **params).id

    dropped = run(10)
    first = run(20)
    resumed = flowkit.resume(  # code version 30, 'each' cloned from 'first'
        _version(tmp_path, 30), "join", origin_run_id=first, store=root, progress=Quiet()
    ).id
    with pytest.raises(RunFailed):
        run(30, fail=1)
    store = Store(LocalBackend(root, durable=False))
    failed = next(store.records.iter_runs("MixedFlow")).run_id
    [letter] = list_letters(store)
    codes = {r: _code(store, r) for r in (dropped, first, resumed, failed)}
    assert len(set(codes.values())) == 3

    report = collect(store, Policy(keep_last=2, grace=0))

    assert report.dropped == {"MixedFlow": [dropped]}  # 'first' stays: 'resumed' clones it
    assert fsck(store).problems == []
    assert [x.id for x in list_letters(store)] == [letter.id]
    for run_id in (first, resumed):
        assert Run(f"MixedFlow/{run_id}", store=store)["join"].task.data.total == 120
    backend = store.backend
    assert isinstance(backend, LocalBackend)
    assert not backend.path_of(blob_key(codes[dropped])).exists()
    assert all(backend.path_of(blob_key(codes[r])).exists() for r in (first, resumed, failed))
    # and what was kept still runs: the dead letter's run resumes with the failure fixed
    again = flowkit.resume(_version(tmp_path, 30), store=root, progress=Quiet(), fail=0)
    assert again["join"].task.data.total == 180


@pytest.mark.parametrize("what", ["code", "parameter"])
def test_fsck_reports_a_missing_blob_a_run_record_names(tmp_path: Path, what: str) -> None:
    root = tmp_path / "store"
    run_id = flowkit.run(_version(tmp_path, 1), store=str(root), progress=Quiet(), fail=0).id
    store = Store(LocalBackend(root, durable=False))
    record = store.records.get_run("MixedFlow", run_id)
    digest = _code(store, run_id) if what == "code" else record.parameter_digests["fail"]
    store.backend.delete(blob_key(digest))
    problems = {p.key: p.message for p in fsck(store).problems}
    named = "the code package" if what == "code" else "parameter 'fail'"
    assert problems[f"runs/MixedFlow/{run_id}/run.json"] == (
        f"{named} is blob {digest}, which is missing"
    )
    if what == "parameter":  # the start task's record names it too (as an artifact)
        assert f"artifact 'fail' names blob {digest}, which is missing" in problems.values()
    else:
        assert len(problems) == 1


def test_fsck_reports_a_missing_class_blob_a_notebook_flows_package_names() -> None:
    store = Store(MemoryBackend("names"))
    flow_class = store.values.put(b"a notebook flow's class, pickled").digest
    package = CodePackage("NbFlow", "blob", flow_class, {"cell1.py": b"x = 1\n"}, (), {})
    code = store.values.put(package.to_value()).digest
    run = store.records.create_run("NbFlow", code_digest=code)
    assert fsck(store).problems == []
    store.backend.delete(blob_key(flow_class))
    [problem] = fsck(store).problems
    assert problem.key == f"runs/NbFlow/{run.run_id}/run.json"
    assert problem.message == (
        f"the flow class its code package names is blob {flow_class}, which is missing"
    )


def test_fsck_reports_a_missing_blob_a_dead_letter_names_but_not_other_hex_strings() -> None:
    """Its code package and parameters are blobs; its cache key, and a folder on the launching
    process's sys.path that an extracted package (named by its digest) left there, are not."""
    store = Store(MemoryBackend("letters"))
    failed = ExceptionInfo("ValueError", "two")
    run = write_fake_run(
        store, "LetterFlow", {"start": [FakeTask(status="failed", exception=failed)]}
    )
    [task] = store.records.list_tasks("LetterFlow", run.run_id, "start")
    code = store.values.put(b"the code package").digest
    param = store.values.put(b"a parameter").digest
    extracted = f"/root/.cache/flowkit/code/{'e' * 64}"
    spec = json.dumps(
        {
            "code": {"kind": "package", "target": code, "sys_path": [extracted], "root": ""},
            "parameters": {"n": [param, 11, "int"]},
            "tags": ["d" * 64],
            "cache_key": "c" * 64,
        }
    )
    letter = write_letter(store, task, spec, ())
    assert fsck(store).problems == []
    store.backend.delete(blob_key(code))
    store.backend.delete(blob_key(param))
    problems = fsck(store).problems
    assert {p.key for p in problems} == {f"deadletters/{letter}/letter.json"}
    assert sorted(p.message for p in problems) == sorted(
        f"its task spec names blob {d}, which is missing" for d in (code, param)
    )
