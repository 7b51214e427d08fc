"""``python flow.py run --namespace NS`` and ``flowkit.run(..., namespace=NS)``, as in
Metaflow 2.19: the client inside the run's steps reads runs in ``NS`` (``--namespace=``:
every run); ``current.namespace`` stays ``user:<you>`` and the run's tags do not change."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import flowkit
from flowkit import FlowSpec, LintError, Parameter, step
from flowkit.settings import current_user
from tests.conftest import ROOT
from tests.metaflow_compat.flows.namespace_flow import NamespaceFlow

FLOW_FILE = Path(__file__).parent / "flows" / "namespace_flow.py"

pytestmark = pytest.mark.slow


def test_the_steps_client_reads_the_namespace_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = str(tmp_path / "store")
    monkeypatch.setenv("FLOWKIT_STORE", store)  # where the steps' client looks
    me = f"user:{current_user()}"
    first = flowkit.run(NamespaceFlow, store=store, tags=["nightly"])
    assert (first.data.client_namespace, first.data.current_namespace) == (me, me)
    assert first.data.seen == [first.id]  # its own run, in the default namespace

    tagged = flowkit.run(NamespaceFlow, store=store, namespace="nightly")
    assert tagged.data.client_namespace == "nightly"
    assert tagged.data.current_namespace == me  # as Metaflow's: the user's, whatever --namespace
    assert tagged.data.seen == [first.id]  # only the run tagged nightly, not itself
    assert "nightly" not in tagged.tags

    every = flowkit.run(NamespaceFlow, store=store, namespace="")
    assert every.data.client_namespace is None
    assert every.data.seen == sorted([first.id, tagged.id, every.id])


def test_run_namespace_on_the_command_line(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FLOWKIT_STORE": str(tmp_path / "store")}
    id_file = tmp_path / "run_id"
    ran = subprocess.run(
        [
            sys.executable,
            FLOW_FILE.name,
            "run",
            "--namespace",
            "team:x",
            "--tag",
            "team:x",
            "--run-id-file",
            str(id_file),
        ],
        cwd=FLOW_FILE.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    run = flowkit.Run(
        f"NamespaceFlow/{id_file.read_text()}",
        store=str(tmp_path / "store"),
        _namespace_check=False,
    )
    assert run.data.client_namespace == "team:x" and run.data.seen == [run.id]


def test_a_parameter_may_not_be_named_namespace(tmp_path: Path) -> None:
    class ParamNamespaceFlow(FlowSpec):
        namespace = Parameter("namespace", default="x")

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    with pytest.raises(LintError, match="namespace"):
        flowkit.run(ParamNamespaceFlow, store=str(tmp_path / "store"))


def test_a_steps_client_reads_the_runs_store_not_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in Metaflow, where a step's client reads the metadata its run writes: a run given
    ``store=`` sees its own runs there, though ``FLOWKIT_STORE`` names another store."""
    monkeypatch.setenv("FLOWKIT_STORE", str(tmp_path / "elsewhere"))
    store = str(tmp_path / "store")
    first = flowkit.run(NamespaceFlow, store=store)
    second = flowkit.run(NamespaceFlow, store=store)
    assert first.data.seen == [first.id]
    assert second.data.seen == sorted([first.id, second.id])
    assert not (tmp_path / "elsewhere").exists()
