"""Admission over the real ledger and a `ManualClock`: the invocation rate (spec 4.1, 4.4).

A function may start 10 x its concurrency requests per second: 10 x its reservation when it has
one, else 10 x the account's concurrency, and the account as a whole 10 x its concurrency.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any, cast

import pytest

from gureum.clock import ManualClock
from gureum.lambda_.domain.concurrency import Lease, Limits
from gureum.lambda_.domain.errors import TooManyRequests
from gureum.lambda_.domain.fencing import FencePolicy
from gureum.lambda_.domain.functions import Function
from gureum.lambda_.services.admission import Admission
from gureum.lambda_.services.ledger import InProcessLedger, Ledger
from gureum.lambda_.services.metrics import LambdaMetrics
from tests.support.model import a_function

SCOPE = ("123456789012", "us-east-1")


def admission(limits: Limits, clock: ManualClock) -> Admission:
    ledger = InProcessLedger(limits)
    return Admission(ledger, LambdaMetrics(ledger), clock.monotonic)


def run(gate: Admission, function: Function) -> str | None:
    """Starts and ends one invocation; the throttle reason when it is refused."""

    async def once() -> str | None:
        try:
            async with gate.lease(function):
                return None
        except TooManyRequests as refused:
            return str(refused.fields["Reason"])

    return asyncio.run(once())


def reserve(gate: Admission, function: Function, reserved: int) -> None:
    asyncio.run(gate.ledger.reserve(SCOPE, function.id, reserved))


def test_a_reserved_function_starts_ten_requests_per_second_per_unit() -> None:
    clock = ManualClock()
    gate = admission(Limits(), clock)
    function = a_function()
    reserve(gate, function, 2)
    assert [run(gate, function) for _ in range(20)] == [None] * 20
    assert run(gate, function) == "ReservedFunctionInvocationRateLimitExceeded"
    clock.advance(0.101)  # a tenth of a second's worth of 20 per second: two more requests
    assert [run(gate, function) for _ in range(3)] == [
        None,
        None,
        "ReservedFunctionInvocationRateLimitExceeded",
    ]
    clock.advance(1.0)
    assert [run(gate, function) for _ in range(20)] == [None] * 20
    assert gate.ledger.outstanding == 0


def test_an_unreserved_function_and_the_account_are_held_to_ten_times_the_account() -> None:
    clock = ManualClock()
    gate = admission(Limits(account=5, unreserved_minimum=1), clock)
    first, second = a_function(), replace(a_function(), id="fn-2", name="other")
    assert [run(gate, first) for _ in range(30)] == [None] * 30
    assert [run(gate, second) for _ in range(20)] == [None] * 20
    # The account's 50 per second are spent, by two functions each under their own 50.
    assert run(gate, second) == "FunctionInvocationRateLimitExceeded"
    assert run(gate, first) == "FunctionInvocationRateLimitExceeded"


def test_a_refused_request_spends_no_rate() -> None:
    clock = ManualClock()
    gate = admission(Limits(), clock)
    function = a_function()
    reserve(gate, function, 1)
    assert [run(gate, function) for _ in range(10)] == [None] * 10
    for _ in range(5):
        assert run(gate, function) == "ReservedFunctionInvocationRateLimitExceeded"
    clock.advance(0.101)
    assert run(gate, function) is None


@pytest.mark.parametrize("reserved", [0])
def test_zero_reservation_is_refused_by_concurrency_not_rate(reserved: int) -> None:
    gate = admission(Limits(), ManualClock())
    function = a_function()
    reserve(gate, function, reserved)
    assert run(gate, function) == "ReservedFunctionConcurrentInvocationLimitExceeded"


class LedgerElsewhere:
    """The in-process ledger dressed as one whose leases expire (as Redis's do), whose
    give-backs are round trips: each waits for `arrived` and is noted in `given`."""

    fence_policy = FencePolicy.for_ttl(3.0, 1.0)
    remote = True

    def __init__(self, limits: Limits) -> None:
        self.inner = InProcessLedger(limits)
        self.arrived = asyncio.Event()
        self.given: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def release(self, lease: Lease) -> None:
        await self.arrived.wait()
        await self.inner.release(lease)
        self.given.append(lease.id)


def test_a_lease_on_a_ledger_elsewhere_is_given_back_after_the_answer() -> None:
    async def scenario() -> None:
        ledger = LedgerElsewhere(Limits())
        port = cast(Ledger, ledger)
        gate = Admission(port, LambdaMetrics(port), ManualClock().monotonic)
        function = a_function()
        async with gate.lease(function) as lease:
            pass
        assert ledger.given == []  # the invocation's answer did not wait for the round trip
        assert ledger.inner.in_flight(SCOPE, function.id) == 1
        ledger.arrived.set()
        await gate.stop()  # waits for the give-backs in flight
        assert ledger.given == [lease.id]
        assert ledger.inner.in_flight(SCOPE, function.id) == 0

    asyncio.run(scenario())


def test_a_lease_in_process_is_given_back_before_the_block_ends() -> None:
    async def scenario() -> None:
        ledger = InProcessLedger(Limits())
        gate = Admission(ledger, LambdaMetrics(ledger), ManualClock().monotonic)
        function = a_function()
        async with gate.lease(function):
            assert ledger.in_flight(SCOPE, function.id) == 1
        assert ledger.in_flight(SCOPE, function.id) == 0

    asyncio.run(scenario())
