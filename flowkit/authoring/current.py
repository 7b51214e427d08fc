"""``current``: where the running step is (flow, run, step, task, attempt), with Metaflow's
attributes (``parameter_names``, ``tags``, ``graph``, ``project_name``, ...).

The task layer binds a :class:`TaskContext` around user code; outside a running step every
attribute but ``is_running_flow`` raises :class:`~flowkit.errors.NotInTaskError` instead of
returning a guess.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, NamedTuple

from flowkit.errors import FlowkitError, NotInTaskError

if TYPE_CHECKING:
    from datetime import datetime

    from flowkit.authoring.card_collector import CardCollector


class Parallel(NamedTuple):
    """``current.parallel``: a task outside ``@parallel`` is node 0 of 1, as in Metaflow."""

    main_ip: str
    num_nodes: int
    node_index: int
    control_task_id: str | None


class NotInProjectError(FlowkitError, AttributeError):
    """A ``current.project_*`` attribute was read in a run that has no ``@project``."""


class TaskContext(NamedTuple):
    """What ``current`` reports while a task runs. (A named tuple, not a dataclass: making
    a dataclass compiles its methods, ~1.5 ms of every process that imports ``current``.)"""

    flow_name: str
    run_id: str
    step_name: str
    task_id: str
    retry_count: int = 0
    origin_run_id: str | None = None
    username: str | None = None
    #: The run's user tags and system tags (``project:NAME``, ``project_branch:BRANCH``).
    tags: tuple[str, ...] = ()
    system_tags: tuple[str, ...] = ()
    #: The run's parameters (attribute names), sorted as Metaflow lists them.
    parameter_names: tuple[str, ...] = ()
    #: Builds the flow's graph description (Metaflow's ``_graph_info``) when first asked.
    graph_info: Callable[[], dict[str, Any]] | None = None
    #: Builds ``current.trigger`` (what fired a run ``flowkit scheduler`` started) when asked.
    trigger: Callable[[], Any] | None = None
    #: The run hooks the run enables, with their arguments (see runtime.hooks.task_arguments).
    hooks: Mapping[str, Mapping[str, Any]] | None = None

    @property
    def pathspec(self) -> str:
        return f"{self.flow_name}/{self.run_id}/{self.step_name}/{self.task_id}"

    @property
    def namespace(self) -> str | None:
        return f"user:{self.username}" if self.username else None

    def system_tag(self, prefix: str) -> str | None:
        """The value of the run's system tag ``prefix:VALUE``, if it has one."""
        return next(
            (t[len(prefix) + 1 :] for t in self.system_tags if t.startswith(f"{prefix}:")), None
        )


_CONTEXT: ContextVar[TaskContext | None] = ContextVar("flowkit_current", default=None)


