"""A local AWS Batch for the tests: moto's server as the control plane on 127.0.0.1, and a
:class:`Runner` as the data plane, which runs what was submitted.

:func:`running` starts moto's server in its no-docker mode, where a submitted job is marked
SUCCEEDED at once and nothing runs, with what a real account would have: an IAM role, an
unmanaged compute environment and the job queue :data:`QUEUE`. A :class:`Runner` then reads
every job submitted to that queue back from the Batch API, as any observer could, and runs its
command in a subprocess with the environment Batch would give the container (once per child
of an array job), recording each run for the test to check.

What moto 5.2 answers, which the runner works around (and an executor must not rely on):
``container.environment`` in DescribeJobs gains one more ``AWS_BATCH_JOB_ID`` at every
describe, the children of an array share theirs; an array child's description has no
``arrayProperties.index``; ``containerOverrides.resourceRequirements`` show nowhere.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowkit.testing.services import stop_group

REGION = "us-east-1"
#: The job queue the tests submit to, and its compute environment.
QUEUE = "flowkit-tests"
COMPUTE_ENVIRONMENT = "flowkit-tests-ce"
#: moto accepts any credentials; these are what :meth:`BatchServer.env` gives.
ACCESS_KEY, SECRET_KEY = "flowkit-batch", "flowkit-batch-secret"
#: The ``statusReason`` Batch gives a job whose spot instance was reclaimed.
SPOT_RECLAIMED = "Host EC2 (instance i-0f1a2b3c4d5e6f708) terminated."
TIMED_OUT = "Job attempt duration exceeded timeout"
#: Every status ListJobs takes: without one it lists RUNNING jobs only.
STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")

MOTO_MISSING = (
    "moto's server is not installed: pip install 'moto[server]' "
    "(or pip install -e 'extensions/flowkit-aws-batch[test]')"
)


class MotoMissing(RuntimeError):
    """moto, or what its server needs (flask), is not installed."""


class MotoDidNotStart(RuntimeError):
    """moto's server exited, did not answer in time, or refused its no-docker setting."""


@dataclass
class BatchServer:
    endpoint: str
    folder: Path
    process: subprocess.Popen[bytes]
    queue: str = QUEUE
    queue_arn: str = ""
    #: A role for ``jobRoleArn`` (moto checks nothing about it).
    job_role_arn: str = ""

    def env(self) -> dict[str, str]:
        """What a process needs to use this server for Batch and nothing else: Batch's own
        endpoint variable, fake credentials, the region, no instance metadata, config files
        of its own. boto3 reads the region from ``AWS_DEFAULT_REGION`` or the config file,
        not from ``AWS_REGION``."""
        return {
            "AWS_ENDPOINT_URL_BATCH": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(self.folder / "aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.folder / "aws-credentials"),
        }

    def client(self, service: str = "batch") -> Any:
        """A plain boto3 client of the server (``batch``, ``iam``), for setup and checks."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def config(self) -> dict[str, Any]:
        """moto's own configuration (``/moto-api/config``)."""
        with urllib.request.urlopen(f"{self.endpoint}/moto-api/config", timeout=5) as answer:
            config: dict[str, Any] = json.load(answer)
            return config


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/config", timeout=2):
            return True
    except (urllib.error.URLError, OSError):
        return False


def _no_docker(server: BatchServer) -> None:
    """Batch's no-docker mode, checked: with docker absent, moto fails every job instead."""
    request = urllib.request.Request(
        f"{server.endpoint}/moto-api/config",
        data=json.dumps({"batch": {"use_docker": False}}).encode(),
        method="POST",
    )
    urllib.request.urlopen(request, timeout=5).close()
    if server.config().get("batch") != {"use_docker": False}:
        raise MotoDidNotStart(f"moto kept its Batch configuration: {server.config()}")


def _account(server: BatchServer) -> None:
    """A service role, a job role, an unmanaged compute environment and the job queue."""
    iam, batch = server.client("iam"), server.client()
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["batch.amazonaws.com", "ecs-tasks.amazonaws.com"]},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    roles = {
        name: iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
            "Arn"
        ]
        for name in ("flowkit-batch-service", "flowkit-batch-job")
    }
    environment = batch.create_compute_environment(
        computeEnvironmentName=COMPUTE_ENVIRONMENT,
        type="UNMANAGED",
        state="ENABLED",
        serviceRole=roles["flowkit-batch-service"],
    )
    queue = batch.create_job_queue(
        jobQueueName=QUEUE,
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[
            {"order": 1, "computeEnvironment": environment["computeEnvironmentArn"]}
        ],
    )
    server.queue_arn = queue["jobQueueArn"]
    server.job_role_arn = roles["flowkit-batch-job"]


