"""SQS, built from the kernel: the queue service (used by Lambda's DLQs) and its endpoint."""

from __future__ import annotations

from dataclasses import dataclass

from gureum.aws.frontend import ServiceEndpoint
from gureum.aws.kernel import Assembly, Kernel
from gureum.aws.protocols.json import JsonProtocol
from gureum.sqs.api import UNVALIDATED, SqsApi
from gureum.sqs.services.queues import QueueService


@dataclass(eq=False)
class Sqs(Assembly):
    queues: QueueService
    endpoint: ServiceEndpoint

    def close(self) -> None:
        self.queues.close()


def assemble(kernel: Kernel) -> Sqs:
    settings = kernel.settings
    queues = QueueService(kernel.stores, kernel.clock, settings.time_scale, kernel.endpoint_url)
    endpoint = ServiceEndpoint(
        "sqs", JsonProtocol(kernel.model("sqs")), SqsApi(queues).handlers(), unvalidated=UNVALIDATED
    )
    return Sqs(queues, endpoint)
