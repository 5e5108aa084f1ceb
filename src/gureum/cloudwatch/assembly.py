"""CloudWatch, built from the kernel: the metric service (Lambda publishes into it), its
endpoint in the three protocols botocore's model lists, and the loop that writes its buffer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from gureum.aws.frontend import ServiceEndpoint, WireProtocol
from gureum.aws.kernel import Assembly, Kernel
from gureum.aws.protocols.cbor import CborProtocol
from gureum.aws.protocols.choice import ProtocolChoice
from gureum.aws.protocols.json import JsonProtocol
from gureum.aws.protocols.query import QueryProtocol
from gureum.cloudwatch.api import CloudWatchApi
from gureum.cloudwatch.services.metrics import FLUSH_INTERVAL, MetricService
from gureum.cloudwatch.store.points import MetricStore

log = logging.getLogger("gureum.cloudwatch")
# Retention runs once in this many flushes (every minute or so): deleting is not free.
_EXPIRE_EVERY = 120


@dataclass(eq=False)
class CloudWatch(Assembly):
    metrics: MetricService
    endpoint: ServiceEndpoint
    kernel: Kernel
    _task: asyncio.Task[None] | None = field(default=None)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._write(), name="cloudwatch-writer")

    async def _write(self) -> None:
        """Writes the buffer every FLUSH_INTERVAL, and applies retention now and then."""
        loop = asyncio.get_running_loop()
        rounds = 0
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            try:
                await loop.run_in_executor(self.kernel.executor, self.metrics.flush)
                if rounds % _EXPIRE_EVERY == 0:
                    await loop.run_in_executor(self.kernel.executor, self.metrics.expire)
            except Exception:
                log.exception("writing metrics failed; retrying")
            rounds += 1

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def close(self) -> None:
        # What Lambda recorded while stopping is written before the file closes.
        try:
            self.metrics.flush()
        finally:
            self.metrics.close()


def assemble(kernel: Kernel) -> CloudWatch:
    settings = kernel.settings
    metrics = MetricService(MetricStore(kernel.stores), kernel.clock, settings.time_scale)
    model = kernel.model("cloudwatch")
    codecs: dict[str, WireProtocol] = {
        "smithy-rpc-v2-cbor": CborProtocol(model),
        "json": JsonProtocol(model),
        "query": QueryProtocol(model),
    }
    # A request that names no protocol is answered in the one botocore speaks (json).
    choice = ProtocolChoice(model, codecs, "json")
    endpoint = ServiceEndpoint(
        "monitoring", choice.default, CloudWatchApi(metrics).handlers(), choose=choice
    )
    return CloudWatch(metrics, endpoint, kernel)
