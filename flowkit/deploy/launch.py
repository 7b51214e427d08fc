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

A run launched for a claim (see :mod:`flowkit.store.deployments`) closes it: as soon as the
run exists (its first event, before any task), this process writes the claim's launched
record naming the run, once. If that record exists already (another attempt at the claim
got there first), nothing runs: before the run, the process exits saying which run has it;
after the run was made (two attempts racing), the run fails before its first task. So a
claim is never run twice, whoever launches it again after a crash.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from flowkit.errors import FlowkitError
from flowkit.fastdata import dataclass, field

if TYPE_CHECKING:
    from flowkit.client import Run
    from flowkit.store import Store
    from flowkit.store.deployments import Deployment, Deployments


@dataclass(frozen=True)
class LaunchRequest:
    """Which deployment version to run, with which parameters and system tags."""

    flow: str
    version: str
    params: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    #: The claim the run is launched for, and which attempt at it (0: the claim's own).
    claim: str | None = None
    attempt: int = 0

    def to_json(self) -> str:
        return json.dumps(
            {
                "flow": self.flow,
                "version": self.version,
                "params": self.params,
                "tags": self.tags,
                "claim": self.claim,
                "attempt": self.attempt,
            }
        )

    @staticmethod
    def from_json(text: str) -> LaunchRequest:
        try:
            data = json.loads(text)
            claim = data.get("claim")
            return LaunchRequest(
                str(data["flow"]),
                str(data["version"]),
                dict(data["params"]),
                tuple(data["tags"]),
                None if claim is None else str(claim),
                int(data.get("attempt", 0)),
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
    from flowkit.store import KeyNotFoundError
    from flowkit.surfaces.default import default_view
    from flowkit.task.code import load_flow_class
    from flowkit.task.spec import CodeRef

    try:
        deployment = store.deployments.version(request.flow, request.version)
    except KeyNotFoundError:
        raise FlowkitError(
            f"deployment {request.flow} version {request.version} is not in {store.url}",
            f"deploy the flow again: flowkit deploy FLOW_FILE --flow {request.flow}",
        ) from None
    registry = store.deployments
    if registry.latest(request.flow) is None:
        if request.claim is not None:  # closed: a later deploy must not run it after all
            registry.launch_done(request.flow, request.claim, {"undeployed": True})
        raise FlowkitError(
            f"{request.flow} was undeployed after the scheduler decided to start it; nothing ran",
            f"deploy it again to have it run: flowkit deploy FLOW_FILE --flow {request.flow}",
        )
    if request.claim is not None:
        done = registry.launched(request.flow, request.claim)
        if done is not None:
            raise FlowkitError(
                f"{request.flow}'s {request.claim} was launched already "
                f"({_launched_as(done)}); nothing ran",
                "nothing to do: the scheduler launches a slot, run or event once",
            )
    code = CodeRef.from_json(deployment.code)
    flow_cls = load_flow_class(code, store)
    params = {**deployment.parameters, **request.params}
    _check_params(flow_cls, deployment, request, registry)
    options = RunOptions(
        lambda: _ClaimSink(default_view(True), registry, request),
        store,
        quiet=True,
        code=code,
        system_tags=request.tags,
    )
    return start(flow_cls, params, options)


def _check_params(
    flow_cls: type, deployment: Deployment, request: LaunchRequest, registry: Deployments
) -> None:
    """Refuse, before any run, parameters the trigger gave that do not convert (an event's
    payload field). The claim is closed as failed (no later attempt could do
    better) and the error names the event, its payload field and what to publish."""
    from flowkit.authoring.parameters import parameters_of, resolve_parameters
    from flowkit.errors import ParameterError

    if not request.params:
        return  # the deployment's own values were checked when it was deployed
    given = set(request.params)
    others = [str(p.attr) for p in parameters_of(flow_cls) if not {str(p.attr), p.name} & given]
    try:  # only the values the trigger gave: no file of another parameter is read twice
        resolve_parameters(flow_cls, request.params, kept=others)
    except ParameterError as exc:
        error: FlowkitError = exc
        claim = request.claim or ""
        if claim.startswith("event.") and exc.parameter in request.params:
            event, _, event_id = claim[len("event.") :].rpartition(".")
            fields = {
                p: f for spec in deployment.events if spec.name == event for p, f in spec.parameters
            }
            field = fields.get(exc.parameter, exc.parameter)
            value = request.params[exc.parameter]
            error = FlowkitError(
                f"event {event} ({event_id}): its payload field {field!r} = {value!r} does not "
                f"convert for parameter {exc.parameter!r} of {deployment.flow}: {exc.message}; "
                "no run started",
                f"publish the event again with a valid {field!r}: flowkit event publish "
                f"{event} --payload '{{\"{field}\": ...}}'",
            )
        if request.claim is not None:
            registry.launch_done(request.flow, request.claim, {"failed": error.message})
        raise error from None


def _launched_as(record: dict[str, Any]) -> str:
    if record.get("run_id"):
        return f"as run {record['flow']}/{record['run_id']}"
    if record.get("skipped"):
        return "skipped"
    if record.get("failed"):
        return f"failed: {record['failed']}"
    if record.get("undeployed"):
        return "not run: the flow was undeployed"
    return "given up" if record.get("given_up") else "by an earlier scheduler"


class _ClaimSink:
    """The run's progress view, which also closes the run's claim once the run exists."""

    def __init__(self, inner: Any, registry: Any, request: LaunchRequest) -> None:
        self._inner = inner
        self._registry = registry
        self._request = request

    def handle(self, event: Any) -> None:
        from flowkit.runtime.events import RunStarted

        request = self._request
        if isinstance(event, RunStarted) and request.claim is not None:
            details = {"run_id": event.run_id, "attempt": request.attempt}
            if not self._registry.launch_done(request.flow, request.claim, details):
                done = self._registry.launched(request.flow, request.claim) or {}
                raise FlowkitError(
                    f"{request.flow}'s {request.claim} was launched already "
                    f"({_launched_as(done)}): this run stops before its first task",
                    "nothing to do: the scheduler launches a slot, run or event once",
                )
        self._inner.handle(event)

    def close(self) -> None:
        self._inner.close()


def main(argv: list[str]) -> int:
    from flowkit.runtime.api import RunFailed
    from flowkit.store import open_store

    if len(argv) != 2:
        sys.stderr.write("usage: python -m flowkit.deploy.launch STORE REQUEST_JSON\n")
        return 2
    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM cancels the run, as Ctrl-C does
    try:
        request = LaunchRequest.from_json(argv[1])
    except FlowkitError as exc:
        sys.stderr.write(f"error: {exc.render()}\n")
        return 2
    # the scheduler's output is this process's too: each line says when, and which flow
    sys.stdout = _Stamped(sys.stdout, request.flow)
    sys.stderr = _Stamped(sys.stderr, request.flow)
    try:
        start_deployed(open_store(argv[0]), request)
    except KeyboardInterrupt:
        return 130
    except RunFailed as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    except FlowkitError as exc:
        sys.stderr.write(f"error: {exc.render()}\n")
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return 0


class _Stamped(io.TextIOBase):
    """A text stream that starts each line with the time and the flow, as the scheduler
    starts its own: a launched run's lines (its progress, an error) are told apart in the
    scheduler's log. Written to the inherited stream as each line ends."""

    def __init__(self, inner: TextIO, flow: str) -> None:
        self._inner = inner
        self._flow = flow
        self._pending = ""

    def write(self, text: str) -> int:
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            self._inner.write(f"{stamp} {self._flow}: {line}\n")
        if lines:
            self._inner.flush()
        return len(text)

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        if self._pending:
            self.write("\n")
        self._inner.flush()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
