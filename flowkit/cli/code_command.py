"""``flowkit code FLOW/RUN -o DIR``: get back the files a run ran, byte for byte."""

from __future__ import annotations

import click

from flowkit.cli.base import open_store_at, store_option
from flowkit.cli.show import NO_PACKAGE
from flowkit.client import Run
from flowkit.store import parse_pathspec
from flowkit.store.errors import BadPathspecError, NotFoundError


@click.command("code")
@click.argument("pathspec")
@click.option(
    "--output",
    "-o",
    "folder",
    type=click.Path(file_okay=False),
    default=None,
    help="Write the files into this folder (created if missing).",
)
@click.option(
    "--force", is_flag=True, help="With -o: overwrite files there that have other content."
)
@store_option
def code_cmd(pathspec: str, folder: str | None, force: bool, store_url: str | None) -> None:
    """List the code package of a run (Flow/run), or write its files into a folder with -o."""
    spec = parse_pathspec(pathspec)
    if spec.depth != 2:
        raise BadPathspecError(
            f"{pathspec!r} does not name a run",
            "give Flow/run; list a flow's runs with: flowkit runs Flow",
        )
    run = Run(str(spec), store=open_store_at(store_url), _namespace_check=False)
    code = run.code
    if code is None:
        raise NotFoundError(
            f"run {run.pathspec} has no code package: {NO_PACKAGE}",
            "rerun or resume the flow with this flowkit to store its code with the run",
        )
    if folder is None:
        click.echo(f"code package {code.digest} of run {run.pathspec}")
        for name in code.files:
            click.echo(f"  {name}")
        return
    written = code.extract(folder, force=force)
    click.echo(f"wrote {len(written)} file{'s' if len(written) != 1 else ''} to {folder}")
