"""SQS operations (skeleton: being implemented)."""

from __future__ import annotations

from collections.abc import Mapping

from gureum.aws.frontend import Handler
from gureum.services.queues import QueueService


class SqsApi:
    def __init__(self, queues: QueueService) -> None:
        self._queues = queues

    def handlers(self) -> Mapping[str, Handler]:
        return {}
