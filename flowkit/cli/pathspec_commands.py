"""``python flow.py dump|logs RUN/STEP[/TASK]``: a flow file's own look at one step or task of
its runs, printed as Metaflow's commands of the same names print it (a header per task on
stderr, the artifacts or output on stdout)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import click

from flowkit.cli.base import open_store_at, store_option
from flowkit.cli.store_commands import echo_log_lines
from flowkit.cli.task_paths import tasks_at as tasks_of_pathspec
from flowkit.client import Task
from flowkit.lint.api import graph_of
from flowkit.store.errors import BadPathspecError
from flowkit.store.store import Store

#: What Metaflow shows for a value over ``--max-value-size``.
TOO_LARGE = "< artifact too large >"

_SHAPE = "<run_id>/<step_name> or <run_id>/<step_name>/<task_id>"


def tasks_at(flow_cls: type, input_path: str, store: Store) -> list[Task]:
    """The tasks ``RUN/STEP`` (all of the step's) or ``RUN/STEP/TASK`` of the flow names,
    whoever ran it (a pathspec names one run: no namespace hides it, as in Metaflow)."""
    flow = graph_of(flow_cls).name
    if len(input_path.split("/")) not in (2, 3):
        raise BadPathspecError(
            f"{input_path!r} is not a step or a task of {flow}: give {_SHAPE}",
            f"for example 01j2xk8q5v3m4n6p7r8s9t0abc/start; list the runs with: flowkit runs {flow}",
        )
    return tasks_of_pathspec(f"{flow}/{input_path}", store)


def _header(what: str, task: Task) -> None:
    run_id, step, task_id = task.pathspec.split("/")[1:]
    click.secho(f"{what} of run_id={run_id} step={step} task_id={task_id}", fg="magenta", err=True)


def dump_command(flow_cls: type) -> click.Command:
    """``dump``: the artifacts of a step's tasks or of one task."""

    @click.command(
        "dump",
        help=(
            f"Print the artifacts of a task, or of every task of a step. INPUT_PATH is {_SHAPE}."
        ),
    )
    @click.argument("input_path")
    @click.option(
        "--private/--no-private",
        default=False,
        show_default=True,
        help="Also show artifacts whose names start with '_'.",
    )
    @click.option(
        "--max-value-size",
        default=1000,
        show_default=True,
        type=click.IntRange(min=0),
        help="Show only values stored in at most this many bytes; 0 shows names only.",
    )
    @click.option("--include", default="", help="Only the artifacts in this comma-separated list.")
    @click.option(
        "--file",
        "out_file",
        default=None,
        type=click.Path(dir_okay=False),
        help="Pickle {task: {artifact: value}} (every value, whatever its size) to this file.",
    )
    @store_option
    def dump(
        input_path: str,
        private: bool,
        max_value_size: int,
        include: str,
        out_file: str | None,
        store_url: str | None,
    ) -> None:
        wanted = {name for name in include.split(",") if name}
        limit = None if out_file is not None else max_value_size
        output: dict[str, dict[str, Any]] = {}
        for task in tasks_at(flow_cls, input_path, open_store_at(store_url)):
            _header("Dumping output", task)
            shown = [
                a
                for a in task.artifacts
                if (not wanted or a.id in wanted) and (private or not a.id.startswith("_"))
            ]
            if out_file is not None:
                output[task.pathspec.split("/", 1)[1]] = {a.id: a.data for a in shown}
                continue
            for artifact in sorted(shown, key=lambda a: a.id):
                small = limit is not None and 0 < artifact.size <= limit
                value = artifact.data if small else TOO_LARGE
                kind = f"<class '{artifact.type}'>"
                click.echo(f"{artifact.id} [size: {artifact.size} type: {kind}] = {value}")
        if out_file is not None:
            Path(out_file).write_bytes(pickle.dumps(output, protocol=pickle.HIGHEST_PROTOCOL))
            click.echo(f"Artifacts written to {out_file}", err=True)

    return dump


def logs_command(flow_cls: type) -> click.Command:
    """``logs``: the output of a step's tasks or of one task."""

    @click.command(
        "logs",
        help=f"Print the output of a task, or of every task of a step. INPUT_PATH is {_SHAPE}.",
    )
    @click.argument("input_path")
    @click.option("--stdout/--no-stdout", default=False, show_default=True, help="Show stdout.")
    @click.option("--stderr/--no-stderr", default=False, show_default=True, help="Show stderr.")
    @click.option(
        "--both/--no-both", default=True, show_default=True, help="Show stdout and stderr."
    )
    @click.option(
        "--timestamps/--no-timestamps",
        default=False,
        show_default=True,
        help="Start each line with its time.",
    )
    @click.option(
        "--attempt",
        default=None,
        type=click.IntRange(min=0),
        help="The attempt to show (default: the latest).",
    )
    @store_option
    def logs(
        input_path: str,
        stdout: bool,
        stderr: bool,
        both: bool,
        timestamps: bool,
        attempt: int | None,
        store_url: str | None,
    ) -> None:
        chosen = [s for s, on in (("stdout", stdout), ("stderr", stderr)) if on]
        streams = chosen or (["stdout", "stderr"] if both else [])
        store = open_store_at(store_url)
        for task in tasks_at(flow_cls, input_path, store):
            if attempt is not None:
                task = Task(task.pathspec, store=store, attempt=attempt, _namespace_check=False)
            _header("Dumping logs", task)
            for stream in streams:
                click.secho(stream, bold=True, err=True)
                lines = ((stream, line) for line in task.log_lines(stream))
                echo_log_lines(lines, timestamps=timestamps, stderr_apart=False, millis=True)

    return logs
