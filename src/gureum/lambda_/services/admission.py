"""Admission to run: the invocation rate, concurrency leases and the scaling rate, over the pure
ledger.

Every invocation, synchronous or queued, enters through `lease`, a context manager that gives the
lease back however the invocation ends (success, function error, timeout, crash, a client that
went away, shutdown). A request refused here gets AWS's 429, is counted as a throttle and never
starts an environment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from gureum.lambda_.domain.concurrency import (
    REQUESTS_PER_UNIT,
    ConcurrencyLedger,
    Lease,
    ThrottleReason,
    TokenBucket,
    invocation_rate,
    throttled,
)
from gureum.lambda_.domain.errors import TooManyRequests
from gureum.lambda_.domain.functions import Function
from gureum.lambda_.services.metrics import LambdaMetrics


class Admission:
    def __init__(
        self,
        ledger: ConcurrencyLedger,
        metrics: LambdaMetrics,
        monotonic: Callable[[], float],
        scaling: tuple[int, float] = (1000, 10.0),
        rate_period: float = 1.0,
    ) -> None:
        self.ledger = ledger
        self._metrics = metrics
        self._monotonic = monotonic
        self._capacity, self._period = scaling
        self._buckets: dict[str, TokenBucket] = {}
        # The invocation rate's window: one second, times --time-scale like every platform period.
        self._rate_period = rate_period
        self._rates: dict[str | tuple[str, str], TokenBucket] = {}

    @contextmanager
    def lease(self, function: Function) -> Iterator[Lease]:
        scope = (function.account, function.region)
        self._metrics.known(function.account, function.region, function.id, function.name)
        try:
            self._check_rate(scope, function)
            lease = self.ledger.acquire(scope, function.id)
        except TooManyRequests as refused:
            reason = str(refused.fields.get("Reason", ""))
            self._metrics.throttle(
                function.region, function.name, account=function.account, reason=reason
            )
            raise
        try:
            yield lease
        finally:
            self.ledger.release(lease)

    @contextmanager
    def provisioned_lease(self, function: Function) -> Iterator[Lease]:
        """A lease on a provisioned environment: its concurrency is claimed already, so it is
        never refused; it is counted in flight like any other (spec 6.3)."""
        scope = (function.account, function.region)
        self._metrics.known(function.account, function.region, function.id, function.name)
        lease = self.ledger.acquire_provisioned(scope, function.id)
        try:
            yield lease
        finally:
            self.ledger.release(lease)

    def _check_rate(self, scope: tuple[str, str], function: Function) -> None:
        """Spends one request of the function's and the account's invocation rates, or
        throttles (spec 4.1, 4.4): 10 x concurrency at function and at account level."""
        rate = invocation_rate(self.ledger.limits, self.ledger.reservation(scope, function.id))
        if rate is None:
            return
        now = self._monotonic()
        capacity, reason = rate
        function_rate = self._take(function.id, capacity, now)
        account_rate = self._take(scope, REQUESTS_PER_UNIT * self.ledger.limits.account, now)
        if function_rate is None or account_rate is None:
            # Neither rate is spent by a refused request.
            raise throttled(reason if function_rate is None else ThrottleReason.FUNCTION_RATE)
        self._rates[function.id] = function_rate
        self._rates[scope] = account_rate

    def _take(self, key: str | tuple[str, str], capacity: int, now: float) -> TokenBucket | None:
        """The bucket after one request, or None when it has none to give."""
        bucket = self._rates.get(key)
        if bucket is None or bucket.capacity != capacity:  # new, or the reservation changed
            bucket = TokenBucket.full(capacity, self._rate_period, now)
        bucket, allowed = bucket.take(now)
        return bucket if allowed else None

    def new_environment(self, function: Function) -> None:
        """Spends one unit of the function's scaling rate, or throttles."""
        now = self._monotonic()
        bucket = self._buckets.get(function.id) or TokenBucket.full(
            self._capacity, self._period, now
        )
        bucket, allowed = bucket.take(now)
        self._buckets[function.id] = bucket
        if not allowed:
            reason = ThrottleReason.ACCOUNT
            self._metrics.throttle(
                function.region, function.name, account=function.account, reason=reason.value
            )
            raise throttled(reason)
