"""``@project``, as Metaflow's: flows of one project, each run on a branch (the user's own,
a named test branch, or production), with the branch in the run's system tags so that
``namespace("project:x")`` and ``namespace("project_branch:prod")`` find its runs."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flowkit.authoring.config import PROJECT_ATTR
from flowkit.errors import FlowDefinitionError, ParameterError
from flowkit.fastdata import dataclass

C = TypeVar("C", bound=type)

#: Metaflow's rules: lowercase letters, digits and underscores, under 128 characters.
_INVALID = re.compile(r"[^a-z0-9_]")
_MAX_LENGTH = 128


def project(*, name: Any = None, branch: Any = None, production: Any = False) -> Callable[[C], C]:
    """Make the flow part of project ``name``. A run's branch is ``user.<username>``, or
    ``test.<branch>`` with ``branch=``/``--branch``, ``prod`` with ``production=True``/
    ``--production``, ``prod.<branch>`` with both; the run gets the system tags
    ``project:<name>`` and ``project_branch:<branch>``. ``name`` may be a config expression."""

    def apply(cls: C) -> C:
        args = {"name": name, "branch": branch, "production": production}
        setattr(cls, PROJECT_ATTR, {k: v for k, v in args.items() if k == "name" or v})
        return cls

    return apply


@dataclass(frozen=True)
class ProjectInfo:
    """A run's project: what ``current`` says of it, and its system tags."""

    name: str
    branch_name: str
    is_user_branch: bool
    is_production: bool
    project_flow_name: str

    @property
    def system_tags(self) -> tuple[str, ...]:
        return (f"project:{self.name}", f"project_branch:{self.branch_name}")


def project_of(
    flow_cls: type,
    *,
    branch: str | None = None,
    production: bool = False,
    user: str | None = None,
) -> ProjectInfo | None:
    """The project a run of ``flow_cls`` belongs to (None without ``@project``), on the
    branch ``--branch``/``--production`` ask for; bad names are refused as Metaflow does."""
    args: Mapping[str, Any] | None = getattr(flow_cls, PROJECT_ATTR, None)
    if args is None:
        return None
    where = _where(flow_cls)
    for option, value in (("branch", branch), ("production", production)):
        if value and args.get(option) and args[option] != value:
            raise ParameterError(
                f"you cannot pass --{option} as both a command-line argument and an "
                "attribute of the @project decorator",
                f"drop --{option}, or remove {option}= from @project",
            )
    name = args.get("name")
    given_branch = args.get("branch") or branch
    is_production = bool(args.get("production") or production)
    if not name or not isinstance(name, str):
        raise FlowDefinitionError(
            f"@project needs a name, not {name!r}", "try @project(name='some_name')", **where
        )
    _check(name, "The @project name", where)
    if given_branch:
        if not isinstance(given_branch, str):
            raise ParameterError(f"the branch name must be a string, not {given_branch!r}")
        _check(given_branch, "The branch name", None)
        branch_name = f"{'prod' if is_production else 'test'}.{given_branch}"
    elif is_production:
        branch_name = "prod"
    else:
        owner = os.environ.get("METAFLOW_OWNER") or user or "unknown"
        branch_name = f"user.{owner}"
    return ProjectInfo(
        name=name,
        branch_name=branch_name,
        is_user_branch=not given_branch and not is_production,
        is_production=is_production,
        project_flow_name=f"{name}.{branch_name}.{flow_cls.__name__}",
    )


def _check(value: str, what: str, where: dict[str, Any] | None) -> None:
    if _INVALID.search(value):
        message = f"{what} must contain only lowercase alphanumeric characters and underscores"
    elif len(value) > _MAX_LENGTH:
        message = f"{what} must be shorter than {_MAX_LENGTH} characters"
    else:
        return
    hint = f"{value!r} is not; use e.g. {_INVALID.sub('_', value.lower())[:_MAX_LENGTH]!r}"
    if where is None:
        raise ParameterError(message, hint)
    raise FlowDefinitionError(message, hint, **where)


def _where(flow_cls: type) -> dict[str, Any]:
    import inspect

    try:
        file = inspect.getsourcefile(flow_cls)
        line = inspect.getsourcelines(flow_cls)[1]
    except (OSError, TypeError):
        return {}
    return {"file": file, "line": line}
