"""EFS, built from the kernel and a network model: its services (Lambda's mounting uses the file
system and access point services) and its rest-json endpoint."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from gureum.aws.frontend import ServiceEndpoint
from gureum.aws.kernel import Assembly, Kernel
from gureum.aws.protocols.restjson import RestJsonProtocol
from gureum.efs.api import EfsApi
from gureum.efs.services.access_points import AccessPointService
from gureum.efs.services.file_systems import FileSystemService
from gureum.efs.services.mount_targets import MountTargetService
from gureum.efs.services.network import NetworkModel
from gureum.efs.store.records import EfsStore
from gureum.efs.store.trees import FileSystemTrees

log = logging.getLogger("gureum.efs")


@dataclass(eq=False)
class Efs(Assembly):
    file_systems: FileSystemService
    mount_targets: MountTargetService
    access_points: AccessPointService
    endpoint: ServiceEndpoint
    store: EfsStore
    kernel: Kernel

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        kept = await loop.run_in_executor(self.kernel.executor, self.file_systems.sweep)
        for name in sorted(kept):
            log.warning(
                "%s holds data but no file system of that id exists (left in place)",
                self.file_systems.data_of(name),
            )

    def close(self) -> None:
        self.store.close()


def assemble(kernel: Kernel, network: NetworkModel) -> Efs:
    settings = kernel.settings
    store = EfsStore(kernel.stores)
    # The file systems' data in the shared directory (the data directory unless
    # `--shared-dir`): a function mounts the same files whichever host runs it.
    trees = FileSystemTrees(settings.shared / "efs")
    clock, scale = kernel.clock, settings.time_scale
    file_systems = FileSystemService(store, trees, clock, scale)
    mount_targets = MountTargetService(store, network, clock, scale)
    access_points = AccessPointService(store, trees, clock)
    api = EfsApi(file_systems, mount_targets, access_points, clock.now)
    endpoint = ServiceEndpoint(
        "elasticfilesystem", RestJsonProtocol(kernel.model("efs")), api.handlers()
    )
    return Efs(file_systems, mount_targets, access_points, endpoint, store, kernel)
