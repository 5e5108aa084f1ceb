"""Self-fencing over a real Redis: an invocation whose lease cannot be renewed is stopped, with
ServiceException, before the lease may expire; one whose lease is renewed runs on."""

from __future__ import annotations

import asyncio

import pytest

from gureum.aws.errors import ServiceError
from gureum.lambda_.domain.concurrency import Limits
from gureum.lambda_.services.admission import FENCED, Admission
from gureum.lambda_.services.metrics import LambdaMetrics
from gureum.lambda_.store.redis_ledger import RedisLedger
from tests.support.model import a_function
from tests.support.redis import RedisServer


class Ticks:
    """The renewals' clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_unrenewable_lease_stops_its_invocation_before_it_expires(
    own_redis: RedisServer,
) -> None:
    own_redis.start()
    ticks = Ticks()
    function = a_function()

    async def scenario() -> None:
        ledger = RedisLedger(own_redis.url, Limits(), ttl=3.0, monotonic=ticks)
        gate = Admission(ledger, LambdaMetrics(ledger), lambda: 0.0)
        policy = ledger.fence_policy
        assert policy is not None
        started = asyncio.Event()

        async def invocation() -> str:
            async with gate.lease(function):
                started.set()
                await asyncio.sleep(60)  # the function runs on
            return "ran"

        running = asyncio.create_task(invocation())
        await started.wait()
        ticks.now += 1.0
        await ledger.keep()  # renewed: 1 s on, nothing to fence
        assert gate.fence_unrenewed(policy, ticks.now + 1.0) == 0
        own_redis.stop()
        ticks.now += 1.0  # one renewal missed, 1 s after the last
        with pytest.raises(ServiceError):
            await ledger.keep()
        assert gate.fence_unrenewed(policy, ticks.now) == 0  # the next try may still do
        ticks.now += 0.5  # the next try, had it failed too, would end at the expiry
        assert gate.fence_unrenewed(policy, ticks.now) == 1
        with pytest.raises(ServiceError) as fenced:
            await running
        assert fenced.value.message == FENCED
        await gate.stop()  # the give-back, sent after the answer, has ended
        assert ledger.outstanding == 0  # dropped (its TTL frees it in Redis)
        await ledger.close()

    asyncio.run(scenario())


def test_a_lease_found_expired_is_fenced_at_once(own_redis: RedisServer) -> None:
    own_redis.start()
    function = a_function()

    async def scenario() -> None:
        ledger = RedisLedger(own_redis.url, Limits(), ttl=3.0)
        gate = Admission(ledger, LambdaMetrics(ledger), lambda: 0.0)
        policy = ledger.fence_policy
        assert policy is not None
        started = asyncio.Event()

        async def invocation() -> None:
            async with gate.lease(function):
                started.set()
                await asyncio.sleep(60)

        running = asyncio.create_task(invocation())
        await started.wait()
        own_redis.stop()  # back empty: the lease is gone
        own_redis.start()
        await ledger.keep()
        assert gate.fence_unrenewed(policy, 0.0) == 1
        with pytest.raises(ServiceError):
            await running
        await gate.stop()
        await ledger.close()

    asyncio.run(scenario())