class Current:
    """The running task's coordinates; see :class:`TaskContext` for the fields."""

    def _ctx(self, field: str) -> TaskContext:
        ctx = _CONTEXT.get()
        if ctx is None:
            raise NotInTaskError(
                f"current.{field} has no value outside a running step",
                "read current inside a @step method while the flow runs",
            )
        return ctx

    def _get(self, field: str) -> object:
        return getattr(self._ctx(field), field)

    def __contains__(self, key: str) -> bool:
        """``"project_name" in current``: whether the attribute has a value here."""
        return self.get(key) is not None

    def get(self, key: str, default: Any = None) -> Any:
        """The attribute ``key``, or ``default`` where it has none (as Metaflow's)."""
        try:
            return getattr(self, key)
        except (AttributeError, NotInTaskError):
            return default

    @property
    def is_running_flow(self) -> bool:
        """True inside a running step; the one attribute that is safe to read anywhere."""
        return _CONTEXT.get() is not None

    @property
    def flow_name(self) -> str:
        return str(self._get("flow_name"))

    @property
    def run_id(self) -> str:
        return str(self._get("run_id"))

    @property
    def step_name(self) -> str:
        return str(self._get("step_name"))

    @property
    def task_id(self) -> str:
        return str(self._get("task_id"))

    @property
    def pathspec(self) -> str:
        return str(self._get("pathspec"))

    @property
    def retry_count(self) -> int:
        value = self._get("retry_count")
        assert isinstance(value, int)
        return value

    @property
    def origin_run_id(self) -> str | None:
        value = self._get("origin_run_id")
        return None if value is None else str(value)

    @property
    def username(self) -> str | None:
        value = self._get("username")
        return None if value is None else str(value)

    @property
    def namespace(self) -> str | None:
        """``user:<username>``, the namespace the run's tasks read the client in."""
        return self._ctx("namespace").namespace

    @property
    def tags(self) -> frozenset[str]:
        """The run's user tags (``--tag``)."""
        return frozenset(self._ctx("tags").tags)

    @property
    def parameter_names(self) -> list[str]:
        """The names (attributes) of the run's parameters."""
        return list(self._ctx("parameter_names").parameter_names)

    @property
    def graph(self) -> dict[str, Any]:
        """The flow's graph as Metaflow's ``current.graph`` describes it: ``steps`` (name ->
        type, next steps, line, ...), ``graph_structure``, ``parameters``, ``doc``."""
        ctx = self._ctx("graph")
        if ctx.graph_info is None:
            raise NotInTaskError("current.graph is not available in this task")
        return ctx.graph_info()

    @property
    def trigger(self) -> Any:
        """Which upstream runs or events fired this run (Metaflow's ``current.trigger``:
        ``.event``, ``.events``, ``.run``, ``.runs``); None for a run nothing fired."""
        ctx = self._ctx("trigger")
        return None if ctx.trigger is None else ctx.trigger()

    @property
    def scheduled_at(self) -> datetime | None:
        """The ``@schedule`` slot this run is for (``flowkit scheduler`` started it), an aware
        datetime in the schedule's time zone; None for a run no schedule started. flowkit's
        own: Metaflow has no such name, and its ``current.trigger`` is None here too."""
        from flowkit.authoring.scheduling import scheduled_at

        return scheduled_at(self._ctx("scheduled_at").system_tags)

    @property
    def parallel(self) -> Parallel:
        """Metaflow's ``current.parallel`` for a task that is not ``@parallel``."""
        self._ctx("parallel")
        return Parallel(main_ip="127.0.0.1", num_nodes=1, node_index=0, control_task_id=None)

    @property
    def is_parallel(self) -> bool:
        self._ctx("is_parallel")
        return False

    # -- @project: read from the run's system tags ----------------------------------------------
    def _project(self, field: str) -> tuple[TaskContext, str, str]:
        ctx = self._ctx(field)
        name, branch = ctx.system_tag("project"), ctx.system_tag("project_branch")
        if name is None or branch is None:
            raise NotInProjectError(
                f"current.{field} has no value: flow {ctx.flow_name} has no @project",
                "decorate the flow with @project(name=...), or read it with "
                f"current.get('{field}')",
            )
        return ctx, name, branch

    @property
    def project_name(self) -> str:
        return self._project("project_name")[1]

    @property
    def branch_name(self) -> str:
        return self._project("branch_name")[2]

    @property
    def project_flow_name(self) -> str:
        ctx, name, branch = self._project("project_flow_name")
        return f"{name}.{branch}.{ctx.flow_name}"

    @property
    def is_production(self) -> bool:
        branch = self._project("is_production")[2]
        return branch == "prod" or branch.startswith("prod.")

    @property
    def is_user_branch(self) -> bool:
        return self._project("is_user_branch")[2].startswith("user.")

    @property
    def card(self) -> CardCollector:
        """The step's ``@card`` reports: ``current.card.append(Markdown(...))``,
        ``current.card["id"].append(...)``; in a step without ``@card``, appending warns
        and the step goes on (see :mod:`flowkit.authoring.card_collector`)."""
        from flowkit.authoring.card_collector import active_collector

        return active_collector(str(self._get("step_name")))

    def log_metric(self, name: str, value: float, step: int | None = None) -> None:
        """Log a metric of this task (``step``: the epoch or iteration); stored with the
        task's artifacts when it succeeds, for a tracker to read (see
        :mod:`flowkit.authoring.metrics`). An append: cheap in a loop."""
        from flowkit.authoring import metrics

        self._ctx("log_metric")
        metrics.log(name, value, step)

    def log_metrics(self, values: Mapping[str, float], step: int | None = None) -> None:
        """Log several metrics of this task at once (see :meth:`log_metric`)."""
        from flowkit.authoring import metrics

        self._ctx("log_metrics")
        metrics.log_many(values, step)

    def __repr__(self) -> str:
        ctx = _CONTEXT.get()
        return f"<current {ctx.pathspec}>" if ctx else "<current: not in a running step>"


current = Current()


def bound_context() -> TaskContext | None:
    """The running step's context; None outside one."""
    return _CONTEXT.get()


@contextmanager
def bound(ctx: TaskContext) -> Iterator[TaskContext]:
    """Make ``current`` report ``ctx`` for the duration of the block."""
    token = _CONTEXT.set(ctx)
    try:
        yield ctx
    finally:
        _CONTEXT.reset(token)