def _start(folder: Path) -> BatchServer:
    port = _free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with (folder / "moto.log").open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=folder
        )
    server = BatchServer(f"http://127.0.0.1:{port}", folder, process)
    deadline = time.monotonic() + 60
    while not _answers(server.endpoint):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_group(process)
            tail = (folder / "moto.log").read_text(errors="replace")[-3000:]
            raise MotoDidNotStart(f"moto's server did not start ({' '.join(command)}):\n{tail}")
        time.sleep(0.1)
    (folder / "aws-config").write_text(f"[default]\nregion = {REGION}\n")
    (folder / "aws-credentials").write_text("")
    try:
        _no_docker(server)
        _account(server)
    except BaseException:
        stop_group(process)
        raise
    return server


@contextmanager
def running(folder: Path) -> Iterator[BatchServer]:
    """moto's server with the test account set up (see :func:`_account`), stopped on exit;
    its log goes under ``folder`` (created)."""
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
        raise MotoMissing(MOTO_MISSING)
    for attempt in range(3):  # a port chosen free may be taken before moto binds it
        where = folder / f"try-{attempt}"
        where.mkdir(parents=True)
        try:
            server = _start(where)
            break
        except MotoDidNotStart:
            if attempt == 2:
                raise
    try:
        yield server
    finally:
        # moto keeps everything in memory: nothing is lost if SIGTERM is not enough at once
        stop_group(server.process, grace=2)


# --- the data plane -------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One container Batch would start: a single job, or one child of an array job."""

    job_id: str  # ``PARENT:INDEX`` for an array child, as Batch names it
    index: int | None
    name: str
    image: str
    argv: tuple[str, ...]
    #: What Batch gives the container: the definition's and the overrides' variables, and
    #: its own ``AWS_BATCH_*``.
    env: dict[str, str]
    vcpus: int | None
    memory: int | None
    #: The job definition's (moto does not show the submission's).
    resource_requirements: tuple[tuple[str, str], ...]
    timeout: float | None


@dataclass(frozen=True)
class JobRun:
    job: Job
    #: None when the job died before it started; negative: killed by that signal.
    exit_code: int | None
    stdout: str
    stderr: str
    started: float  # time.time()
    ended: float
    #: Why it ended early: :data:`SPOT_RECLAIMED`, :data:`TIMED_OUT`, a container that
    #: could not start (``CannotStartContainerError: ...``), or None.
    reason: str | None = None

    @property
    def job_id(self) -> str:
        return self.job.job_id

    @property
    def index(self) -> int | None:
        return self.job.index


@dataclass
class _Death:
    matches: Callable[[Job], bool]
    after: float | None
    times: int


