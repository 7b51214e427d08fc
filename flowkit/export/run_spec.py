"""What every Airflow task of an exported flow's run shares: the run's keys, its code
package, its settled parameters and the settings resolved at export, stored once by the
run's first task (by content, as a task spec is) and named by key in what Airflow passes
between tasks (XCom)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flowkit.errors import FlowkitError
from flowkit.fastdata import asdict, dataclass, field
from flowkit.task.spec import CodeRef

if TYPE_CHECKING:
    from flowkit.graph.model import FlowGraph
    from flowkit.runtime.alerts import Alerts
    from flowkit.runtime.policy import FailurePolicy
    from flowkit.settings import Settings
    from flowkit.store import Store

#: The settings an exported flow's tasks use, resolved once at export.
RUN_SETTINGS = ("retry", "alerts", "sla_learned")


def run_settings(settings: Settings) -> dict[str, Any]:
    """The part of ``settings`` the tasks of an Airflow run use, as JSON."""
    data: dict[str, Any] = json.loads(
        json.dumps({name: getattr(settings, name) for name in RUN_SETTINGS})
    )
    return data


#: How long a run executed by Airflow reads as running after a task of it last spoke: Airflow
#: may keep the next task queued a while. Each task renews it as it starts and ends.
AIRFLOW_LEASE_SECONDS = 3600.0


@dataclass(frozen=True)
class AirflowRun:
    """A run that Airflow executes: what each of its tasks needs besides the store."""

    flow: str
    run_id: str
    code: dict[str, Any]
    parameters: dict[str, tuple[str, int, str]]
    #: The settings a run's tasks use (see :func:`run_settings`), resolved at export where
    #: the flow's project is, not where Airflow's worker runs.
    settings: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"airflow_run": asdict(self)}, sort_keys=True, separators=(",", ":"))

    @staticmethod
    def load(store: Store, key: str) -> AirflowRun:
        """The run stored under ``key``, or a :class:`FlowkitError` saying what is wrong."""
        from flowkit.store import InvalidKeyError

        try:
            stored = store.values.has(key)
        except InvalidKeyError:
            stored = False
        if not stored:
            raise FlowkitError(
                f"no flowkit run '{key}' for Airflow in the store at {store.url}",
                "every task of the DAG must reach the store its first task used: set the same "
                "FLOWKIT_STORE (or export with --store) for all of Airflow's workers",
            )
        try:
            data = json.loads(store.get_spec(key))["airflow_run"]
            data["parameters"] = {k: tuple(v) for k, v in data["parameters"].items()}
            return AirflowRun(**data)
        except (ValueError, KeyError, TypeError) as exc:
            raise FlowkitError(
                f"{store.url} spec {key} is not a flowkit run for Airflow ({exc})",
                "pass the value the DAG's first task (flowkit-start-run) returned",
            ) from None

    @property
    def code_ref(self) -> CodeRef:
        return CodeRef.from_json(self.code)

    @property
    def policy(self) -> FailurePolicy:
        """What a failed attempt of the run's tasks gets: the steps' own decorators, and
        the ``retry`` setting for a step without ``@retry``."""
        from flowkit.runtime.policy import FailurePolicy, parse_with

        return FailurePolicy(parse_with((), retry_setting=int(self.settings.get("retry", 0))))

    def alerts(self, flow_cls: type) -> Alerts | None:
        """The run's alert sinks: the flow's ``@alert`` and the ``alerts`` setting."""
        from flowkit.runtime.alerts import alerts_for

        return alerts_for(flow_cls, tuple(self.settings.get("alerts", ())))

    def renew(self, store: Store) -> None:
        """Say the run is alive for :data:`AIRFLOW_LEASE_SECONDS` more."""
        store.leases.renew(self.flow, self.run_id, interval=AIRFLOW_LEASE_SECONDS / 3)


def load_code(code: CodeRef, store: Store) -> type:
    """The flow class of the code package ``code``, or a :class:`FlowkitError` saying that
    ``store`` lacks the package."""
    from flowkit.task.code import load_flow_class

    if code.kind == "package" and not store.values.has(code.target):
        raise FlowkitError(
            f"the code package of {code.flow} ({code.target[:12]}) is not in the store at "
            f"{store.url}",
            "export the DAG again with --store naming the store Airflow's workers use (the "
            "package is stored there at export)",
        )
    return load_flow_class(code, store)


def flow_of(
    code: CodeRef, store: Store, parameter_digests: dict[str, str]
) -> tuple[type, FlowGraph]:
    """The flow class of the code package ``code`` and its checked graph, configured with the
    configs a run stored (``parameter_digests``)."""
    from flowkit.authoring.configure import configure
    from flowkit.lint.api import check
    from flowkit.runtime.origin import stored_configs

    flow_cls = load_code(code, store)
    configs = stored_configs(flow_cls, store, parameter_digests)
    return flow_cls, check(configure(flow_cls, configs))
