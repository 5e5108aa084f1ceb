"""Admission to run: the invocation rate, concurrency leases and the scaling rate, over the
Ledger port (in process, or on Redis).

Every invocation, synchronous or queued, enters through `lease`, a context manager that gives the
lease back however the invocation ends (success, function error, timeout, crash, a client that
went away, shutdown). A request refused here gets AWS's 429, is counted as a throttle and never
starts an environment.

Self-fencing: a lease that can expire (Redis) and could not be renewed for long enough that it
may run out before the next renewal (`domain.fencing`) stops its invocation first
(`fence_unrenewed`, from the app's keeper): the task running it is cancelled, which kills the
environment's runtime (`EnvironmentPool.lease`), and the caller, if still connected, gets
ServiceException. Otherwise a host cut off from Redis would keep running while another host,
seeing the lease expired, starts a second invocation past the function's reserved concurrency.

A lease on a ledger elsewhere (Redis) is given back after the invocation's answer has gone out,
not before: giving back is a round trip to Redis (about 0.2 ms here, an eighth of a warm invoke
through the cluster) that the caller need not wait for. The give-back is sent in the loop's
next turn, right after the answer is written, so a caller's next request (which must first
cross the network back) finds the lease free; meanwhile the count only errs high, never above
the limit. `stop` waits for the give-backs in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from gureum.aws.errors import ServiceError
from gureum.lambda_.domain.concurrency import Lease, ThrottleReason
from gureum.lambda_.domain.errors import TooManyRequests
from gureum.lambda_.domain.fencing import FencePolicy, must_fence
from gureum.lambda_.domain.functions import Function
from gureum.lambda_.services.ledger import Ledger
from gureum.lambda_.services.metrics import LambdaMetrics

log = logging.getLogger(__name__)

FENCED = "An internal error occurred: the host running the function lost the concurrency ledger."


class Admission:
    def __init__(
        self,
        ledger: Ledger,
        metrics: LambdaMetrics,
        monotonic: Callable[[], float],
        scaling: tuple[int, float] = (1000, 10.0),
        rate_period: float = 1.0,
    ) -> None:
        self.ledger = ledger
        self._metrics = metrics
        # The rates' clock: the monotonic one in process; a ledger shared across hosts is given
        # the wall clock instead (assembly), the one clock hosts agree on.
        self._monotonic = monotonic
        self._scaling = scaling
        # The invocation rate's window: one second, times --time-scale like every platform period.
        self._rate_period = rate_period
        # The task running under each lease (so a fence can stop it), and the leases fenced.
        self._running: dict[Lease, asyncio.Task[object]] = {}
        self._fenced: set[Lease] = set()
        # Give-backs sent after the answer (a ledger elsewhere; see the module docstring).
        self._later = ledger.remote
        self._giving_back: set[asyncio.Task[None]] = set()

    @asynccontextmanager
    async def lease(self, function: Function) -> AsyncIterator[Lease]:
        scope = (function.account, function.region)
        self._metrics.known(function.account, function.region, function.id, function.name)
        try:
            lease = await self.ledger.admit(
                scope, function.id, self._monotonic(), self._rate_period
            )
        except TooManyRequests as refused:
            reason = str(refused.fields.get("Reason", ""))
            self._metrics.throttle(
                function.region, function.name, account=function.account, reason=reason
            )
            raise
        async with self._held(lease):
            yield lease

    @asynccontextmanager
    async def provisioned_lease(self, function: Function) -> AsyncIterator[Lease]:
        """A lease on a provisioned environment: its concurrency is claimed already, so it is
        never refused; it is counted in flight like any other (spec 6.3)."""
        scope = (function.account, function.region)
        self._metrics.known(function.account, function.region, function.id, function.name)
        lease = await self.ledger.admit_provisioned(scope, function.id)
        async with self._held(lease):
            yield lease

    @asynccontextmanager
    async def _held(self, lease: Lease) -> AsyncIterator[None]:
        """Runs the invocation under `lease`: fenced, it ends in ServiceException; given back
        on every path."""
        task = asyncio.current_task()
        assert task is not None
        self._running[lease] = task
        try:
            yield
        except asyncio.CancelledError:
            if lease not in self._fenced:
                raise  # the caller's own cancellation
            task.uncancel()
            raise ServiceError(FENCED) from None
        finally:
            self._running.pop(lease, None)
            self._fenced.discard(lease)
            if self._later:
                giving = asyncio.get_running_loop().create_task(self._give_back(lease))
                self._giving_back.add(giving)
                giving.add_done_callback(self._given_back)
            else:
                await self._give_back(lease)

    def _given_back(self, task: asyncio.Task[None]) -> None:
        self._giving_back.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("a lease could not be given back", exc_info=error)

    async def stop(self) -> None:
        """Waits for the leases still being given back (before the ledger closes)."""
        while self._giving_back:
            await asyncio.gather(*self._giving_back, return_exceptions=True)

    def fence_unrenewed(self, policy: FencePolicy, now: float) -> int:
        """Stops the invocations whose leases may expire before they can be renewed (see the
        module docstring); `now` on the ledger's `renewals` clock. Answers how many."""
        fenced = 0
        for lease, renewed in self.ledger.renewals().items():
            task = self._running.get(lease)
            if task is None or lease in self._fenced or not must_fence(policy, renewed, now):
                continue
            log.error(
                "SELF-FENCING: lease %s of function %s not renewed for %.1f s (the concurrency "
                "ledger, Redis, is out of reach; leases expire %.1f s after renewal): its "
                "invocation is stopped now, before another host may take the lease",
                lease.id,
                lease.function_id,
                now - renewed,
                policy.ttl,
            )
            self._fenced.add(lease)
            task.cancel()
            fenced += 1
        return fenced

    async def _give_back(self, lease: Lease) -> None:
        """The invocation has run: a ledger out of reach now must not turn its result into an
        error. The lease is dropped here; on Redis its TTL frees it (no longer renewed)."""
        try:
            await self.ledger.release(lease)
        except ServiceError:
            log.warning(
                "lease %s of %s not given back: the ledger is out of reach; its TTL frees it",
                lease.id,
                lease.function_id,
            )

    async def new_environment(self, function: Function) -> None:
        """Spends one unit of the function's scaling rate, or throttles."""
        scope = (function.account, function.region)
        try:
            await self.ledger.new_environment(scope, function.id, self._monotonic(), self._scaling)
        except TooManyRequests:
            reason = ThrottleReason.ACCOUNT
            self._metrics.throttle(
                function.region, function.name, account=function.account, reason=reason.value
            )
            raise
