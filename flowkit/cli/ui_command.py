"""``flowkit ui``: serve the web UI over one store (docs/ui.md)."""

from __future__ import annotations

import os

import click

from flowkit.cli.base import open_store_at, store_option
from flowkit.errors import FlowkitError

#: The environment variable a token may come from instead of --token.
TOKEN_ENV = "FLOWKIT_UI_TOKEN"


@click.command("ui")
@store_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; any but 127.0.0.1 requires a token.")  # fmt: skip
@click.option("--port", type=click.IntRange(0, 65535), default=8808, show_default=True,
              help="Port to listen on (0: any free port).")  # fmt: skip
@click.option("--token", default=None, metavar="TOKEN",
              help=f"Require this token (default: ${TOKEN_ENV}; made up when --host is "
              "another address).")  # fmt: skip
@click.option("--allow-writes", is_flag=True,
              help="Let the UI edit runs' user tags (else it is read-only).")  # fmt: skip
@click.option("--no-browser", is_flag=True, help="Do not open a browser.")
def ui_cmd(
    store_url: str | None,
    host: str,
    port: int,
    token: str | None,
    allow_writes: bool,
    no_browser: bool,
) -> None:
    """Serve a web UI of the store's runs on http://127.0.0.1:PORT/ (Ctrl-C stops it)."""
    _require_ui_extra()
    from flowkit.ui.server import UiOptions, serve

    options = UiOptions(
        host=host,
        port=port,
        token=token or os.environ.get(TOKEN_ENV) or None,
        writable=allow_writes,
        browser=not no_browser,
    )
    serve(open_store_at(store_url), options, lambda line: click.echo(line))


def _require_ui_extra() -> None:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise FlowkitError(
            f"flowkit ui needs starlette and uvicorn, which are not installed ({exc.name or exc})",
            'install them with: pip install "flowkit[ui]"',
        ) from None
