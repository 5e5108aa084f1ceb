"""Application Auto Scaling, built from the kernel, CloudWatch's metric service (utilization and
alarms) and a `ProvisionedCapacity` (Lambda's provisioned concurrency): its endpoint, and the
scaler's loop, owned here and cancelled on stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from gureum.autoscaling.api import AutoScalingApi
from gureum.autoscaling.services.changes import CapacityChanges
from gureum.autoscaling.services.cloudwatch import CloudWatchAlarms, CloudWatchUtilization
from gureum.autoscaling.services.ports import ProvisionedCapacity
from gureum.autoscaling.services.scaler import Scaler
from gureum.autoscaling.services.scaling import ScalingService
from gureum.autoscaling.store.scaling import ScalingStore
from gureum.aws.frontend import ServiceEndpoint
from gureum.aws.kernel import Assembly, Kernel
from gureum.aws.protocols.json import JsonProtocol
from gureum.cloudwatch.services.metrics import MetricService

log = logging.getLogger("gureum.autoscaling")
# However fast the clock is scaled, the scaler does not spin.
MIN_INTERVAL = 0.05


@dataclass(eq=False)
class AutoScaling(Assembly):
    scaling: ScalingService
    scaler: Scaler
    store: ScalingStore
    endpoint: ServiceEndpoint
    kernel: Kernel
    _task: asyncio.Task[None] | None = field(default=None)

    async def start(self) -> None:
        scaling = self.kernel.singletons.lead("autoscaling-scaler", self._scale)
        self._task = asyncio.create_task(scaling, name="autoscaling-scaler")

    async def _scale(self) -> None:
        loop = asyncio.get_running_loop()
        interval = max(MIN_INTERVAL, self.scaler.interval())
        while True:
            await asyncio.sleep(interval)
            try:
                await loop.run_in_executor(self.kernel.executor, self.scaler.tick)
            except Exception:
                log.exception("a scaler tick failed; trying again")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def close(self) -> None:
        self.store.close()


def assemble(kernel: Kernel, metrics: MetricService, capacity: ProvisionedCapacity) -> AutoScaling:
    settings = kernel.settings
    store = ScalingStore(kernel.stores)
    alarms = CloudWatchAlarms(metrics)
    changes = CapacityChanges(store, capacity, kernel.clock)
    scaling = ScalingService(store, capacity, alarms, kernel.clock, changes)
    scaler = Scaler(
        store,
        capacity,
        CloudWatchUtilization(metrics),
        alarms,
        changes,
        kernel.clock,
        settings.time_scale,
    )
    endpoint = ServiceEndpoint(
        "application-autoscaling",
        JsonProtocol(kernel.model("application-autoscaling")),
        AutoScalingApi(scaling).handlers(),
    )
    return AutoScaling(scaling, scaler, store, endpoint, kernel)
