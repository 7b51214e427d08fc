"""``flowkit airflow create FLOW_FILE -o dags/x_flow.py``: export a flow as an Airflow DAG
(see :mod:`flowkit.export.airflow_dag` and docs/airflow.md)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import click

from flowkit.cli.base import open_store_at, store_option
from flowkit.files import replace_file

#: What Airflow accepts as a DAG id.
_DAG_ID = re.compile(r"[A-Za-z0-9_.-]{1,250}")


@click.group("airflow")
def airflow_cmd() -> None:
    """Export flows to Apache Airflow."""


@airflow_cmd.command("create")
@click.argument("path", type=click.Path(dir_okay=False, exists=True))
@click.option(
    "--flow", "flow_name", default=None, help="The flow to use when the file has several."
)
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="The DAG file to write."
)
@click.option("--dag-id", default=None, help="The DAG's id (default: the flow's name).")
@click.option(
    "--python",
    "python",
    default=None,
    help="The interpreter Airflow's tasks run flowkit with (default: this one); it needs "
    "flowkit and the flow's dependencies. $FLOWKIT_PYTHON overrides it where the tasks run.",
)
@click.option(
    "--bake-store/--no-bake-store",
    default=True,
    help="Write the store's URL into the DAG (default), or let the tasks read $FLOWKIT_STORE.",
)
@store_option
def create_cmd(
    path: str,
    flow_name: str | None,
    output: str,
    dag_id: str | None,
    python: str | None,
    bake_store: bool,
    store_url: str | None,
) -> None:
    """Write an Airflow DAG that runs the flow in PATH, its code snapshotted into the store.

    The store (--store, else FLOWKIT_STORE or the project's) must be one Airflow's workers
    reach: the code package is stored there now, and every run's records land there.
    """
    from flowkit.authoring.loader import load_flow_file
    from flowkit.export.airflow import export_dag

    if dag_id is not None and not _DAG_ID.fullmatch(dag_id):
        raise click.BadParameter(
            f"{dag_id!r} is not an Airflow DAG id: use at most 250 letters, digits, '_', '-' "
            "and '.'",
            param_hint="--dag-id",
        )
    flow_cls = load_flow_file(path, flow_name)
    store = open_store_at(store_url)
    exported = export_dag(
        flow_cls,
        store,
        dag_id=dag_id,
        python=python or sys.executable,
        bake_store=bake_store,
        source=os.path.abspath(path),
    )
    target = Path(output)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Airflow's DAG processor never reads half a file
    replace_file(target, exported.text.encode("utf-8"), mode=0o666)
    click.echo(f"wrote {target}: DAG '{dag_id or flow_cls.__name__}' of {flow_cls.__name__}")
    click.echo(f"its runs land in the store at {store.url}")
    for warning in exported.warnings:
        click.echo(f"warning: {warning}", err=True)
