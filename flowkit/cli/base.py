"""What every flowkit command shares: user errors become one message and an exit code, and
``--store`` is one option, opened one way."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from flowkit.errors import FlowkitError, LintError, ParameterError

if TYPE_CHECKING:
    from flowkit.store.store import Store


def exit_code(error: FlowkitError) -> int:
    """1 for a flow that does not pass lint or fails; 2 for a bad command line."""
    return 2 if isinstance(error, ParameterError) else 1


class FlowkitGroup(click.Group):
    """A click group whose commands report a :class:`FlowkitError` without a traceback, and
    whose commands may be made only when asked for (:meth:`add_lazy_command`)."""

    #: The entry point group whose commands this group has as well, loaded when one is named
    #: (``flowkit mlflow`` from the flowkit-mlflow package); None: none.
    plugin_commands: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy: dict[str, Callable[[], click.Command]] = {}

    def add_lazy_command(self, name: str, make: Callable[[], click.Command]) -> None:
        """Add the command ``make()`` returns, calling it when ``name`` is first looked up
        (run, listed in help): its module's imports are paid only by those who use it."""
        self._lazy[name] = make

    def list_commands(self, ctx: click.Context) -> list[str]:
        plugins: list[str] = []
        if self.plugin_commands is not None:
            from flowkit.plugins import installed

            plugins = installed(self.plugin_commands)
        return sorted({*super().list_commands(ctx), *self._lazy, *plugins})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        make = self._lazy.pop(cmd_name, None)
        if make is not None:
            self.add_command(make(), cmd_name)
        found = super().get_command(ctx, cmd_name)
        if found is None and self.plugin_commands is not None:
            from flowkit.plugins import find_plugin

            try:
                found = find_plugin(self.plugin_commands, cmd_name)
            except FlowkitError as error:  # one broken package: listed, refused when run
                return _unloadable(cmd_name, error)
            if found is not None:
                self.add_command(found, cmd_name)
        return found

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FlowkitError as error:
            prefix = "" if isinstance(error, LintError) else "error: "
            click.echo(prefix + error.render(), err=True)
            ctx.exit(exit_code(error))


def _unloadable(name: str, error: FlowkitError) -> click.Command:
    """A plug-in command that does not load: ``flowkit --help`` lists it as such, and running
    it says why (the rest of the CLI works)."""

    def refuse() -> None:
        raise error

    return click.Command(
        name,
        callback=refuse,
        help=f"failed to load: {error.message}",
        short_help=f"failed to load: {error.message.splitlines()[0][:60]}",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
    )


class StoreOption(click.Option):
    """``--store PATH|URL``, the one definition every command that uses a store takes;
    ``decls`` names the argument it is passed as."""

    def __init__(self, decls: Sequence[str] = ("store_url",)) -> None:
        super().__init__(
            ["--store", *decls],
            default=None,
            metavar="PATH|URL",
            help="Store root (default: FLOWKIT_STORE, [tool.flowkit] store, or the user store).",
        )


#: Decorator: the command takes ``--store`` as its ``store_url`` argument.
store_option = click.option("store_url", cls=StoreOption)


def open_store_at(store_url: str | None) -> Store:
    """The store ``--store`` names, or the one the settings resolve to without it."""
    from flowkit.settings import Settings
    from flowkit.store.open import open_store

    return open_store(Settings.resolve({"store": store_url}).store)


def note_if_empty(store: Store) -> None:
    """Say so (on stderr) when ``store`` holds no run at all: a mistyped --store is the
    likeliest reason, and "no problems found" would hide it."""
    if not store.records.list_flows():
        click.echo(
            f"note: the store at {store.url} holds no runs; if yours are elsewhere, point at "
            "them with --store or FLOWKIT_STORE",
            err=True,
        )
