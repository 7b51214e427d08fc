"""The Batch API as the executor uses it: a handful of calls, each counted, throttling and
server errors retried by botocore (exponential backoff with full jitter), and every other
failure one :class:`BatchError` that says what to do.

boto3 loads on first use, never on import, and reads AWS's standard configuration only
(credentials, region, profile; ``AWS_ENDPOINT_URL_BATCH`` for another endpoint).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from flowkit.errors import FlowkitError

#: Tries of one call in all: throttling (``TooManyRequestsException``, 429) and 5xx answers
#: are retried with backoff and jitter until then.
ATTEMPTS = 10
#: DescribeJobs takes at most this many ids a call.
DESCRIBE_LIMIT = 100
#: The tag that tells one submission's job from another of the same name.
SUBMISSION_TAG = "flowkit:submission"


class BatchError(FlowkitError):
    """AWS Batch refused a call, or could not be reached."""


class BatchRefused(BatchError):
    """AWS Batch refused a call for what it asked (a queue that does not exist, a property
    it cannot take, access denied): asking again gets the same answer."""


class Batch:
    """A Batch client, its calls counted by operation (:attr:`calls`)."""

    def __init__(self) -> None:
        import boto3
        from botocore.config import Config

        config = Config(retries={"mode": "standard", "max_attempts": ATTEMPTS})
        self._client: Any = boto3.session.Session().client("batch", config=config)
        self._definitions: dict[str, str] = {}
        self._queues: dict[str, str | None] = {}

    def definition(self, name: str, content: dict[str, Any]) -> str:
        """The ARN of the active job definition ``name``, registered first if there is
        none (the content is in the name: the same name is the same definition)."""
        arn = self._definitions.get(name)
        if arn is None:
            found = self._call("DescribeJobDefinitions", jobDefinitionName=name, status="ACTIVE")[
                "jobDefinitions"
            ]
            if found:
                arn = max(found, key=lambda d: d["revision"])["jobDefinitionArn"]
            else:
                arn = self._call("RegisterJobDefinition", jobDefinitionName=name, **content)[
                    "jobDefinitionArn"
                ]
            self._definitions[name] = arn
        return arn

    def submit(self, **arguments: Any) -> str:
        """``SubmitJob``; the job's id. The job is tagged with a token of its own, so that
        when Batch's answer is lost (the connection dropped after it took the job) the job
        is found in the queue by its name and token rather than submitted twice."""
        token = uuid.uuid4().hex
        tags = {**arguments.pop("tags", {}), SUBMISSION_TAG: token}
        try:
            return str(self._call("SubmitJob", **arguments, tags=tags)["jobId"])
        except BatchRefused:
            raise
        except BatchError:
            listed = self._call(
                "ListJobs",
                jobQueue=arguments["jobQueue"],
                filters=[{"name": "JOB_NAME", "values": [arguments["jobName"]]}],
            )["jobSummaryList"]
            for job in self.describe(j["jobId"] for j in listed).values():
                if (job.get("tags") or {}).get(SUBMISSION_TAG) == token:
                    return str(job["jobId"])
            raise

    def queue_problem(self, queue: str) -> str | None:
        """Why jobs cannot go to ``queue`` (it does not exist, or is disabled or invalid),
        or None; asked once per queue."""
        if queue not in self._queues:
            found = self._call("DescribeJobQueues", jobQueues=[queue])["jobQueues"]
            if not found:
                why: str | None = f"AWS Batch has no job queue '{queue}' in this region"
            elif found[0].get("state") != "ENABLED" or found[0].get("status") == "INVALID":
                why = (
                    f"the job queue '{queue}' is {found[0].get('state')} "
                    f"({found[0].get('status')}: {found[0].get('statusReason', '')})"
                )
            else:
                why = None
            self._queues[queue] = why
        return self._queues[queue]

    def describe(self, job_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Each job Batch still knows, by id, in calls of at most 100 ids."""
        ids = sorted(set(job_ids))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), DESCRIBE_LIMIT):
            chunk = ids[start : start + DESCRIBE_LIMIT]
            for job in self._call("DescribeJobs", jobs=chunk)["jobs"]:
                found[job["jobId"]] = job
        return found

    def terminate(self, job_ids: Sequence[str], reason: str) -> None:
        """``TerminateJob`` each (a parent's id ends its whole array; one that ended
        already is no error)."""
        for job_id in job_ids:
            self._call("TerminateJob", jobId=job_id, reason=reason)

    def _call(self, operation: str, **arguments: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        method = getattr(self._client, _snake(operation))
        try:
            return method(**arguments)
        except NoCredentialsError:
            raise BatchError(
                f"AWS Batch {operation}: no AWS credentials were found",
                "configure them as for the AWS CLI (aws configure, AWS_PROFILE, or a role)",
            ) from None
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code"))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            kind = BatchRefused if 400 <= status < 500 and code not in _TRANSIENT else BatchError
            raise kind(
                f"AWS Batch refused {operation}: {code}: {error.get('Message')}", _hint(code)
            ) from None
        except BotoCoreError as exc:
            raise BatchError(
                f"AWS Batch {operation} failed: {exc}",
                "check the network, the region (AWS_REGION) and AWS_ENDPOINT_URL_BATCH",
            ) from None


#: Codes of a 4xx answer that asking again later may change.
_TRANSIENT = frozenset({"TooManyRequestsException", "ThrottlingException", "RequestTimeout"})


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


def _hint(code: str) -> str:
    if code in ("AccessDeniedException", "UnrecognizedClientException"):
        return "the credentials may not use AWS Batch: check the IAM policy of the user or role"
    if code == "ClientException":
        return "fix what Batch names (a queue that does not exist, a resource it cannot take)"
    return "see the message; AWS Batch's console shows the queue and its compute environments"
