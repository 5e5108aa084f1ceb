"""The provisioner: keeps each configuration's environments started, initialised and serving.

One background loop, owned by Lambda's assembly, reconciles what the store asks for with what
the pool holds: woken after every Put or Delete, and otherwise whenever the store changed (an
alias moved or deleted, a version or function deleted), looked at every `poll` seconds.

* A configuration asks for environments per version slot: its version, or its alias's version(s)
  split by weight (`domain.provisioned.split`). A job per configuration starts what is missing,
  paced at AWS's 6,000 a minute per function (scaled by --time-scale), each running Init ahead
  of any invocation; when all have, the configuration is READY and its slots serve.
* An Init that fails makes it FAILED (FUNCTION_ERROR_INIT_FAILURE, 0 allocated), with its
  environments retired; it is not tried again until a new Put (no hot loop of failing Inits).
* An environment lost to a crash or a timeout is replaced by the next round (the pool reports
  it). A READY configuration whose replacement fails Init stays READY with the environments it
  has, and tries again after a back-off (30 seconds, scaled), never in a loop.
* Slots no configuration asks for any more are deprovisioned (an alias moved: the old
  version's go, the new one's come, IN_PROGRESS until they are up).
* Environments are recycled every few hours (AWS: "every few hours", spec 6.1; here 4 hours,
  scaled by --time-scale, or sooner when an environment's execution-role session ends soon,
  `pool.renewal_due`): a replacement is initialised first, then the old one retired, so a
  READY configuration never has fewer than its allocation. A replacement whose Init fails
  leaves the old environment in place until the next period.
* After a restart, every configuration that was READY or IN_PROGRESS is IN_PROGRESS again and
  allocated afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from gureum.aws.errors import ServiceError
from gureum.lambda_.domain.arns import is_version_number
from gureum.lambda_.domain.concurrency import TokenBucket
from gureum.lambda_.domain.functions import Function, FunctionVersion
from gureum.lambda_.domain.lifecycle import State
from gureum.lambda_.domain.provisioned import (
    ALLOCATION_RATE,
    ProvisionedConfig,
    ProvisionedStatus,
    pace,
    split,
)
from gureum.lambda_.sandbox.pool import EnvironmentPool
from gureum.lambda_.services.invoker import Invoker, Target, slot_of
from gureum.lambda_.services.ledger import Ledger
from gureum.lambda_.store.ports import Store, Transaction

log = logging.getLogger("gureum.provisioner")

# AWS recycles provisioned environments "every few hours" (spec 6.1, 6.3).
RECYCLE_AFTER = 4 * 3600.0
# A failed replacement of a READY configuration's environment is tried again after this.
REPLACE_BACKOFF = 30.0
# The shortest pause between two rounds, whatever --time-scale says (no busy loop).
MIN_POLL = 0.05

# Environments started at once by one job: a host forks them, a burst of Inits must not starve
# the invocations already running.
STARTS_AT_ONCE = 8


@dataclass(frozen=True, slots=True)
class Allocation:
    """What one configuration asks for now: environments per version slot."""

    function: Function
    config: ProvisionedConfig
    versions: tuple[tuple[FunctionVersion, int], ...]

    @property
    def key(self) -> tuple[str, str]:
        return self.function.id, self.config.qualifier

    @property
    def shape(self) -> dict[str, int]:
        return {slot_of(self.function, v)[0]: n for v, n in self.versions}


def _allocations(tx: Transaction) -> list[Allocation]:
    found = []
    for function, config in tx.all_provisioned():
        counts: dict[str, int]
        if is_version_number(config.qualifier):
            counts = {config.qualifier: config.requested}
        else:
            alias = tx.get_alias(function, config.qualifier)
            if alias is None:
                continue
            counts = split(config.requested, alias.function_version, alias.weights)
        versions = []
        for number, count in sorted(counts.items()):
            version = tx.get_version(function, number) if is_version_number(number) else None
            if version is not None:
                versions.append((version, count))
        found.append(Allocation(function, config, tuple(versions)))
    return found


class Provisioner:
    """See the module docstring. Runs on the event loop; `changed` may be called from any
    thread (the control plane's workers)."""

    def __init__(
        self,
        store: Store,
        executor: Executor,
        pool: EnvironmentPool,
        invoker: Invoker,
        ledger: Ledger,
        monotonic: Callable[[], float],
        time_scale: float,
        poll: float = 1.0,
    ) -> None:
        self._store = store
        self._executor = executor
        self._pool = pool
        self._invoker = invoker
        self._ledger = ledger
        self._monotonic = monotonic
        capacity, period = ALLOCATION_RATE
        self._rate = (capacity, period * time_scale)
        self._poll = max(poll * time_scale, MIN_POLL)
        self._recycle_after = RECYCLE_AFTER * time_scale
        self._recycle_blocked: dict[str, float] = {}  # slot -> not before (monotonic)
        self._backoff = max(REPLACE_BACKOFF * time_scale, MIN_POLL)
        self._retry_at: dict[tuple[str, str], float] = {}  # configuration -> not before
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._jobs: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._served: dict[tuple[str, str], dict[str, int]] = {}  # the shape last made READY
        self._owners: dict[str, tuple[Function, str]] = {}  # slot -> (function, qualifier)
        self._buckets: dict[str, TokenBucket] = {}
        self._totals: set[tuple[tuple[str, str], str]] = set()
        self._generation = -1
        self._last: list[Allocation] = []
        pool.on_lost = lambda slot: self.wake()

    # --- signals ------------------------------------------------------------------------------

    def changed(self, scope: tuple[str, str], function_id: str, total: int) -> None:
        """A function's provisioned total changed (committed): the ledger hears it first."""
        loop = self._loop
        if loop is not None:
            # In process the ledger hears it in the task's first step, before the API answers.
            asyncio.run_coroutine_threadsafe(self._changed(scope, function_id, total), loop)

    async def _changed(self, scope: tuple[str, str], function_id: str, total: int) -> None:
        try:
            await self._ledger.provision(scope, function_id, total)
        except ServiceError:
            log.warning("the ledger is out of reach: provisioned totals are accounted again")
            self._generation = -1  # the next round accounts every total again
        self.wake()

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def qualifier_of(self, slot: str) -> str | None:
        """The qualifier (version or alias) whose configuration a slot serves."""
        owner = self._owners.get(slot)
        return owner[1] if owner is not None else None

    def usage(self) -> list[tuple[str, str, str, str, int, int]]:
        """(account, region, function name, resource, environments in use, allocated) per
        configuration whose environments serve (the metrics' provisioned gauges)."""
        found: dict[tuple[str, str, str, str], list[int]] = {}
        for slot, (function, qualifier) in self._owners.items():
            if not self._pool.serving(slot):
                continue
            busy, count = self._pool.provisioned_usage(slot)
            key = (
                function.account,
                function.region,
                function.name,
                f"{function.name}:{qualifier}",
            )
            totals = found.setdefault(key, [0, 0])
            totals[0] += busy
            totals[1] += count
        return [(*key, in_use, allocated) for key, (in_use, allocated) in found.items()]

    # --- the loop -----------------------------------------------------------------------------

    async def start(self) -> None:
        """After a restart nothing is allocated: READY configurations are IN_PROGRESS again.
        The ledger has every function's provisioned total before the first invocation."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._last = await self._loop.run_in_executor(self._executor, self._restarted)
        await self._account(self._last)

    def _restarted(self) -> list[Allocation]:
        with self._store.transaction() as tx:
            for function, config in tx.all_provisioned():
                if config.status is ProvisionedStatus.READY:
                    tx.put_provisioned(function, config.allocating())
            return _allocations(tx)

    async def run(self) -> None:
        """Reconciles until cancelled; its jobs are cancelled with it."""
        assert self._wake is not None
        woken = True
        try:
            while True:
                try:
                    await self._reconcile(woken)
                except Exception:
                    log.exception("a provisioning round failed; trying again at the next one")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll)
                # Read from the event itself: wait_for may time out although the event was set
                # at the same moment, and a wake must never be lost (it may be the only news
                # of a lost environment).
                woken = self._wake.is_set()
                self._wake.clear()
        finally:
            jobs = list(self._jobs.values())
            for job in jobs:
                job.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)

    async def _reconcile(self, woken: bool) -> None:
        """One round; skipped when nothing woke it and the store did not change."""
        assert self._loop is not None
        self._recycle_due()
        now = self._monotonic()
        retry = any(at <= now for at in self._retry_at.values())
        if not woken and not retry and self._store.generation == self._generation:
            return
        self._generation = self._store.generation
        allocations = await self._loop.run_in_executor(self._executor, self._read)
        self._last = allocations
        await self._account(allocations)
        wanted: set[str] = set()
        owners: dict[str, tuple[Function, str]] = {}
        for allocation in allocations:
            if any(slot in owners for slot in allocation.shape):
                # The API keeps one configuration per version; never let two fight over one.
                log.error("two provisioned configurations cover one version: %s", allocation.key)
                continue
            for slot in allocation.shape:
                owners[slot] = (allocation.function, allocation.config.qualifier)
            if allocation.config.status is ProvisionedStatus.FAILED:
                continue
            wanted |= set(allocation.shape)
            if allocation.key not in self._jobs:
                self._plan(allocation)
        self._owners = owners
        for slot in self._pool.provisioned_slots():
            if slot not in wanted:
                self._pool.deprovision(slot)
        keys = {a.key for a in allocations}
        for key in [k for k in self._served if k not in keys]:
            del self._served[key]

    def _recycle_due(self) -> None:
        """Starts a recycling job for each serving slot whose oldest environment is due."""
        now = self._monotonic()
        for allocation in self._last:
            if allocation.key in self._jobs or self._served.get(allocation.key) is None:
                continue
            for slot in allocation.shape:
                born = self._pool.oldest(slot)
                if born is None:
                    continue
                # Every few hours, or sooner when a role session ends soon (a small time scale).
                if now - born < self._recycle_after and not self._pool.renewal_due(slot):
                    continue
                if self._recycle_blocked.get(slot, 0.0) > now:
                    continue
                job = asyncio.create_task(self._recycle(allocation, slot), name="recycle")
                self._jobs[allocation.key] = job
                job.add_done_callback(functools.partial(self._finished, allocation.key))
                break

    async def _recycle(self, allocation: Allocation, slot: str) -> None:
        for version, _ in allocation.versions:
            found, key = slot_of(allocation.function, version)
            if found != slot:
                continue
            arn = allocation.function.version_arn(version.version)
            if await self._start_all(
                allocation.function.id, [(slot, key, Target(allocation.function, version, arn))]
            ):
                self._pool.recycle_oldest(slot)
            else:
                log.warning("a provisioned environment of %s could not be recycled", slot)
                self._recycle_blocked[slot] = self._monotonic() + self._recycle_after

    def _read(self) -> list[Allocation]:
        with self._store.transaction() as tx:
            return _allocations(tx)

    async def _account(self, allocations: list[Allocation]) -> None:
        """The ledger's provisioned totals, from the store (catches deleted functions too).
        A ledger out of reach (Redis) is told again at the next round."""
        totals: dict[tuple[tuple[str, str], str], int] = {}
        for allocation in allocations:
            function = allocation.function
            key = ((function.account, function.region), function.id)
            totals[key] = totals.get(key, 0) + allocation.config.requested
        try:
            for scope, function_id in self._totals - set(totals):
                await self._ledger.provision(scope, function_id, 0)
            for (scope, function_id), total in totals.items():
                await self._ledger.provision(scope, function_id, total)
        except ServiceError:
            log.warning("the ledger is out of reach: provisioned totals are accounted again")
            self._generation = -1
            return
        self._totals = set(totals)

    def _complete(self, allocation: Allocation) -> bool:
        if allocation.config.status is ProvisionedStatus.FAILED:
            return True
        return all(self._pool.provisioned_count(slot) == n for slot, n in allocation.shape.items())

    def _plan(self, allocation: Allocation) -> None:
        """Starts a job for a configuration that lacks environments (or must say READY).
        Not before its versions are Active: settling gives a version a new revision, and
        environments of the old one would never serve it."""
        if any(v.lifecycle.state is not State.ACTIVE for v, _ in allocation.versions):
            return
        if self._retry_at.get(allocation.key, 0.0) > self._monotonic():
            return
        self._retry_at.pop(allocation.key, None)
        for version, _ in allocation.versions:
            self._pool.rekey(*slot_of(allocation.function, version))
        shape = allocation.shape
        for slot, count in shape.items():
            if self._pool.provisioned_count(slot) > count:
                self._pool.deprovision(slot, keep=count)
        ready = allocation.config.status is ProvisionedStatus.READY
        if ready and self._complete(allocation) and self._served.get(allocation.key) == shape:
            return
        job = asyncio.create_task(self._allocate(allocation), name="provision")
        self._jobs[allocation.key] = job
        job.add_done_callback(functools.partial(self._finished, allocation.key))

    def _finished(self, key: tuple[str, str], job: asyncio.Task[None]) -> None:
        if self._jobs.get(key) is job:
            del self._jobs[key]
        if not job.cancelled() and (error := job.exception()) is not None:
            log.error("provisioning %s failed", key, exc_info=error)
        self.wake()

    async def _allocate(self, allocation: Allocation) -> None:
        assert self._loop is not None
        shape = allocation.shape
        ready = allocation.config.status is ProvisionedStatus.READY
        if ready and self._served.get(allocation.key) not in (None, shape):
            # The alias moved: IN_PROGRESS until the new version's environments are up.
            await self._record(allocation, ProvisionedConfig.allocating)
            self._served.pop(allocation.key, None)
            ready = False
        starts: list[tuple[str, str, Target]] = []
        for version, count in allocation.versions:
            slot, key = slot_of(allocation.function, version)
            arn = allocation.function.version_arn(version.version)
            target = Target(allocation.function, version, arn)
            for _ in range(count - self._pool.provisioned_count(slot)):
                starts.append((slot, key, target))
        # A new allocation is held back until complete; a replacement serves at once.
        ok = await self._start_all(allocation.function.id, starts, hold=not ready)
        if not ok and ready:
            # Replacing a lost environment: keep serving with those still up, try later.
            self._retry_at[allocation.key] = self._monotonic() + self._backoff
            log.warning(
                "a provisioned environment of %s:%s could not be replaced: its Init failed",
                allocation.function.name,
                allocation.config.qualifier,
            )
            return
        if not ok:
            for slot in shape:
                self._pool.deprovision(slot)
            await self._record(allocation, ProvisionedConfig.failed)
            self._served.pop(allocation.key, None)
            log.warning(
                "provisioned concurrency of %s:%s FAILED: an Init failed",
                allocation.function.name,
                allocation.config.qualifier,
            )
            return
        for slot in shape:
            self._pool.serve(slot, True)
        self._served[allocation.key] = shape
        if not ready:
            await self._record(allocation, ProvisionedConfig.ready)

    async def _start_all(
        self, function_id: str, starts: list[tuple[str, str, Target]], hold: bool = False
    ) -> bool:
        gate = asyncio.Semaphore(STARTS_AT_ONCE)
        failed = asyncio.Event()

        async def start(slot: str, key: str, target: Target) -> None:
            async with gate:
                if failed.is_set():
                    return
                await self._paced(function_id)
                plan = await self._invoker.plan(target)
                if not await self._pool.provision_one(slot, key, plan, hold):
                    failed.set()

        results = await asyncio.gather(*(start(*s) for s in starts), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                if isinstance(result, asyncio.CancelledError):
                    raise result
                log.error("a provisioned environment could not start: %r", result)
                failed.set()
        return not failed.is_set()

    async def _paced(self, function_id: str) -> None:
        """One environment's share of AWS's allocation rate (6,000 a minute per function)."""
        while True:
            bucket = self._buckets.get(function_id)
            bucket, wait = pace(bucket, self._rate, self._monotonic())
            self._buckets[function_id] = bucket
            if not wait:
                return
            await asyncio.sleep(wait)

    async def _record(
        self, allocation: Allocation, move: Callable[[ProvisionedConfig], ProvisionedConfig]
    ) -> None:
        """Moves a configuration's status in the store, unless a newer Put replaced it."""
        assert self._loop is not None

        def write() -> None:
            with self._store.transaction() as tx:
                current = tx.get_provisioned(allocation.function, allocation.config.qualifier)
                if current is None or current.last_modified != allocation.config.last_modified:
                    return
                if current.requested != allocation.config.requested:
                    return
                tx.put_provisioned(allocation.function, move(current))

        await self._loop.run_in_executor(self._executor, write)
