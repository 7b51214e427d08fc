"""``flowkit notebook PATHSPEC``: write a notebook that opens a run for exploration."""

from __future__ import annotations

import click

from flowkit.cli.base import store_option


@click.command("notebook")
@click.argument("pathspec")
@click.option(
    "-o", "--output", default=None, help="Where to write the .ipynb (default: FLOW-RUN.ipynb)."
)
@store_option
def notebook_cmd(pathspec: str, output: str | None, store_url: str | None) -> None:
    """Write a notebook that opens run PATHSPEC (Flow/run) and loads its artifacts."""
    from flowkit.notebook.export import export_notebook

    click.echo(str(export_notebook(pathspec, output, store=store_url)))
