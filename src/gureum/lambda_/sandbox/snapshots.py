"""SnapStart templates: one initialized environment per SnapStart version, to restore from.

A template is an environment (its own sandbox: namespaces, uid, memory group, /tmp) that ran
Init once with `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start` and its before-snapshot hooks, and
then waits at its runtime's restore point (guest/zygote.py) with its memory as the snapshot.
A restore is a fork of it that becomes a sandbox of its own before it runs on (zygote.py says
how, environment.py's `_restore` what the server does): its own uid, memory group, /tmp, log
stream and Runtime API channel, with the template's memory copy-on-write.

The mechanism is a fork: a restore's own steps take about a millisecond (benchmarks/), where a
checkpoint/restore tool (CRIU) rebuilds a process in tens, and Debian 12's CRIU does not start on
the kernel gureum was built on (`criu check` fails on the vDSO). What a fork cannot do is outlive
the server: templates are made again at start-up (an invocation that comes first waits).

Templates hold memory while they wait. They count against a budget the operator sets
(`--snapshot-memory`); past it, making one evicts the least recently used templates that no
live environment was restored from, or fails.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, replace

from gureum.lambda_.sandbox.environment import (
    SNAP_START,
    ExecutionEnvironment,
    LaunchPlan,
    Platform,
)
from gureum.lambda_.sandbox.restores import RestorePlan, Restores
from gureum.lambda_.sandbox.uids import UidLease, UidLeases
from gureum.lambda_.sandbox.zygotes import Zygote, ZygoteError

log = logging.getLogger("gureum.snapshots")

# Init at publish has the limit AWS gives provisioned and SnapStart environments: 130 seconds or
# the function's timeout, whichever is higher (spec 6.1).
INIT_LIMIT = 130.0
MEGABYTE = 1024 * 1024


class TemplateFailed(Exception):
    """Init (or its snapshot) failed: the version is Failed with this reason and code."""

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(eq=False)
class Template:
    slot: str
    environment: ExecutionEnvironment
    restores: Restores
    uid: UidLease
    memory_bytes: int
    last_used: float

    @property
    def restored(self) -> int:
        """How many environments restored from it are alive (their processes, not ended),
        besides the ones prepared ahead."""
        return self.restores.plan.control.live - self.restores.ready


class Templates:
    """The templates of SnapStart versions, by the pool's slot (function id:version).

    Event loop only.
    """

    def __init__(self, platform: Platform, uids: UidLeases, budget_mb: int) -> None:
        self._platform = platform
        self._uids = uids
        self._budget = budget_mb * MEGABYTE
        self._templates: dict[str, Template] = {}

    def get(self, slot: str) -> Template | None:
        template = self._templates.get(slot)
        if template is not None:
            template.last_used = time.monotonic()
        return template

    def slots(self) -> list[str]:
        return list(self._templates)

    @property
    def budget_bytes(self) -> int:
        return self._budget

    @property
    def memory_bytes(self) -> int:
        return sum(template.memory_bytes for template in self._templates.values())

    async def make(self, slot: str, plan: LaunchPlan) -> Template:
        """Runs Init for `slot` and keeps the result as its template; raises TemplateFailed."""
        await self.drop(slot)
        lease = self._uids.acquire()
        if lease is None:
            raise TemplateFailed("No execution environment uid is free for the snapshot.", "Idle")
        plan = replace(plan, initialization_type=SNAP_START, snapshot=None)
        environment = ExecutionEnvironment(plan, self._platform, lease.uid, template=True)
        try:
            template = await self._initialize(slot, environment, lease, plan)
        except BaseException:
            await self._retire(environment)
            lease.release()
            raise
        self._templates[slot] = template
        await self._keep_budget(slot)
        return template

    async def _initialize(
        self, slot: str, environment: ExecutionEnvironment, lease: UidLease, plan: LaunchPlan
    ) -> Template:
        if not await environment.initialize(max(INIT_LIMIT, float(plan.timeout_s))):
            if environment.init_error is None:
                raise TemplateFailed(
                    "Lambda encountered an error when running the initialization code or "
                    "creating the snapshot: the initialization timed out.",
                    "FunctionError.InitTimeout",
                )
            raise TemplateFailed(
                "Lambda encountered an error when running the initialization code or creating "
                f"the snapshot: {environment.init_error}. Check the function's logs.",
                "FunctionError",
            )
        ours = environment.snapshot_socket
        pid = environment.runtime_pid()
        if ours is None or pid is None:
            raise TemplateFailed("The snapshot could not be taken.", "FunctionError")
        control = Zygote(f"snapshot of {slot}")
        try:
            await control.adopt(ours, 10)
        except ZygoteError:
            raise TemplateFailed("The snapshot could not be taken.", "FunctionError") from None
        memory = environment.memory_bytes()
        plan_of_restores = RestorePlan(
            control,
            pid,
            plan.memory_mb,
            plan.ephemeral_mb,
            environment.tmp_path,
            lease.uid,
        )
        restores = Restores(plan_of_restores, self._platform)
        template = Template(slot, environment, restores, lease, memory, time.monotonic())
        restores.refill_soon()  # one restore prepared before the first invocation asks
        return template

    async def _keep_budget(self, newest: str) -> None:
        """Evicts the least recently used idle templates while over the budget; a template
        some environment was restored from stays (its end would end them)."""
        for template in sorted(self._templates.values(), key=lambda t: t.last_used):
            if self.memory_bytes <= self._budget:
                return
            if template.slot != newest and template.restored == 0:
                log.info("dropping the snapshot of %s: over the memory budget", template.slot)
                await self.drop(template.slot)
        if self.memory_bytes > self._budget:
            await self.drop(newest)
            raise TemplateFailed(
                "The snapshot does not fit in the server's snapshot memory budget "
                "(--snapshot-memory).",
                "FunctionError",
            )

    async def drop(self, slot: str) -> None:
        """Lets a template go; the environments restored from it end with it."""
        template = self._templates.pop(slot, None)
        if template is None:
            return
        await template.restores.close()
        await template.restores.plan.control.stop()
        await self._retire(template.environment)
        template.uid.release()

    async def _retire(self, environment: ExecutionEnvironment) -> None:
        with contextlib.suppress(Exception):
            await environment.retire()

    async def close(self) -> None:
        for slot in list(self._templates):
            await self.drop(slot)
