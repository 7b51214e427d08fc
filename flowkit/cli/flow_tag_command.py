"""``python flow.py tag add|remove|replace|list``: the tags of the flow's runs, with Metaflow's
options (``--run-id``, ``--namespace``; ``list``'s ``--all``, ``--my-runs``,
``--hide-system-tags``, ``--group-by-tag``, ``--group-by-run``). Changing and showing tags is
``flowkit tag``'s code (:mod:`flowkit.cli.tag_command`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from flowkit.cli.base import open_store_at, store_option
from flowkit.cli.tag_command import GroupBy, change_tags, echo_tags
from flowkit.client import Flow, Run
from flowkit.client.namespace import in_namespace
from flowkit.errors import ParameterError
from flowkit.settings import current_user
from flowkit.store.errors import NotFoundError
from flowkit.store.store import Store


def _my_namespace() -> str | None:
    user = current_user()
    return None if user is None else f"user:{user}"


def _runs_in(flow: str, store: Store, ns: str | None) -> list[Run]:
    """The flow's runs carrying the tag ``ns`` (every run for None), newest first."""
    runs = Flow(flow, store=store, _namespace_check=False).runs()
    return [r for r in runs if in_namespace(r.tags, ns)]


def _run(flow: str, run_id: str | None, ns: str | None, store: Store) -> Run:
    """The run ``--run-id`` names, whoever ran it (an id names one run, as dump's does).
    Without one, nothing is guessed, as in Metaflow: the error names the latest run of
    namespace ``ns``."""
    if run_id is None:
        runs = _runs_in(flow, store, ns)
        if not runs:
            raise NotFoundError(
                f"{flow} has no run in namespace {ns}",
                "give --run-id ID, or --namespace TAG (every run's tags: tag list --all)",
            )
        raise ParameterError(
            "give the run to tag with --run-id",
            f"{flow}'s latest run in namespace {ns} is {runs[0].id}: --run-id {runs[0].id}",
        )
    if "/" in run_id:
        raise ParameterError(
            f"run id {run_id!r} is not a run id of {flow}",
            "give the id alone (--run-id ID), without the flow name or a step",
        )
    return Run(f"{flow}/{run_id}", store=store, _namespace_check=False)


def _run_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--namespace",
        "user_namespace",
        default=None,
        help="Without --run-id: the namespace whose latest run is meant (default: user:YOU).",
    )(f)
    f = click.option("--run-id", default=None, help="The id of the run to tag. [required]")(f)
    return store_option(f)


def flow_tag_group(flow_cls: type) -> click.Group:
    """The ``tag`` command group of one flow class."""
    flow = flow_cls.__name__  # a flow's name; its graph is built only when a command needs it

    def chosen(run_id: str | None, user_namespace: str | None, store_url: str | None) -> Run:
        ns = user_namespace if user_namespace is not None else _my_namespace()
        return _run(flow, run_id, ns, open_store_at(store_url))

    @click.group("tag", help="Add, remove, replace or list the tags of the flow's runs.")
    def tag() -> None:
        pass

    @tag.command("add", help="Add TAGS to the run --run-id.")
    @_run_options
    @click.argument("tags", nargs=-1, required=True)
    def add(
        run_id: str | None, user_namespace: str | None, store_url: str | None, tags: tuple[str, ...]
    ) -> None:
        change_tags(chosen(run_id, user_namespace, store_url), add=tags)

    @tag.command("remove", help="Remove TAGS from the run --run-id (system tags cannot go).")
    @_run_options
    @click.argument("tags", nargs=-1, required=True)
    def remove(
        run_id: str | None, user_namespace: str | None, store_url: str | None, tags: tuple[str, ...]
    ) -> None:
        change_tags(chosen(run_id, user_namespace, store_url), remove=tags)

    @tag.command(
        "replace",
        help="Remove the --remove tags, then add the --add tags, of the run --run-id, in one "
        "change.",
    )
    @_run_options
    @click.option("--add", "to_add", multiple=True, help="A tag to add (repeat for more).")
    @click.option("--remove", "to_remove", multiple=True, help="A tag to remove (repeat for more).")
    def replace(
        run_id: str | None,
        user_namespace: str | None,
        store_url: str | None,
        to_add: tuple[str, ...],
        to_remove: tuple[str, ...],
    ) -> None:
        if not to_add or not to_remove:
            missing = "add (--add)" if not to_add else "remove (--remove)"
            other = "tag remove" if not to_add else "tag add"
            raise ParameterError(
                f"tag replace needs a tag to {missing}", f"give one, or use {other} instead"
            )
        change_tags(chosen(run_id, user_namespace, store_url), remove=to_remove, add=to_add)

    @tag.command("list", help="List the tags of a run, or of every run of the flow (default).")
    @click.option("--run-id", default=None, help="The id of the run to list.")
    @click.option("--all", "list_all", is_flag=True, help="Every run of the flow (the default).")
    @click.option("--my-runs", is_flag=True, help="The runs of your namespace (user:YOU).")
    @click.option("--hide-system-tags", is_flag=True, help="Show user tags only.")
    @click.option("--group-by-tag", is_flag=True, help="List each tag's runs.")
    @click.option("--group-by-run", is_flag=True, help="List each run's tags.")
    @click.argument("arg_run_id", required=False, default=None)
    @store_option
    def list_tags(
        run_id: str | None,
        list_all: bool,
        my_runs: bool,
        hide_system_tags: bool,
        group_by_tag: bool,
        group_by_run: bool,
        arg_run_id: str | None,
        store_url: str | None,
    ) -> None:
        if run_id is not None and arg_run_id is not None:
            raise ParameterError("two runs given", "give the run either as --run-id or as RUN_ID")
        if list_all and my_runs:
            raise ParameterError("--all and --my-runs are given together", "give one of them")
        if group_by_tag and group_by_run:
            raise ParameterError(
                "--group-by-tag and --group-by-run are given together", "give one of them"
            )
        group_by: GroupBy = "tag" if group_by_tag else "run" if group_by_run else None
        store = open_store_at(store_url)
        wanted = run_id or arg_run_id
        if wanted is not None and not (list_all or my_runs):
            runs = [_run(flow, wanted, None, store)]
        else:
            runs = _runs_in(flow, store, _my_namespace() if my_runs else None)
        echo_tags(runs, hide_system=hide_system_tags, group_by=group_by)

    return tag