def _pairs(entries: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """Name -> value, the first of each name (moto repeats ``AWS_BATCH_JOB_ID``)."""
    found: dict[str, str] = {}
    for entry in entries:
        found.setdefault(entry["name"], entry["value"])
    return found


def _command(container: Mapping[str, Any], parameters: Mapping[str, str]) -> tuple[str, ...]:
    def substitute(word: str) -> str:
        return re.sub(r"Ref::(\w+)", lambda m: parameters.get(m[1], m[0]), word)

    return tuple(substitute(word) for word in container.get("command", []))


class Runner:
    """Runs every job submitted to the server's queue, once, in a subprocess, a few at once.

    Every ``interval`` seconds it lists the queue (every status) and describes what is new;
    each run's process gets ``env`` (what the image and the job's IAM role would give:
    credentials, endpoints), then what Batch gives (:attr:`Job.env`). ``python``/``python3``
    is this interpreter. Use as a context manager: on exit every process still running is
    killed and polling stops.
    """

    def __init__(
        self,
        server: BatchServer,
        folder: Path,
        env: Mapping[str, str],
        *,
        workers: int = 4,
        interval: float = 0.2,
    ) -> None:
        self.server = server
        self.folder = folder
        self.env = dict(env)
        self.interval = interval
        self._client = server.client()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="batchsim-job")
        self._seen: set[str] = set()
        self._definitions: dict[str, dict[str, Any]] = {}
        self._runs: list[JobRun] = []
        self._deaths: list[_Death] = []
        self._running: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._poll, name="batchsim-poll", daemon=True)

    def __enter__(self) -> Runner:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._seen.update(self._listed())  # submitted before: not this runner's
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:  # no process starts once _stop is set (see _run)
            running = list(self._running.values())
        for process in running:
            stop_group(process, grace=1)
        self._pool.shutdown(wait=True)
        self._raise()

    @property
    def runs(self) -> list[JobRun]:
        """The runs finished so far, in the order they ended."""
        with self._lock:
            return list(self._runs)

    @property
    def running(self) -> dict[str, int]:
        """The process id of each job running now, by job id."""
        with self._lock:
            return {job_id: process.pid for job_id, process in self._running.items()}

    def wait(self, count: int, timeout: float = 30) -> list[JobRun]:
        """Wait until ``count`` runs have ended; return all runs so far."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._runs) < count:
                self._raise()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{len(self._runs)} of {count} Batch jobs ran in {timeout} s: "
                        f"{[(r.job_id, r.exit_code) for r in self._runs]}"
                    )
                self._lock.wait(min(left, 0.2))
            return list(self._runs)

    def die(
        self, matches: Callable[[Job], bool], *, after: float | None = None, times: int = 1
    ) -> None:
        """Make the next ``times`` jobs that ``matches`` die as a reclaimed spot instance
        would: never start (``after=None``), or be SIGKILLed ``after`` seconds in. Batch then
        says :data:`SPOT_RECLAIMED` as the job's ``statusReason`` (moto keeps its status)."""
        with self._lock:
            self._deaths.append(_Death(matches, after, times))

    def _raise(self) -> None:
        if self._error is not None:
            raise RuntimeError("the Batch runner's poller failed") from self._error

    def _poll(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                for job in self._new_jobs():
                    self._pool.submit(self._guarded, self._run, job)
        except BaseException as exc:
            self._failed(exc)

    def _guarded(self, run: Callable[[Job], None], job: Job) -> None:
        try:
            run(job)
        except BaseException as exc:
            self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        """Keep ``exc`` for :meth:`wait` and the exit to raise."""
        with self._lock:
            self._error = self._error or exc
            self._lock.notify_all()

    def _listed(self) -> list[str]:
        """The jobs in the queue, array children left out (moto lists them with their
        parent, Batch does not; the parent says how many there are)."""
        pages = self._client.get_paginator("list_jobs")
        return [
            summary["jobId"]
            for status in STATUSES
            for page in pages.paginate(jobQueue=self.server.queue, jobStatus=status)
            for summary in page["jobSummaryList"]
            if ":" not in summary["jobId"]
        ]

    def _new_jobs(self) -> Iterator[Job]:
        new = [job_id for job_id in self._listed() if job_id not in self._seen]
        for start in range(0, len(new), 100):
            described = self._client.describe_jobs(jobs=new[start : start + 100])["jobs"]
            for description in described:
                self._seen.add(description["jobId"])
                yield from self._containers(description)

    def _containers(self, description: Mapping[str, Any]) -> Iterator[Job]:
        definition = self._definition(description["jobDefinition"])
        container = description["container"]
        variables = {
            name: value
            for name, value in _pairs(container.get("environment", [])).items()
            if not name.startswith("AWS_BATCH_")
        }
        batch = {
            "AWS_BATCH_JQ_NAME": description["jobQueue"].rpartition("/")[2],
            "AWS_BATCH_CE_NAME": COMPUTE_ENVIRONMENT,
            "AWS_BATCH_JOB_ATTEMPT": "1",
        }
        timeout = (description.get("timeout") or definition.get("timeout") or {}).get(
            "attemptDurationSeconds"
        )
        size = description.get("arrayProperties", {}).get("size")
        for index in [None] if size is None else range(size):
            job_id = description["jobId"] if index is None else f"{description['jobId']}:{index}"
            own = {"AWS_BATCH_JOB_ID": job_id}
            if index is not None:
                own["AWS_BATCH_JOB_ARRAY_INDEX"] = str(index)
            yield Job(
                job_id=job_id,
                index=index,
                name=description["jobName"],
                image=definition["containerProperties"]["image"],
                argv=_command(container, description.get("parameters", {})),
                env={**variables, **batch, **own},
                vcpus=container.get("vcpus"),
                memory=container.get("memory"),
                resource_requirements=tuple(
                    (r["type"], r["value"])
                    for r in definition["containerProperties"].get("resourceRequirements", [])
                ),
                timeout=None if timeout is None else float(timeout),
            )

    def _definition(self, arn: str) -> dict[str, Any]:
        if arn not in self._definitions:
            found = self._client.describe_job_definitions(jobDefinitions=[arn])
            self._definitions[arn] = found["jobDefinitions"][0]
        return self._definitions[arn]

    def _death(self, job: Job) -> _Death | None:
        with self._lock:
            for death in self._deaths:
                if death.times > 0 and death.matches(job):
                    death.times -= 1
                    return death
        return None

    def _run(self, job: Job) -> None:
        death = self._death(job)
        started = time.time()
        if death is not None and death.after is None:
            self._reason(job, SPOT_RECLAIMED)
            self._record(JobRun(job, None, "", "", started, time.time(), SPOT_RECLAIMED))
            return
        limits: list[tuple[float, str]] = []
        if death is not None and death.after is not None:
            limits.append((death.after, SPOT_RECLAIMED))
        if job.timeout is not None:
            limits.append((job.timeout, TIMED_OUT))
        limit, reason = min(limits, default=(None, None))
        where = self.folder / job.job_id.replace(":", "-")
        where.mkdir(parents=True)
        try:
            process = self._start(job, where)
        except OSError as exc:  # as Batch fails a container it cannot start
            failed = f"CannotStartContainerError: {exc}"
            self._reason(job, failed)
            self._record(JobRun(job, None, "", "", started, time.time(), failed))
            return
        if process is None:
            return
        try:
            process.wait(limit)
            reason = None
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            self._reason(job, reason or SPOT_RECLAIMED)
        finally:
            with self._lock:
                self._running.pop(job.job_id, None)
        out, err = ((where / name).read_text(errors="replace") for name in ("stdout", "stderr"))
        self._record(JobRun(job, process.returncode, out, err, started, time.time(), reason))

    def _start(self, job: Job, where: Path) -> subprocess.Popen[bytes] | None:
        """The job's process, in a session of its own; None once the runner is stopping."""
        argv = list(job.argv)
        if argv and argv[0] in ("python", "python3"):
            argv[0] = sys.executable
        env = {**self._container_env(), **self.env, **job.env}
        # under the lock, so that __exit__ sees every process started
        with (where / "stdout").open("wb") as out, (where / "stderr").open("wb") as err, self._lock:
            if self._stop.is_set():
                return None
            process = subprocess.Popen(
                argv, cwd=where, env=env, stdout=out, stderr=err, start_new_session=True
            )
            self._running[job.job_id] = process
            return process

    def _container_env(self) -> dict[str, str]:
        """What the image itself would set: a PATH, a home of its own."""
        home = self.folder / "home"
        home.mkdir(exist_ok=True)
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "LANG": "C.UTF-8",
        }

    def _reason(self, job: Job, reason: str) -> None:
        """Batch's statusReason for a job that died (moto sets the reason, not FAILED)."""
        self._client.terminate_job(jobId=job.job_id, reason=reason)

    def _record(self, run: JobRun) -> None:
        with self._lock:
            self._runs.append(run)
            self._lock.notify_all()


