"""Admission to run: the invocation rate, concurrency leases and the scaling rate, over the
Ledger port (in process, or on Redis).

Every invocation, synchronous or queued, enters through `lease`, a context manager that gives the
lease back however the invocation ends (success, function error, timeout, crash, a client that
went away, shutdown). A request refused here gets AWS's 429, is counted as a throttle and never
starts an environment.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from gureum.aws.errors import ServiceError
from gureum.lambda_.domain.concurrency import Lease, ThrottleReason
from gureum.lambda_.domain.errors import TooManyRequests
from gureum.lambda_.domain.functions import Function
from gureum.lambda_.services.ledger import Ledger
from gureum.lambda_.services.metrics import LambdaMetrics

log = logging.getLogger(__name__)


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
        try:
            yield lease
        finally:
            await self._give_back(lease)

    @asynccontextmanager
    async def provisioned_lease(self, function: Function) -> AsyncIterator[Lease]:
        """A lease on a provisioned environment: its concurrency is claimed already, so it is
        never refused; it is counted in flight like any other (spec 6.3)."""
        scope = (function.account, function.region)
        self._metrics.known(function.account, function.region, function.id, function.name)
        lease = await self.ledger.admit_provisioned(scope, function.id)
        try:
            yield lease
        finally:
            await self._give_back(lease)

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
