"""Admission to run: concurrency leases and the scaling rate, over the pure ledger.

Every invocation, synchronous or queued, enters through `lease`, a context manager that gives the
lease back however the invocation ends (success, function error, timeout, crash, a client that
went away, shutdown). A request refused here gets AWS's 429, is counted as a throttle and never
starts an environment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from gureum.lambda_.domain.concurrency import (
    ConcurrencyLedger,
    Lease,
    ThrottleReason,
    TokenBucket,
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
    ) -> None:
        self.ledger = ledger
        self._metrics = metrics
        self._monotonic = monotonic
        self._capacity, self._period = scaling
        self._buckets: dict[str, TokenBucket] = {}

    @contextmanager
    def lease(self, function: Function) -> Iterator[Lease]:
        scope = (function.account, function.region)
        self._metrics.known(function.account, function.region, function.id, function.name)
        try:
            lease = self.ledger.acquire(scope, function.id)
        except TooManyRequests:
            self._metrics.throttle(function.region, function.name)
            raise
        try:
            yield lease
        finally:
            self.ledger.release(lease)

    def new_environment(self, function: Function) -> None:
        """Spends one unit of the function's scaling rate, or throttles."""
        now = self._monotonic()
        bucket = self._buckets.get(function.id) or TokenBucket.full(
            self._capacity, self._period, now
        )
        bucket, allowed = bucket.take(now)
        self._buckets[function.id] = bucket
        if not allowed:
            self._metrics.throttle(function.region, function.name)
            raise throttled(ThrottleReason.ACCOUNT)
