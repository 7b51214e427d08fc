"""The text of exported DAGs (no Airflow needed): how each flow shape and decorator maps,
and the shapes refused, with the step, file and line."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowkit.authoring.loader import load_flow_file
from flowkit.cli.main import cli
from flowkit.errors import FlowDefinitionError
from flowkit.export.airflow import export_dag
from flowkit.export.shape import UnsupportedShape
from flowkit.store import open_store

FLOWS = Path(__file__).parent / "flows"
SHARED_FLOWS = Path(__file__).parent.parent / "flows"


def exported(path: Path, tmp_path: Path, **options: object) -> str:
    text = export_dag(
        load_flow_file(path),
        open_store(tmp_path / "store"),
        dag_id=None,
        python="/envs/flowkit/bin/python",
        bake_store=True,
        source=str(path),
        **options,  # type: ignore[arg-type]
    )
    compile(text, "dag.py", "exec")  # valid Python, whatever Airflow makes of it
    return text


def dag_body(text: str) -> list[str]:
    return [line.strip() for line in text.split("with DAG(", 1)[1].splitlines()]


def test_foreach_maps_its_body_and_fans_in(tmp_path: Path) -> None:
    body = dag_body(exported(FLOWS / "foreach_flow.py", tmp_path))
    assert (
        "out['square'] = flowkit_step.override(task_id='square')"
        ".partial(run=run, step='square').expand(parent=out['start'])" in body
    )
    assert (
        "out['shift'] = flowkit_step.override(task_id='shift')"
        ".partial(run=run, step='shift').expand(parent=out['square'])" in body
    )
    # the join takes every mapped task's result, not a list of one
    assert (
        "out['join'] = flowkit_step.override(task_id='join')(run, 'join', parents=out['shift'])"
        in body
    )
    assert "schedule=None," in body
    assert "[*out.values(), *choices] >> done" in body


def test_the_code_package_store_and_python_are_baked_in(tmp_path: Path) -> None:
    text = exported(FLOWS / "foreach_flow.py", tmp_path)
    store = open_store(tmp_path / "store")
    assert f"STORE = {store.url!r}" in text
    assert "PYTHON = os.environ.get(\"FLOWKIT_PYTHON\") or '/envs/flowkit/bin/python'" in text
    code = next(line for line in text.splitlines() if line.startswith("CODE = "))
    digest = code.split('"target": "')[1].split('"')[0]
    assert store.values.has(digest)  # snapshotted at export: what every run executes
    assert "import flowkit" not in text and "from flowkit" not in text


def test_switch_branches_and_meets_again(tmp_path: Path) -> None:
    body = dag_body(exported(FLOWS / "switch_flow.py", tmp_path))
    # the "skip" case is where the "deploy" case ends: following deploy must not skip it
    assert (
        "choose_start = flowkit_switch.override(task_id='choose-start')"
        "(out['start'], {'deploy': ['deploy', 'end'], 'end': ['end']})" in body
    )
    assert "choose_start >> out['deploy']" in body
    assert (
        "out['end'] = flowkit_step.override(task_id='end', "
        'trigger_rule="none_failed_min_one_success")'
        "(run, 'end', parents=[out['start'], out['deploy']])" in body
    )


def test_decorators_map_to_retries_timeouts_schedule_and_assets(tmp_path: Path) -> None:
    body = dag_body(exported(FLOWS / "decorated_flow.py", tmp_path))
    assert (
        "out['left'] = flowkit_step.override(task_id='left', retries=3, "
        "retry_delay=timedelta(seconds=2), retry_exponential_backoff=2.0, "
        "max_retry_delay=timedelta(seconds=30))(run, 'left', parents=[out['start']])" in body
    )
    # flowkit kills the task at its @timeout; Airflow's is a backstop a minute later
    assert (
        "out['right'] = flowkit_step.override(task_id='right', "
        "execution_timeout=timedelta(seconds=70))(run, 'right', parents=[out['start']])" in body
    )
    assert (
        "out['join'] = flowkit_step.override(task_id='join')(run, 'join', parents=[out['left'], out['right']])"
        in body
    )
    assert (
        "schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable('30 2 * * *', "
        "timezone='Europe/Berlin'), assets=flowkit_asset('IngestFlow'))," in body
    )
    assert "catchup=False," in body
    assert (
        "done = flowkit_end_run.override(outlets=[flowkit_asset('DecoratedFlow')])"
        '(run, out["end"])' in body
    )


def write_flow(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "shape_flow.py"
    path.write_text(textwrap.dedent(source))
    return path


def refusal(path: Path, tmp_path: Path) -> UnsupportedShape:
    with pytest.raises(UnsupportedShape) as caught:
        exported(path, tmp_path)
    return caught.value


def test_nested_foreach_is_refused_at_the_inner_foreach(tmp_path: Path) -> None:
    error = refusal(SHARED_FLOWS / "nested_foreach.py", tmp_path)
    assert error.step == "outer"
    assert error.file == str(SHARED_FLOWS / "nested_foreach.py")
    lines = (SHARED_FLOWS / "nested_foreach.py").read_text().splitlines()
    assert 'foreach="numbers"' in lines[(error.line or 0) - 1]
    assert "a foreach inside the body of foreach 'start'" in error.render()
    assert "Airflow maps a task over a list only once" in error.render()


def test_a_recursive_switch_is_refused(tmp_path: Path) -> None:
    error = refusal(SHARED_FLOWS / "recursion.py", tmp_path)
    assert error.step == "loop"
    assert "goes back to step 'loop' (a recursive switch)" in error.render()
    assert f"{SHARED_FLOWS / 'recursion.py'}:{error.line}" in error.render()


@pytest.mark.parametrize(
    ("inner", "what"),
    [
        ("self.next(self.a, self.b)", "a static split"),
        ('self.next({"x": self.a, "y": self.b}, condition="pick")', "a switch"),
    ],
)
def test_branching_inside_a_foreach_is_refused(tmp_path: Path, inner: str, what: str) -> None:
    path = write_flow(
        tmp_path,
        f"""
        from flowkit import FlowSpec, step

        class ShapeFlow(FlowSpec):
            @step
            def start(self):
                self.items = [1, 2]
                self.next(self.body, foreach="items")

            @step
            def body(self):
                self.pick = "x"
                {inner}

            @step
            def a(self):
                self.next(self.meet)

            @step
            def b(self):
                self.next(self.meet)

            @step
            def meet(self{", inputs" if "condition" not in inner else ""}):
                self.next(self.join)

            @step
            def join(self, inputs):
                self.next(self.end)

            @step
            def end(self):
                pass
        """,
    )
    error = refusal(path, tmp_path)
    assert (error.step, error.file, error.line) == ("body", str(path), 13)
    assert f"{what} inside the body of foreach 'start' cannot be exported" in error.render()


def test_an_event_trigger_is_an_asset_whose_payload_gives_parameters(tmp_path: Path) -> None:
    path = write_flow(
        tmp_path,
        """
        from flowkit import FlowSpec, Parameter, step, trigger, trigger_on_finish

        @trigger_on_finish(flows=["IngestFlow", "LabelFlow"])
        @trigger(event={"name": "drift_detected", "parameters": {"why": "reason"}})
        class EventFlow(FlowSpec):
            why = Parameter("why", default="scheduled")

            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
        """,
    )
    text = exported(path, tmp_path)
    assert "EVENTS = {'drift_detected': {'why': 'reason'}}" in text
    assert (
        "schedule=(flowkit_asset('IngestFlow') & flowkit_asset('LabelFlow')) | "
        "flowkit_event_asset('drift_detected')," in dag_body(text)
    )


def test_a_flow_with_lint_problems_is_not_exported(tmp_path: Path) -> None:
    path = write_flow(
        tmp_path,
        """
        from flowkit import FlowSpec, step

        class BadFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.nowhere)

            @step
            def end(self):
                pass
        """,
    )
    with pytest.raises(FlowDefinitionError):
        exported(path, tmp_path)


def test_the_command_writes_the_dag(tmp_path: Path) -> None:
    target = tmp_path / "dags" / "foreach_flow.py"
    result = CliRunner().invoke(
        cli,
        [
            "airflow",
            "create",
            str(FLOWS / "foreach_flow.py"),
            "-o",
            str(target),
            "--store",
            str(tmp_path / "store"),
            "--dag-id",
            "nightly_numbers",
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {target}: DAG 'nightly_numbers' of ForeachFlow" in result.output
    text = target.read_text()
    assert "dag_id='nightly_numbers'," in text
    assert f'PYTHON = os.environ.get("FLOWKIT_PYTHON") or {sys.executable!r}' in text
    assert not list(target.parent.glob(".*.tmp"))


def test_the_command_says_what_it_refuses(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "airflow",
            "create",
            str(SHARED_FLOWS / "recursion.py"),
            "-o",
            str(tmp_path / "dag.py"),
            "--store",
            str(tmp_path / "store"),
        ],
    )
    assert result.exit_code != 0
    assert "recursive switch" in result.output
    assert "recursion.py:" in result.output
    assert not (tmp_path / "dag.py").exists()


def test_a_step_sent_to_another_executor_is_refused(tmp_path: Path) -> None:
    path = write_flow(
        tmp_path,
        """
        from flowkit import FlowSpec, slurm, step

        class ClusterFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.train)

            @slurm(partition="gpu")
            @step
            def train(self):
                self.next(self.end)

            @step
            def end(self):
                pass
        """,
    )
    error = refusal(path, tmp_path)
    assert (error.step, error.file) == ("train", str(path))
    assert "step 'train' runs on @slurm, but under Airflow every step runs on the Airflow" in (
        error.render()
    )
    assert "drop @slurm from the flow you export" in error.render()


def test_a_dag_id_airflow_would_refuse_is_refused_here(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "airflow",
            "create",
            str(FLOWS / "foreach_flow.py"),
            "-o",
            str(tmp_path / "dag.py"),
            "--dag-id",
            "nightly numbers!",
            "--store",
            str(tmp_path / "store"),
        ],
    )
    assert result.exit_code == 2
    assert "'nightly numbers!' is not an Airflow DAG id" in result.output
    assert not (tmp_path / "dag.py").exists()
