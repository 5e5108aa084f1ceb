"""CloudWatch Logs, built from the kernel: the log streams (Lambda writes to them), the endpoint."""

from __future__ import annotations

from dataclasses import dataclass

from gureum.aws.frontend import ServiceEndpoint
from gureum.aws.kernel import Assembly, Kernel
from gureum.aws.protocols.json import JsonProtocol
from gureum.logs.api import LogsApi
from gureum.logs.store.streams import LogStore


@dataclass(eq=False)
class Logs(Assembly):
    streams: LogStore
    endpoint: ServiceEndpoint

    def close(self) -> None:
        self.streams.close()


def assemble(kernel: Kernel) -> Logs:
    streams = LogStore(kernel.settings.data_dir / "logs")
    endpoint = ServiceEndpoint(
        "logs", JsonProtocol(kernel.model("logs")), LogsApi(streams).handlers()
    )
    return Logs(streams, endpoint)
