"""What the console is built from: the other services' public services, and the ports the
composition root fills (Lambda's and SQS's models for validation, CloudWatch Logs' streams)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Protocol

from gureum.autoscaling.services.scaling import ScalingService
from gureum.aws.accounts import AccountDirectory
from gureum.cloudwatch.services.metrics import MetricService
from gureum.kms.services.keys import KeyService
from gureum.lambda_.domain.concurrency import Limits
from gureum.lambda_.services.aliases import AliasService
from gureum.lambda_.services.event_configs import EventConfigService
from gureum.lambda_.services.functions import FunctionService
from gureum.lambda_.services.invoker import Invoker
from gureum.lambda_.services.provisioned import ProvisionedConcurrencyService
from gureum.sqs.services.queues import QueueService


class LogLine(Protocol):
    @property
    def timestamp(self) -> int: ...  # epoch milliseconds

    @property
    def message(self) -> str: ...


class LogReader(Protocol):
    """CloudWatch Logs' streams as the console reads them (filled with the logs store)."""

    def streams(self, account: str, region: str, group: str) -> list[tuple[str, int, int, int]]:
        """(stream, first event ms, last event ms, size) of each stream of the group."""
        ...

    def events(self, account: str, region: str, group: str, stream: str) -> Sequence[LogLine]: ...


@dataclass(frozen=True, slots=True)
class Sources:
    accounts: AccountDirectory
    functions: FunctionService
    aliases: AliasService
    event_configs: EventConfigService
    provisioned: ProvisionedConcurrencyService
    invoker: Invoker
    limits: Limits
    queues: QueueService
    keys: KeyService
    metrics: MetricService
    scaling: ScalingService
    logs: LogReader
    # botocore's model of Lambda: forms are checked against the same constraints as the API.
    lambda_model: Any
    executor: Executor
    now: Callable[[], float]  # epoch seconds, the clock port's
    time_scale: float = 1.0
