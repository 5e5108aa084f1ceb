"""CloudWatch Logs, built from the kernel: the log streams (Lambda writes to them), the endpoint."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from gureum.aws.frontend import ServiceEndpoint
from gureum.aws.kernel import Assembly, Kernel
from gureum.aws.protocols.json import JsonProtocol
from gureum.logs.api import LogsApi
from gureum.logs.store.ports import LogStore
from gureum.logs.store.streams import FileLogStore
from gureum.logs.store.tables import SPEC, SqlLogStore


@dataclass(eq=False)
class Logs(Assembly):
    streams: LogStore
    endpoint: ServiceEndpoint
    # Where the streams are, for the health page's `stores`.
    location: str
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


def _streams(kernel: Kernel) -> tuple[LogStore, str]:
    """Files in the data directory by default; with `--store`, the PostgreSQL database, where
    every process of a cluster writes its functions' logs and every front door reads them.
    (Not SQLite when there is no `--store`: one process writes, and files cost it less.)"""
    if not kernel.settings.store:
        root = kernel.settings.data_dir / "logs"
        return FileLogStore(root), f"files:{root}"
    store = SqlLogStore(kernel.stores, kernel.executor)
    return store, kernel.stores.opened()[SPEC.component]


def assemble(kernel: Kernel) -> Logs:
    streams, location = _streams(kernel)
    endpoint = ServiceEndpoint(
        "logs", JsonProtocol(kernel.model("logs")), LogsApi(streams).handlers()
    )
    return Logs(streams, endpoint, location)
