"""Start one run of a deployed flow: ``python -m flowkit.deploy.launch STORE REQUEST``.

The scheduler starts each run in a process of its own (its own session, so a Ctrl-C or
SIGTERM to the scheduler does not reach it): the run's scheduler lives there, drives its
tasks as ``flowkit run`` would, keeps the run's lease and records its end. The process runs
the deployment's stored code package (never the files as they are now) with the
deployment's parameters, overridden by those the trigger mapped (an event's payload), and
the system tags naming what fired it. Its exit status says how the run ended: 0 succeeded,
1 failed, was cancelled or could not start (the message is on stderr). SIGTERM or SIGINT
to this process cancels the run cleanly (recorded as cancelled, resumable), as Ctrl-C does
to ``flowkit run``.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any

from flowkit.errors import FlowkitError

if TYPE_CHECKING:
    from flowkit.client import Run
    from flowkit.store import Store


@dataclass(frozen=True)
class LaunchRequest:
    """Which deployment version to run, with which parameters and system tags."""

    flow: str
    version: str
    params: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(
            {"flow": self.flow, "version": self.version, "params": self.params, "tags": self.tags}
        )

    @staticmethod
    def from_json(text: str) -> LaunchRequest:
        try:
            data = json.loads(text)
            return LaunchRequest(
                str(data["flow"]), str(data["version"]), dict(data["params"]), tuple(data["tags"])
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise FlowkitError(
                f"not a launch request of flowkit's scheduler: {exc}",
                "python -m flowkit.deploy.launch is started by flowkit scheduler",
            ) from None


def command(store_url: str, request: LaunchRequest) -> list[str]:
    """The command that starts the run (in the scheduler's interpreter)."""
    return [sys.executable, "-m", "flowkit.deploy.launch", store_url, request.to_json()]


def spawn(store_url: str, request: LaunchRequest, *, wait: bool) -> subprocess.Popen[bytes]:
    """Start the run's process; with ``wait``, return once it has ended."""
    process = subprocess.Popen(command(store_url, request), start_new_session=True)
    if wait:
        process.wait()
    return process


def start_deployed(store: Store, request: LaunchRequest) -> Run:
    """Run the deployment version ``request`` names, to its end (in this process)."""
    from flowkit.runtime.api import RunOptions, start
    from flowkit.store import KeyNotFoundError, layout
    from flowkit.store.deployments import Deployment
    from flowkit.surfaces.default import default_view
    from flowkit.task.code import load_flow_class
    from flowkit.task.spec import CodeRef

    key = layout.deployment_version_key(request.flow, request.version)
    try:
        deployment = Deployment.from_bytes(store.backend.get(key), f"{store.url}/{key}")
    except KeyNotFoundError:
        raise FlowkitError(
            f"deployment {request.flow} version {request.version} is not in {store.url}",
            f"deploy the flow again: flowkit deploy FLOW_FILE --flow {request.flow}",
        ) from None
    code = CodeRef.from_json(deployment.code)
    flow_cls = load_flow_class(code, store)
    params = {**deployment.parameters, **request.params}
    options = RunOptions(
        lambda: default_view(True),
        store,
        quiet=True,
        code=code,
        system_tags=request.tags,
    )
    return start(flow_cls, params, options)


def main(argv: list[str]) -> int:
    from flowkit.runtime.api import RunFailed
    from flowkit.store import open_store

    if len(argv) != 2:
        sys.stderr.write("usage: python -m flowkit.deploy.launch STORE REQUEST_JSON\n")
        return 2
    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM cancels the run, as Ctrl-C does
    try:
        start_deployed(open_store(argv[0]), LaunchRequest.from_json(argv[1]))
    except KeyboardInterrupt:
        return 130
    except RunFailed as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    except FlowkitError as exc:
        sys.stderr.write(f"error: {exc.render()}\n")
        return 1
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
