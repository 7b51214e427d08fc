"""Exported DAGs without Airflow: each DAG file executed against a tiny fake of the Airflow
names it uses (tests/export/fake_airflow.py: every task defined before a task follows it,
each task's settings and upstream tasks recorded), how each flow shape and decorator maps,
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
from tests.export.fake_airflow import DAG, load_dag

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
    ).text
    load_dag(text)  # it executes: every task is defined before a task that follows it
    return text


def dag_of(path: Path, tmp_path: Path, **options: object) -> DAG:
    return load_dag(exported(path, tmp_path, **options))[0]


def upstream(dag: DAG) -> dict[str, list[str]]:
    return {t.task_id: sorted(set(t.upstream)) for t in dag.tasks.values()}


def dag_body(text: str) -> list[str]:
    return [line.strip() for line in text.split("with DAG(", 1)[1].splitlines()]


def test_foreach_maps_its_body_and_fans_in(tmp_path: Path) -> None:
    dag = dag_of(FLOWS / "foreach_flow.py", tmp_path)
    tasks = dag.tasks
    assert list(tasks) == [
        "flowkit-start-run", "start", "square", "shift", "join", "end", "flowkit-end-run"
    ]  # fmt: skip
    assert [t for t, task in tasks.items() if task.mapped] == ["square", "shift"]
    assert upstream(dag)["square"] == ["flowkit-start-run", "start"]
    assert upstream(dag)["shift"] == ["flowkit-start-run", "square"]
    # the join takes every mapped task's result as its parents (not a list of one)
    assert tasks["join"].arguments["parents"] is tasks["shift"]
    assert upstream(dag)["flowkit-end-run"] == [
        "end", "flowkit-start-run", "join", "shift", "square", "start"
    ]  # fmt: skip
    assert tasks["flowkit-end-run"].settings["outlets"][0].text == "flowkit://ForeachFlow"
    assert dag.settings["schedule"] is None
    # started by hand only: runs may overlap, as flowkit's own do
    assert "max_active_runs" not in dag.settings
    # the parameter, with its type and default, in Airflow's trigger form
    param = dag.settings["params"]["shift_by"]
    assert (param.default, param.type) == (10, "integer")
    # every step may be retried once (a lost attempt's retry), at once
    assert {tasks[s].settings["retries"] for s in ("start", "square", "join", "end")} == {1}


def test_an_uneven_split_with_a_foreach_in_a_branch_defines_tasks_parents_first(
    tmp_path: Path,
) -> None:
    dag = dag_of(FLOWS / "uneven_flow.py", tmp_path)
    order = list(dag.tasks)
    for task in dag.tasks.values():
        assert all(order.index(u) < order.index(task.task_id) for u in task.upstream)
    assert upstream(dag)["join"] == ["a2", "b_join", "flowkit-start-run"]
    assert [t for t, task in dag.tasks.items() if task.mapped] == ["body", "body2"]
    assert dag.tasks["b_join"].arguments["parents"] is dag.tasks["body2"]


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
    dag = dag_of(FLOWS / "switch_flow.py", tmp_path)
    choose = dag.tasks["choose-start"]
    assert choose.settings == {"branch": True, "task_id": "choose-start"}
    # the "skip" case is where the "deploy" case ends: following deploy must not skip it
    assert choose.arguments["follow"] == {"deploy": ["deploy", "end"], "end": ["end"]}
    assert upstream(dag)["deploy"] == ["choose-start", "flowkit-start-run", "start"]
    assert dag.tasks["end"].settings["trigger_rule"] == "none_failed_min_one_success"
    assert upstream(dag)["end"] == ["choose-start", "deploy", "flowkit-start-run", "start"]


def test_decorators_map_to_retries_timeouts_schedule_and_assets(tmp_path: Path) -> None:
    dag = dag_of(FLOWS / "decorated_flow.py", tmp_path)
    left, right = dag.tasks["left"].settings, dag.tasks["right"].settings
    assert {k: str(v) for k, v in left.items()} == {
        "task_id": "left",
        "retries": "3",
        "retry_delay": "0:00:02",
        "retry_exponential_backoff": "2.0",
        "max_retry_delay": "0:00:30",
    }
    # flowkit kills the task at its @timeout; Airflow's is a backstop a minute later
    assert str(right["execution_timeout"]) == "0:01:10"
    assert (right["retries"], str(right["retry_delay"])) == (1, "0:00:00")
    assert upstream(dag)["join"] == ["flowkit-start-run", "left", "right"]
    schedule = dag.settings["schedule"]
    assert (schedule.timetable.cron, schedule.timetable.timezone) == ("30 2 * * *", "Europe/Berlin")
    assert schedule.assets.text == "flowkit://IngestFlow"
    assert dag.settings["catchup"] is False
    assert dag.settings["max_active_runs"] == 1  # scheduled: overlap="skip" by default
    # a fixed start date: exporting an unchanged flow again writes the same file
    assert str(dag.settings["start_date"]) == "2024-01-01 00:00:00+00:00"
    assert dag.tasks["flowkit-end-run"].settings["outlets"][0].text == "flowkit://DecoratedFlow"


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
    dag, _ = load_dag(text)
    # any one upstream run or event starts a run, as flowkit's scheduler does
    assert dag.settings["schedule"].text == (
        "((flowkit://IngestFlow | flowkit://LabelFlow) | flowkit-event://drift_detected)"
    )
    assert dag.settings["max_active_runs"] == 1


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


def test_the_retry_setting_retries_steps_without_their_own(tmp_path: Path) -> None:
    from flowkit.settings import Settings

    settings = Settings.resolve({"retry": 2}, environ={}, cwd=tmp_path)
    dag = dag_of(FLOWS / "decorated_flow.py", tmp_path, settings=settings)
    assert dag.tasks["start"].settings["retries"] == 2  # the setting's retry(times=2)
    assert dag.tasks["left"].settings["retries"] == 3  # its own @retry wins


def test_what_does_not_work_under_airflow_is_said_at_export(tmp_path: Path) -> None:
    path = write_flow(
        tmp_path,
        """
        from flowkit import FlowSpec, Parameter, project, sla, step

        @project(name="shop")
        @sla(minutes=30)
        class GapFlow(FlowSpec):
            when = Parameter("when", required=True, help="the day to run for")
            limit = Parameter("limit", default=None, type=int)

            @sla(minutes=5)
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
        """,
    )
    exported_dag = export_dag(
        load_flow_file(path),
        open_store(tmp_path / "store"),
        dag_id=None,
        python=sys.executable,
        bake_store=True,
        source=str(path),
    )
    said = "\n".join(exported_dag.warnings)
    assert "@sla on the flow's and steps start raises no sla_missed alert under Airflow" in said
    assert "@project: runs under Airflow are on the user branch" in said
    # the trigger form asks for a required parameter, and allows null where flowkit does
    assert "'when': Param(type='string', description='the day to run for')" in exported_dag.text
    dag, _ = load_dag(exported_dag.text)
    param = dag.settings["params"]["limit"]
    assert (param.default, param.type) == (None, ["integer", "null"])


def test_a_joins_many_parents_reach_the_task_command_whole(tmp_path: Path) -> None:
    """A foreach's join has one parent per item (~280 bytes each): on the command line, ~460
    of them passed Linux's limit on one argument; they go on the command's stdin."""
    from tests.export import fake_airflow

    _, helpers = load_dag(exported(FLOWS / "foreach_flow.py", tmp_path))
    helpers["PYTHON"] = sys.executable
    store = open_store(tmp_path / "store")
    parents = [{"step": "shift", "task_id": f"t{i}", "pad": "x" * 300} for i in range(2000)]
    with pytest.raises(fake_airflow.AirflowFailException, match="exit status 2"):
        # the command reads them all, then finds no such run (its key is made up)
        helpers["flowkit"]("step", store.url, "0" * 64, "join", "", "1", "1", given=parents)


def test_a_foreach_over_more_items_than_airflow_maps_fails_saying_so(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from tests.export import fake_airflow

    _, helpers = load_dag(exported(FLOWS / "foreach_flow.py", tmp_path))
    entry = {"task": {"step": "start"}, "index": 0}
    helpers["flowkit"] = lambda *args, given=None: [entry] * 1025
    fake_airflow.CONTEXT["ti"] = SimpleNamespace(try_number=1, max_tries=1)
    run = {"store": "s", "run": "k", "flow": "ForeachFlow", "run_id": "R"}
    try:
        with pytest.raises(fake_airflow.AirflowFailException) as failed:
            helpers["flowkit_step"].function(run, "start")
    finally:
        fake_airflow.CONTEXT.clear()
    assert "foreach step 'start' of run ForeachFlow/R made 1025 items" in str(failed.value)
    assert "AIRFLOW__CORE__MAX_MAP_LENGTH" in str(failed.value)
