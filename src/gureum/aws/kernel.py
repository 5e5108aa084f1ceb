"""What the composition root hands every service's assembly: the shared run-time objects.

`Kernel` is built once per server. Each service package has an `assembly` module whose one
function turns a `Kernel` (and the public services of the services it depends on) into an
`Assembly`: the service's endpoint on the front door and its lifecycle. The root starts the
assemblies in order, stops them in reverse, drains the shared worker threads, then closes them.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from gureum.aws.frontend import ServiceEndpoint
from gureum.aws.singletons import Singletons
from gureum.aws.sql import Backend
from gureum.clock import Clock
from gureum.config import Settings


@dataclass(frozen=True, slots=True)
class Kernel:
    settings: Settings
    clock: Clock
    # Worker threads shared by every service for blocking work (SQLite, files).
    executor: Executor
    # Where clients (and functions) reach this server.
    endpoint_url: str
    # botocore's models of the services (`gureum.aws.models.ServiceModels`).
    botocore: Any
    # Where the services' stores keep their tables: SQLite files in the data directory, or
    # one PostgreSQL database (`--store`).
    stores: Backend
    # Background work one process of a cluster runs at a time (settler, provisioner, ...).
    singletons: Singletons

    def model(self, service: str) -> Any:
        """botocore's model of `service` (a `botocore.model.ServiceModel`)."""
        return self.botocore.get_service_model(service)


class Assembly:
    """One AWS service, built. Lifecycle: start -> (serve) -> stop -> close.

    `stop` ends the service's background work while the shared worker threads still run; `close`
    releases files and databases once those threads have drained. Both run on every shutdown,
    after a failed start too, so each must tolerate a service that never started.
    """

    endpoint: ServiceEndpoint

    async def start(self) -> None:
        """Starts background work; none by default."""

    async def stop(self) -> None:
        """Ends background work; none by default."""

    def close(self) -> None:
        """Releases what the service holds open; nothing by default."""
