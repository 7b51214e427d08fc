"""The errors an S3 store raises, and how botocore's exceptions become them.

::

    StoreError (flowkit.store.errors)
    └── S3StoreError                anything S3 refused or could not do
        ├── S3UrlError              the store URL is not s3://bucket[/prefix]
        ├── S3BucketNotFoundError   the URL's bucket does not exist
        ├── S3CredentialsError      no credentials were found, or S3 rejected them
        ├── S3AccessDeniedError     the credentials may not do what was asked
        ├── S3UnreachableError      the endpoint could not be reached (or timed out)
        ├── S3UnavailableError      throttling or server errors outlasted every retry
        └── S3RequestError          any other request S3 refused

Each names the store URL and what was being done, and says what to do, so a user never
sees a botocore traceback.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from flowkit.store.errors import StoreError

#: What botocore raises for a request: ``ClientError`` (S3 answered with an error) and
#: ``BotoCoreError`` (the request never got an answer, or could not be made).
BOTO_ERRORS = (ClientError, BotoCoreError)

_CREDENTIALS_HINT = (
    "give AWS credentials the standard way: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
    "(and AWS_SESSION_TOKEN), AWS_PROFILE naming a profile in ~/.aws/config, or an instance "
    "or task role; 'aws sts get-caller-identity' shows which ones are in use"
)
_REJECTED = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "AuthorizationHeaderMalformed",
    }
)
_DENIED = frozenset({"AccessDenied", "AllAccessDisabled", "403"})
_UNAVAILABLE = frozenset(
    {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling"}
)
_UNREACHABLE = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
)


class S3StoreError(StoreError):
    """Base of the errors of an ``s3://`` store."""


class S3UrlError(S3StoreError):
    """A store URL that is not ``s3://bucket[/prefix]``."""

    def __init__(self, url: object, why: str) -> None:
        super().__init__(
            f"{url!r} is not an S3 store URL: {why}",
            "write it as s3://bucket or s3://bucket/some/prefix",
        )


class S3BucketNotFoundError(S3StoreError):
    """The bucket of the store's URL does not exist (where the endpoint looks)."""


class S3CredentialsError(S3StoreError):
    """No AWS credentials were found, or S3 did not accept them."""


class S3AccessDeniedError(S3StoreError):
    """The credentials in use may not do what the store asked."""


class S3UnreachableError(S3StoreError):
    """The S3 endpoint did not answer (refused, unknown host, timed out)."""


class S3UnavailableError(S3StoreError):
    """S3 kept throttling or failing a request through every retry."""


class S3RequestError(S3StoreError):
    """S3 refused a request for a reason none of the other errors covers."""


def error_code(exc: ClientError) -> str:
    """S3's error code (``NoSuchKey``, ``PreconditionFailed``; a HEAD has only its status)."""
    code: str = exc.response.get("Error", {}).get("Code", "")
    return code


def status_of(exc: ClientError) -> int:
    """The HTTP status S3 answered ``exc`` with."""
    status: int = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return status


def translate(exc: BaseException, url: str, doing: str, endpoint: str | None) -> S3StoreError:
    """The flowkit error for a botocore exception raised while ``doing`` something (worded
    to follow "while": "writing blobs/ab/..."), on the store at ``url``."""
    where = f"the S3 store {url}"
    if isinstance(exc, ClientError):
        return _from_answer(exc, where, doing, endpoint)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return S3CredentialsError(f"no AWS credentials for {where} ({exc})", _CREDENTIALS_HINT)
    if isinstance(exc, NoRegionError):
        return S3RequestError(
            f"no AWS region is set for {where}",
            "set AWS_REGION (or AWS_DEFAULT_REGION, or region in your AWS profile)",
        )
    if isinstance(exc, _UNREACHABLE):
        return S3UnreachableError(
            f"could not reach S3 at {endpoint or 'its endpoint'} while {doing} in {where}: {exc}",
            "check the network and the endpoint: AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3) must "
            "name a server that is running, or be unset for AWS itself; then resume the run",
        )
    return S3RequestError(f"S3 request failed while {doing} in {where}: {exc}", "")


def _from_answer(exc: ClientError, where: str, doing: str, endpoint: str | None) -> S3StoreError:
    code, status = error_code(exc), status_of(exc)
    said = exc.response.get("Error", {}).get("Message") or code or str(status)
    if code == "NoSuchBucket":
        return S3BucketNotFoundError(
            f"the bucket of {where} does not exist"
            + (f" at {endpoint}" if endpoint else "")
            + f" (while {doing})",
            "create it (aws s3 mb s3://BUCKET) or fix the store URL; an S3-compatible server is "
            "chosen with AWS_ENDPOINT_URL",
        )
    if code in _REJECTED:
        return S3CredentialsError(
            f"S3 rejected the AWS credentials while {doing} in {where}: {code}: {said}",
            _CREDENTIALS_HINT,
        )
    if code in _DENIED or status == 403:
        return S3AccessDeniedError(
            f"S3 denied access while {doing} in {where}: {said}",
            "the credentials in use need s3:GetObject, s3:PutObject, s3:DeleteObject, "
            "s3:ListBucket, s3:ListBucketMultipartUploads and s3:AbortMultipartUpload on the "
            "bucket and prefix; use credentials that have them (AWS_PROFILE), or ask for them",
        )
    if code in _UNAVAILABLE or status >= 500:
        attempts = _attempts(exc.response)
        return S3UnavailableError(
            f"S3 answered {status} {code or ''} while {doing} in {where}, "
            f"{attempts} time{'s' * (attempts != 1)} in a row: {said}",
            "S3 is throttling the bucket or failing; wait a little and resume the run "
            "(AWS_MAX_ATTEMPTS raises how often a request is retried)",
        )
    return S3RequestError(f"S3 refused a request while {doing} in {where}: {code}: {said}", "")


def _attempts(response: dict[str, Any]) -> int:
    return int(response.get("ResponseMetadata", {}).get("RetryAttempts", 0)) + 1
