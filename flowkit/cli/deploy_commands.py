"""``flowkit deploy``, ``deployments``, ``undeploy``, ``event publish`` and ``scheduler``: the
command line of :mod:`flowkit.deploy` (see docs/scheduler.md)."""

from __future__ import annotations

import json
import signal
import sys
import threading
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import click

from flowkit.cli.base import open_store_at, store_option
from flowkit.errors import FlowkitError


@click.command(
    "deploy", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
@click.argument("flow_file", type=click.Path(dir_okay=False, exists=True))
@click.option(
    "--flow", "flow_name", default=None, help="The flow to deploy when the file has several."
)
@store_option
@click.pass_context
def deploy_cmd(
    ctx: click.Context, flow_file: str, flow_name: str | None, store_url: str | None
) -> None:
    """Register FLOW_FILE's flow with the scheduler: its code as it is now, its parameters
    (``--alpha 0.5`` after the file, as for ``run``), its configs (``--config NAME FILE``,
    ``--config-value NAME JSON``; read now, so every run has them), @schedule and triggers."""
    from flowkit.deploy.register import deploy
    from flowkit.deploy.table import next_fire

    params = _flow_params(ctx.args)
    deployment = deploy(flow_file, flow_name=flow_name, params=params, store=store_url)
    local, utc = next_fire(deployment, datetime.now(UTC))
    click.echo(f"deployed {deployment.flow} (version {deployment.version})")
    if deployment.cron is not None:
        click.echo(f"  next run: {local}" + ("" if local == utc else f" ({utc})"))
    for upstream in deployment.on_finish:
        click.echo(f"  runs when a run of {upstream} succeeds")
    for event in deployment.events:
        click.echo(f"  runs on event {event.name}")
    click.echo("  runs start while `flowkit scheduler` runs on this store")


def _flow_params(args: list[str]) -> dict[str, Any]:
    """``--name value`` / ``--name=value`` pairs after the flow file, as typed, and
    ``--config NAME FILE`` / ``--config-value NAME JSON`` (config NAME: a Path, a text)."""
    from pathlib import Path

    params: dict[str, Any] = {}
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg in ("--config", "--config-value"):
            if len(rest) < 2 or any(a.startswith("--") for a in rest[:2]):
                what = "FILE" if arg == "--config" else "JSON"
                raise FlowkitError(f"{arg} takes two values", f"write {arg} NAME {what}")
            name, value = rest.pop(0), rest.pop(0)
            params[name] = Path(value) if arg == "--config" else value
            continue
        if not arg.startswith("--") or len(arg) < 3:
            raise FlowkitError(
                f"unexpected argument {arg!r}",
                "give the flow's parameters as --name value after the flow file",
            )
        name, eq, value = arg[2:].partition("=")
        if not eq:
            if not rest or rest[0].startswith("--"):
                raise FlowkitError(f"parameter --{name} has no value", f"write --{name} VALUE")
            value = rest.pop(0)
        params[name.replace("-", "_")] = value
    return params


@click.command("deployments")
@store_option
def deployments_cmd(store_url: str | None) -> None:
    """List the deployed flows: schedule, next fire time, triggers, last run."""
    from flowkit.deploy.table import render, rows

    found = rows(open_store_at(store_url), datetime.now(UTC))
    if not found:
        click.echo("no flow is deployed (flowkit deploy FLOW_FILE deploys one)")
        return
    click.echo(render(found))


@click.command("undeploy")
@click.argument("flow")
@store_option
def undeploy_cmd(flow: str, store_url: str | None) -> None:
    """Stop the scheduler starting FLOW (its runs stay; one going on goes on)."""
    from flowkit.deploy.register import undeploy

    undeploy(flow, store=store_url)
    click.echo(f"undeployed {flow}")


@click.group("event")
def event_group() -> None:
    """Publish events that @trigger(event=...) flows wait for."""


@event_group.command("publish")
@click.argument("name")
@click.option("--payload", default=None, help="The event's payload, a JSON object: '{\"x\": 1}'.")
@store_option
def publish_cmd(name: str, payload: str | None, store_url: str | None) -> None:
    """Publish the event NAME: each flow deployed with @trigger(event=NAME) runs once."""
    from flowkit.deploy.register import publish_event

    body = None
    if payload is not None:
        try:
            body = json.loads(payload)
        except ValueError as exc:
            raise FlowkitError(
                f"--payload is not JSON: {exc}", "give a JSON object: --payload '{\"x\": 1}'"
            ) from None
    event_id = publish_event(name, body, store=store_url)
    click.echo(f"published event {name} ({event_id})")


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Handle what is due now, then exit.")
@click.option("--wait", is_flag=True, help="Wait for each run started to end before going on.")
@click.option(
    "--poll",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds between looks at the store.",
)
@store_option
def scheduler_cmd(once: bool, wait: bool, poll: float, store_url: str | None) -> None:
    """Start the deployed flows when due, in the foreground, until Ctrl-C or SIGTERM.

    Runs it started go on to their end when it stops. With ``--once`` it exits 1 if a flow
    could not be handled or (with ``--wait``) a run it started failed or could not start."""
    from flowkit.deploy.loop import DeploymentScheduler
    from flowkit.deploy.register import open_deploy_store

    store = open_deploy_store(store_url)  # memory:// is refused: its runs would see nothing
    scheduler = DeploymentScheduler(store, log=_log, wait=wait)
    _log(f"scheduler on {store.url} (every {poll:g} s{', once' if once else ''})")
    if once:
        done = scheduler.tick()
        failed = [d for d in done if d.exit_code not in (None, 0)]
        if failed or scheduler.errors:
            _log(
                f"{len(failed)} run(s) failed or could not start, {scheduler.errors} flow(s) "
                "could not be handled (see above)"
            )
            sys.exit(1)
        return
    stop = threading.Event()

    def stopping(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, stopping)
    try:
        scheduler.serve(poll, stop)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    going = scheduler.running_children()
    _log("stopped" + (f"; {going} run(s) it started go on" if going else ""))


def _log(line: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    sys.stdout.write(f"{stamp} {line}\n")
    sys.stdout.flush()


COMMANDS: dict[str, click.Command] = {
    "deploy": deploy_cmd,
    "deployments": deployments_cmd,
    "undeploy": undeploy_cmd,
    "event": event_group,
    "scheduler": scheduler_cmd,
}
