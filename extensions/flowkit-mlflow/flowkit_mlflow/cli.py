"""``flowkit mlflow sync FLOW/RUN``: log a run to MLflow from the store, after the fact (a
tracking server that was down, a run made without the hook); run again, it logs nothing twice."""

from __future__ import annotations

import click

from flowkit.cli.base import FlowkitGroup, store_option
from flowkit.errors import FlowkitError


@click.group("mlflow", cls=FlowkitGroup)
def mlflow_cmd() -> None:
    """Log flowkit runs to MLflow."""


@mlflow_cmd.command("sync")
@click.argument("pathspec")
@click.option("--experiment", default=None, help="The MLflow experiment (default: the run's).")
@click.option(
    "--tracking-uri", default=None, help="Where MLflow is (default: MLFLOW_TRACKING_URI)."
)
@click.option("--values", is_flag=True, help="Log the artifacts' values too (their repr).")
@click.option(
    "--copy",
    is_flag=True,
    help="Log a second copy in --experiment when the run is in MLflow in another one.",
)
@store_option
def sync_cmd(
    pathspec: str,
    experiment: str | None,
    tracking_uri: str | None,
    values: bool,
    copy: bool,
    store_url: str | None,
) -> None:
    """Log the run FLOW/RUN, its tasks, parameters and metrics to MLflow."""
    from flowkit.settings import Settings
    from flowkit.store import open_store
    from flowkit_mlflow.connect import client, problem, quick
    from flowkit_mlflow.connect import tracking_uri as uri_of
    from flowkit_mlflow.sync import Syncer, experiment_of

    flow, _, run_id = pathspec.partition("/")
    if not flow or not run_id or "/" in run_id:
        raise FlowkitError(
            f"'{pathspec}' is not FLOW/RUN",
            f"list a flow's runs with: flowkit runs {flow or 'FLOW'}",
        )
    settings = Settings.resolve({"store": store_url})
    setting = settings.hooks.get("mlflow", {})
    store = open_store(settings)
    run = store.records.get_run(flow, run_id)
    uri = uri_of(tracking_uri or setting.get("tracking_uri"))
    syncer = Syncer(
        store,
        run,
        client(uri),
        experiment_of(store, run, experiment, setting.get("experiment")),
        values or bool(setting.get("values")),
        copy=copy,
    )
    try:
        with quick():
            count = syncer.everything()
    except FlowkitError:
        raise
    except Exception as exc:  # MLflow's many errors: said as one, with what to do
        where = uri or "MLflow's default tracking URI"
        said, hint = problem(exc, where, "run this again (nothing is logged twice)")
        syncer.link(failed=True, error=said)
        raise FlowkitError(f"logging {pathspec} to MLflow at {where} failed: {said}", hint) from exc
    syncer.link(failed=False)
    click.echo(
        f"{pathspec}: {count} tasks in MLflow run {syncer.run_id()} "
        f"(experiment '{syncer.experiment}')"
    )