class Throttle:
    """Answers the next ``times`` requests of ``operation`` (``"DescribeJobs"``) on ``client``
    with Batch's 429 ``TooManyRequestsException`` before they are sent: botocore parses and
    retries it as a real one (its ``before-send`` event). :attr:`sent` counts every request
    of that operation, answered here or sent."""

    def __init__(self, client: Any, operation: str, times: int) -> None:
        self.left, self.sent = times, 0
        client.meta.events.register(f"before-send.batch.{operation}", self._answer)

    def _answer(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        self.sent += 1
        if self.left <= 0:
            return None
        self.left -= 1
        body = json.dumps({"message": "Too Many Requests"}).encode()
        headers = {
            "x-amzn-ErrorType": "TooManyRequestsException",
            "Content-Type": "application/json",
        }
        return AWSResponse(request.url, 429, headers, _Body(body))


class _Body:
    """The raw body botocore reads a response from."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def combined_env(server: BatchServer, s3_env: Mapping[str, str]) -> dict[str, str]:
    """One environment for Batch on ``server`` and S3 on the server of ``s3_env``.

    ``s3_env`` (SeaweedFS's :meth:`S3Server.env`) sets ``AWS_ENDPOINT_URL`` for every service
    and the credentials SeaweedFS checks; Batch's own ``AWS_ENDPOINT_URL_BATCH`` wins over the
    general one, and moto takes any credentials, so S3's are kept."""
    return {**server.env(), **s3_env}


__all__ = [
    "QUEUE",
    "SPOT_RECLAIMED",
    "TIMED_OUT",
    "BatchServer",
    "Job",
    "JobRun",
    "MotoDidNotStart",
    "MotoMissing",
    "Runner",
    "Throttle",
    "combined_env",
    "running",
]
