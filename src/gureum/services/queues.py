"""SQS-compatible queues (skeleton: being implemented)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from gureum.clock import Clock


class QueueService:
    def __init__(self, db_path: Path, clock: Clock, time_scale: float, endpoint: str) -> None:
        self._db_path = db_path
        self._clock = clock
        self._time_scale = time_scale
        self._endpoint = endpoint

    def send(
        self,
        account: str,
        region: str,
        queue_arn: str,
        body: str,
        attributes: Mapping[str, tuple[str, str]],
    ) -> str:
        """Sends a message to the queue named by its ARN; attributes map name -> (type, value)."""
        raise NotImplementedError

    def exists(self, account: str, region: str, queue_arn: str) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        return None
