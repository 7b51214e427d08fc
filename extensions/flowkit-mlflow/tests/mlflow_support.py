"""What the MLflow tests share besides fixtures (a test module may not import a conftest)."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

#: The experiment every test flow logs to (see mlflow_flows.py).
EXPERIMENT = "flowkit-tests"


@dataclass(frozen=True)
class Tracking:
    """A tracking store: its URI, and a client of it."""

    uri: str
    client: Any


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Quiet:
    """A progress sink that keeps the events it is told of and shows nothing."""

    def __init__(self) -> None:
        self.events: list[object] = []

    def handle(self, event: object) -> None:
        self.events.append(event)

    def close(self) -> None:
        pass
