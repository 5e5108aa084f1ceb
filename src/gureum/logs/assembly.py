"""CloudWatch Logs, built from the kernel: the log streams (Lambda writes to them), the endpoint."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from gureum.aws.frontend import ServiceEndpoint
from gureum.aws.kernel import Assembly, Kernel
from gureum.aws.protocols.json import JsonProtocol
from gureum.logs.api import LogsApi
from gureum.logs.store.streams import LogStore


@dataclass(eq=False)
class Logs(Assembly):
    streams: LogStore
    endpoint: ServiceEndpoint
    _flusher: asyncio.Task[None] | None = field(default=None)

    async def start(self) -> None:
        self._flusher = asyncio.create_task(self.streams.flush_periodically(), name="log-flusher")

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None

    def close(self) -> None:
        self.streams.close()


def assemble(kernel: Kernel) -> Logs:
    streams = LogStore(kernel.settings.data_dir / "logs")
    endpoint = ServiceEndpoint(
        "logs", JsonProtocol(kernel.model("logs")), LogsApi(streams).handlers()
    )
    return Logs(streams, endpoint)
