"""The Batch API as the executor uses it: a handful of calls, each counted, throttling and
server errors retried by botocore (exponential backoff with full jitter), and every other
failure one :class:`BatchError` that says what to do.

boto3 loads on first use, never on import, and reads AWS's standard configuration only
(credentials, region, profile; ``AWS_ENDPOINT_URL_BATCH`` for another endpoint).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from flowkit.errors import FlowkitError

#: Tries of one call in all: throttling (``TooManyRequestsException``, 429) and 5xx answers
#: are retried with backoff and jitter until then.
ATTEMPTS = 10
#: DescribeJobs takes at most this many ids a call.
DESCRIBE_LIMIT = 100


class BatchError(FlowkitError):
    """AWS Batch refused a call, or could not be reached."""


class Batch:
    """A Batch client, its calls counted by operation (:attr:`calls`)."""

    def __init__(self) -> None:
        import boto3
        from botocore.config import Config

        self.calls: Counter[str] = Counter()
        config = Config(retries={"mode": "standard", "max_attempts": ATTEMPTS})
        self._client: Any = boto3.session.Session().client("batch", config=config)
        self._client.meta.events.register("before-call.batch", self._count)
        self._definitions: dict[str, str] = {}

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

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
        """``SubmitJob``; the job's id."""
        return str(self._call("SubmitJob", **arguments)["jobId"])

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
            raise BatchError(
                f"AWS Batch refused {operation}: {error.get('Code')}: {error.get('Message')}",
                _hint(str(error.get("Code"))),
            ) from None
        except BotoCoreError as exc:
            raise BatchError(
                f"AWS Batch {operation} failed: {exc}",
                "check the network, the region (AWS_REGION) and AWS_ENDPOINT_URL_BATCH",
            ) from None


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


def _hint(code: str) -> str:
    if code in ("AccessDeniedException", "UnrecognizedClientException"):
        return "the credentials may not use AWS Batch: check the IAM policy of the user or role"
    if code == "ClientException":
        return "fix what Batch names (a queue that does not exist, a resource it cannot take)"
    return "see the message; AWS Batch's console shows the queue and its compute environments"
