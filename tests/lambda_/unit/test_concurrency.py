"""The concurrency ledger (spec 4): pools, throttle reasons, reservations and the scaling rate.

Pure tests over plain values: no server, no clock, no threads. Functions are symbols ("f", "g").
"""

from __future__ import annotations

import pytest

from gureum.aws.errors import ClientError
from gureum.lambda_.domain.concurrency import (
    RATE_EXCEEDED,
    ConcurrencyLedger,
    Limits,
    Pool,
    ThrottleReason,
    TokenBucket,
    check_reservation,
    choose_pool,
    invocation_rate,
    throttled,
)
from gureum.lambda_.domain.errors import InvalidParameterValue, TooManyRequests

BELOW_MINIMUM = (
    "Specified ReservedConcurrentExecutions for function decreases account's "
    "UnreservedConcurrentExecution below its minimum value of [100]."
)
HERE = ("000000000000", "us-east-1")
OTHER_REGION = ("000000000000", "eu-west-1")
OTHER_ACCOUNT = ("111111111111", "us-east-1")
SMALL = Limits(account=5, unreserved_minimum=1)


# --- choose_pool ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limits", "reserved", "function_in_flight", "reserved_total", "unreserved_in_flight", "want"),
    [
        # No reservation: the unreserved pool, which is the account minus every reservation.
        pytest.param(Limits(), None, 0, 0, 0, Pool.UNRESERVED, id="unreserved-idle"),
        pytest.param(Limits(), None, 998, 0, 999, Pool.UNRESERVED, id="unreserved-last-slot"),
        pytest.param(Limits(), None, 0, 0, 1000, ThrottleReason.ACCOUNT, id="unreserved-full"),
        pytest.param(Limits(), None, 0, 900, 99, Pool.UNRESERVED, id="capacity-minus-reserved"),
        pytest.param(Limits(), None, 0, 900, 100, ThrottleReason.ACCOUNT, id="reserved-shrink"),
        pytest.param(SMALL, None, 2, 2, 2, Pool.UNRESERVED, id="small-account-room"),
        pytest.param(SMALL, None, 3, 2, 3, ThrottleReason.ACCOUNT, id="small-account-full"),
        pytest.param(SMALL, None, 0, 5, 0, ThrottleReason.ACCOUNT, id="all-reserved-away"),
        pytest.param(SMALL, None, 0, 7, 0, ThrottleReason.ACCOUNT, id="over-reserved"),
        # A reservation: only the reservation, whatever the unreserved pool looks like.
        pytest.param(Limits(), 2, 0, 2, 0, Pool.RESERVED, id="reserved-2-idle"),
        pytest.param(Limits(), 2, 1, 2, 0, Pool.RESERVED, id="reserved-2-one-running"),
        pytest.param(Limits(), 2, 2, 2, 0, ThrottleReason.RESERVED, id="reserved-2-full"),
        pytest.param(Limits(), 2, 3, 2, 0, ThrottleReason.RESERVED, id="reserved-2-over"),
        pytest.param(Limits(), 0, 0, 0, 0, ThrottleReason.RESERVED, id="reserved-0-disabled"),
        pytest.param(SMALL, 0, 0, 0, 0, ThrottleReason.RESERVED, id="reserved-0-small"),
        pytest.param(Limits(), 2, 0, 2, 998, Pool.RESERVED, id="reserved-ignores-full-unreserved"),
        pytest.param(
            SMALL, 1, 1, 1, 0, ThrottleReason.RESERVED, id="reserved-never-borrows-unreserved"
        ),
        pytest.param(SMALL, 2, 1, 2, 3, Pool.RESERVED, id="noisy-neighbour-cannot-starve"),
    ],
)
def test_choose_pool(
    limits: Limits,
    reserved: int | None,
    function_in_flight: int,
    reserved_total: int,
    unreserved_in_flight: int,
    want: Pool | ThrottleReason,
) -> None:
    got = choose_pool(limits, reserved, function_in_flight, reserved_total, unreserved_in_flight)
    assert got == want


def test_reasons_are_awss_enum_values() -> None:
    assert ThrottleReason.ACCOUNT.value == "ConcurrentInvocationLimitExceeded"
    assert ThrottleReason.RESERVED.value == "ReservedFunctionConcurrentInvocationLimitExceeded"


@pytest.mark.parametrize("reason", list(ThrottleReason))
def test_throttle_error_identity(reason: ThrottleReason) -> None:
    error = throttled(reason)
    assert isinstance(error, TooManyRequests)
    assert isinstance(error, ClientError)  # Type "User" on the wire
    assert (error.code, error.status, error.sender_fault) == ("TooManyRequestsException", 429, True)
    assert error.message == RATE_EXCEEDED == "Rate Exceeded."
    assert error.fields == {"Reason": reason.value}


# --- check_reservation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limits", "reserved_elsewhere", "requested"),
    [
        pytest.param(Limits(), 0, 0, id="zero"),
        pytest.param(Limits(), 0, 1, id="one"),
        pytest.param(Limits(), 0, 900, id="900-of-1000"),
        pytest.param(Limits(), 899, 1, id="others-899-plus-1"),
        pytest.param(Limits(), 900, 0, id="zero-when-full"),
        pytest.param(Limits(), 400, 500, id="sum-900"),
        pytest.param(SMALL, 0, 4, id="small-4-of-5"),
        pytest.param(SMALL, 2, 2, id="small-2-plus-2"),
        pytest.param(Limits(account=100, unreserved_minimum=100), 0, 0, id="nothing-to-reserve"),
    ],
)
def test_reservation_allowed(limits: Limits, reserved_elsewhere: int, requested: int) -> None:
    check_reservation(limits, reserved_elsewhere, requested)


@pytest.mark.parametrize(
    ("reserved_elsewhere", "requested"),
    [
        pytest.param(0, 901, id="901-of-1000"),
        pytest.param(900, 1, id="others-900-plus-1"),
        pytest.param(899, 2, id="others-899-plus-2"),
        pytest.param(450, 451, id="sum-901"),
        pytest.param(0, 1000, id="the-whole-account"),
        pytest.param(0, 1001, id="more-than-the-account"),
        pytest.param(0, 10**9, id="huge"),
    ],
)
def test_reservation_below_minimum(reserved_elsewhere: int, requested: int) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        check_reservation(Limits(), reserved_elsewhere, requested)
    assert caught.value.message == BELOW_MINIMUM
    assert (caught.value.code, caught.value.status) == ("InvalidParameterValueException", 400)


@pytest.mark.parametrize("minimum", [1, 7, 250])
def test_below_minimum_message_names_the_configured_minimum(minimum: int) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        check_reservation(Limits(account=1000, unreserved_minimum=minimum), 0, 1001 - minimum)
    assert caught.value.message.endswith(f"below its minimum value of [{minimum}].")


def test_a_function_replaces_its_own_reservation_through_the_ledger() -> None:
    """The value replaces the function's reservation: only the *others* count against it."""
    ledger = ConcurrencyLedger(Limits())
    ledger.reserve(HERE, "f", 900)
    # f asking again for 900 (or 899, or 1) is measured against what g and h hold: nothing.
    elsewhere_of_f = ledger.reserved_total(HERE) - 900
    for requested in (900, 899, 1, 0):
        check_reservation(Limits(), elsewhere_of_f, requested)
    # g is measured against f's 900.
    with pytest.raises(InvalidParameterValue):
        check_reservation(Limits(), ledger.reserved_total(HERE), 1)
    ledger.reserve(HERE, "f", 899)
    check_reservation(Limits(), ledger.reserved_total(HERE), 1)


# --- the ledger ----------------------------------------------------------------------------


def reason_of(ledger: ConcurrencyLedger, scope: tuple[str, str], function_id: str) -> str:
    with pytest.raises(TooManyRequests) as caught:
        ledger.acquire(scope, function_id)
    assert caught.value.message == "Rate Exceeded."
    reason = caught.value.fields["Reason"]
    assert isinstance(reason, str)
    return reason


def test_acquire_and_release_count_in_flight() -> None:
    ledger = ConcurrencyLedger(SMALL)
    first = ledger.acquire(HERE, "f")
    second = ledger.acquire(HERE, "f")
    third = ledger.acquire(HERE, "g")
    assert (first.pool, third.pool) == (Pool.UNRESERVED, Pool.UNRESERVED)
    assert len({first.id, second.id, third.id}) == 3
    assert (first.scope, first.function_id) == (HERE, "f")
    assert ledger.in_flight(HERE) == 3
    assert ledger.in_flight(HERE, "f") == 2
    assert ledger.in_flight(HERE, "g") == 1
    assert ledger.unreserved_in_flight(HERE) == 3
    assert ledger.outstanding == 3
    for lease in (first, second, third):
        ledger.release(lease)
    assert ledger.outstanding == 0
    assert ledger.in_flight(HERE) == 0
    assert ledger.in_flight(HERE, "f") == 0
    assert ledger.unreserved_in_flight(HERE) == 0


def test_release_twice_raises() -> None:
    ledger = ConcurrencyLedger(SMALL)
    lease = ledger.acquire(HERE, "f")
    ledger.release(lease)
    with pytest.raises(KeyError, match="already released"):
        ledger.release(lease)
    assert ledger.outstanding == 0
    assert ledger.in_flight(HERE, "f") == 0


def test_account_limit_throttles_every_unreserved_function() -> None:
    ledger = ConcurrencyLedger(SMALL)
    leases = [ledger.acquire(HERE, name) for name in ("f", "f", "f", "g", "g")]
    assert reason_of(ledger, HERE, "f") == "ConcurrentInvocationLimitExceeded"
    assert reason_of(ledger, HERE, "g") == "ConcurrentInvocationLimitExceeded"
    assert reason_of(ledger, HERE, "new") == "ConcurrentInvocationLimitExceeded"
    assert ledger.outstanding == 5  # a refusal takes nothing
    ledger.release(leases[0])
    assert ledger.acquire(HERE, "g").pool is Pool.UNRESERVED


def test_reserved_function_is_limited_by_its_reservation() -> None:
    ledger = ConcurrencyLedger(SMALL)
    ledger.reserve(HERE, "f", 2)
    leases = [ledger.acquire(HERE, "f"), ledger.acquire(HERE, "f")]
    assert {lease.pool for lease in leases} == {Pool.RESERVED}
    assert ledger.unreserved_in_flight(HERE) == 0
    for _ in range(4):
        assert reason_of(ledger, HERE, "f") == "ReservedFunctionConcurrentInvocationLimitExceeded"
    ledger.release(leases[1])
    assert ledger.acquire(HERE, "f").pool is Pool.RESERVED


def test_reserved_zero_disables_the_function() -> None:
    ledger = ConcurrencyLedger(SMALL)
    ledger.reserve(HERE, "f", 0)
    assert reason_of(ledger, HERE, "f") == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert ledger.outstanding == 0
    assert ledger.reserved_total(HERE) == 0
    assert ledger.unreserved_capacity(HERE) == 5
    ledger.reserve(HERE, "f", None)  # DeleteFunctionConcurrency: runs again, unreserved
    assert ledger.acquire(HERE, "f").pool is Pool.UNRESERVED


def test_noisy_neighbour_cannot_take_a_reservation() -> None:
    ledger = ConcurrencyLedger(SMALL)
    ledger.reserve(HERE, "b", 2)
    assert ledger.unreserved_capacity(HERE) == 3
    noisy = [ledger.acquire(HERE, "a") for _ in range(3)]
    assert reason_of(ledger, HERE, "a") == "ConcurrentInvocationLimitExceeded"
    quiet = [ledger.acquire(HERE, "b"), ledger.acquire(HERE, "b")]
    assert {lease.pool for lease in quiet} == {Pool.RESERVED}
    # b never spills into the unreserved pool either.
    assert reason_of(ledger, HERE, "b") == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert ledger.in_flight(HERE) == 5
    for lease in noisy + quiet:
        ledger.release(lease)
    assert ledger.outstanding == 0


def test_reservations_change_unreserved_capacity() -> None:
    ledger = ConcurrencyLedger(Limits())
    assert ledger.unreserved_capacity(HERE) == 1000
    ledger.reserve(HERE, "f", 300)
    ledger.reserve(HERE, "g", 200)
    ledger.reserve(HERE, "h", 0)
    assert ledger.reserved_total(HERE) == 500
    assert ledger.unreserved_capacity(HERE) == 500
    ledger.reserve(HERE, "f", 100)  # replaces, does not add
    assert ledger.reserved_total(HERE) == 300
    ledger.reserve(HERE, "g", None)
    ledger.reserve(HERE, "never-reserved", None)  # deleting nothing is harmless
    assert ledger.unreserved_capacity(HERE) == 900


def test_scopes_are_independent() -> None:
    """Concurrency is per account and per region: each scope has the whole limit."""
    ledger = ConcurrencyLedger(SMALL)
    ledger.reserve(HERE, "f", 4)
    assert ledger.unreserved_capacity(HERE) == 1
    assert ledger.unreserved_capacity(OTHER_REGION) == 5
    assert ledger.unreserved_capacity(OTHER_ACCOUNT) == 5
    # The same function id elsewhere has no reservation there.
    elsewhere = [ledger.acquire(OTHER_REGION, "f") for _ in range(5)]
    assert {lease.pool for lease in elsewhere} == {Pool.UNRESERVED}
    assert reason_of(ledger, OTHER_REGION, "f") == "ConcurrentInvocationLimitExceeded"
    # ... and filling one scope takes nothing from the others.
    assert ledger.acquire(HERE, "g").pool is Pool.UNRESERVED
    assert ledger.acquire(HERE, "f").pool is Pool.RESERVED
    other = [ledger.acquire(OTHER_ACCOUNT, "g") for _ in range(5)]
    assert ledger.in_flight(HERE) == 2
    assert ledger.in_flight(OTHER_REGION) == 5
    assert ledger.in_flight(OTHER_ACCOUNT) == 5
    assert set(ledger.scopes()) == {HERE, OTHER_REGION, OTHER_ACCOUNT}
    for lease in elsewhere + other:
        ledger.release(lease)
    assert ledger.in_flight(OTHER_REGION) == 0
    assert ledger.outstanding == 2


def test_release_gives_back_to_the_pool_it_came_from() -> None:
    """A reservation set while a lease runs does not lose track of the unreserved one."""
    ledger = ConcurrencyLedger(SMALL)
    unreserved = ledger.acquire(HERE, "f")
    ledger.reserve(HERE, "f", 2)
    reserved = ledger.acquire(HERE, "f")
    assert (unreserved.pool, reserved.pool) == (Pool.UNRESERVED, Pool.RESERVED)
    # The running unreserved execution counts against the new reservation too.
    assert reason_of(ledger, HERE, "f") == "ReservedFunctionConcurrentInvocationLimitExceeded"
    ledger.release(unreserved)
    assert ledger.unreserved_in_flight(HERE) == 0
    ledger.release(reserved)
    assert ledger.in_flight(HERE) == 0
    assert ledger.outstanding == 0


OVERCOMMIT = (
    "spec 4.4.2 counts in-use concurrency as Σ reserved + on-demand executions of unreserved "
    "functions; the ledger counts the unreserved pool by Lease.pool, so leases drawn from a "
    "reservation that is then removed count nowhere and the account is overcommitted "
    "(domain/concurrency.py choose_pool / ConcurrencyLedger.acquire)"
)


def test_removing_a_reservation_keeps_its_executions_in_the_account() -> None:
    ledger = ConcurrencyLedger(SMALL)
    ledger.reserve(HERE, "f", 2)
    ledger.acquire(HERE, "f")
    ledger.acquire(HERE, "f")
    ledger.reserve(HERE, "f", None)  # DeleteFunctionConcurrency, or DeleteFunction
    # f's two executions still run: the account of 5 has room for three more.
    for _ in range(3):
        ledger.acquire(HERE, "g")
    assert reason_of(ledger, HERE, "g") == "ConcurrentInvocationLimitExceeded"
    assert ledger.in_flight(HERE) == SMALL.account


def test_many_leases_all_come_back() -> None:
    ledger = ConcurrencyLedger(Limits())
    ledger.reserve(HERE, "r", 50)
    leases = [ledger.acquire(HERE, f"fn-{n % 7}") for n in range(950)]
    leases += [ledger.acquire(HERE, "r") for _ in range(50)]
    assert ledger.outstanding == 1000
    assert reason_of(ledger, HERE, "fn-0") == "ConcurrentInvocationLimitExceeded"
    assert reason_of(ledger, HERE, "r") == "ReservedFunctionConcurrentInvocationLimitExceeded"
    for lease in reversed(leases):
        ledger.release(lease)
    assert ledger.outstanding == 0
    assert ledger.in_flight(HERE) == 0
    assert ledger.unreserved_in_flight(HERE) == 0


# --- the scaling rate ----------------------------------------------------------------------


def take_all(bucket: TokenBucket, now: float, tries: int) -> tuple[TokenBucket, int]:
    granted = 0
    for _ in range(tries):
        bucket, allowed = bucket.take(now)
        granted += allowed
    return bucket, granted


def test_bucket_starts_full() -> None:
    bucket = TokenBucket.full(1000, 10.0, now=50.0)
    assert (bucket.capacity, bucket.period, bucket.tokens, bucket.updated) == (
        1000,
        10.0,
        1000,
        50.0,
    )
    _, granted = take_all(bucket, 50.0, 1500)
    assert granted == 1000


@pytest.mark.parametrize(
    ("elapsed", "granted"),
    [
        pytest.param(0.0, 0, id="none-at-once"),
        pytest.param(0.009, 0, id="under-one-token"),
        pytest.param(0.01, 1, id="one-token-per-10ms"),
        pytest.param(1.0, 100, id="a-tenth-of-the-period"),
        pytest.param(5.0, 500, id="half-the-period"),
        pytest.param(10.0, 1000, id="the-whole-period"),
        pytest.param(3600.0, 1000, id="never-more-than-capacity"),
    ],
)
def test_bucket_refills_continuously(elapsed: float, granted: int) -> None:
    bucket, _ = take_all(TokenBucket.full(1000, 10.0, now=0.0), 0.0, 1000)
    assert bucket.tokens == 0
    _, got = take_all(bucket, elapsed, 2000)
    assert got == granted


def test_bucket_fractions_accumulate_across_refusals() -> None:
    """A refused take keeps the partial token: refill is continuous, not in steps."""
    bucket, _ = take_all(TokenBucket.full(2, 60.0, now=0.0), 0.0, 2)
    bucket, allowed = bucket.take(15.0)  # half a token
    assert not allowed
    assert bucket.tokens == pytest.approx(0.5)
    bucket, allowed = bucket.take(30.0)  # the other half
    assert allowed
    assert bucket.tokens == pytest.approx(0.0)


def test_bucket_does_not_accumulate_unused_allowance() -> None:
    bucket = TokenBucket.full(2, 60.0, now=0.0)
    bucket, allowed = bucket.take(10_000.0)
    assert allowed
    assert bucket.tokens == 1
    _, granted = take_all(bucket, 10_000.0, 5)
    assert granted == 1


def test_three_cold_starts_against_two_per_minute() -> None:
    """The contract test's numbers: `--scaling-limit 2 --scaling-period 60`."""
    bucket = TokenBucket.full(2, 60.0, now=100.0)
    results = []
    for _ in range(3):
        bucket, allowed = bucket.take(100.0)
        results.append(allowed)
    assert results == [True, True, False]
    _, allowed = bucket.take(129.0)
    assert not allowed
    _, allowed = bucket.take(130.0)
    assert allowed


@pytest.mark.parametrize("time_scale", [1.0, 0.1, 0.01])
def test_bucket_period_scales(time_scale: float) -> None:
    """`--time-scale` shortens the period (Settings.scaled): the same tokens arrive sooner."""
    period = 10.0 * time_scale
    bucket, _ = take_all(TokenBucket.full(10, period, now=0.0), 0.0, 10)
    _, granted = take_all(bucket, period / 2, 20)
    assert granted == 5
    _, granted = take_all(bucket, period, 20)
    assert granted == 10


def test_bucket_ignores_a_clock_going_backwards() -> None:
    bucket, _ = take_all(TokenBucket.full(3, 10.0, now=100.0), 100.0, 3)
    bucket, allowed = bucket.take(50.0)
    assert not allowed
    assert bucket.tokens == 0


def test_bucket_with_zero_period_never_limits() -> None:
    _, granted = take_all(TokenBucket.full(1, 0.0, now=0.0), 0.0, 50)
    assert granted == 50


def test_bucket_is_a_value() -> None:
    bucket = TokenBucket.full(2, 10.0, now=0.0)
    after, _ = bucket.take(0.0)
    assert bucket.tokens == 2
    assert after.tokens == 1
    with pytest.raises(AttributeError):
        bucket.tokens = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("limits", "reserved", "expected"),
    [
        pytest.param(Limits(), None, (10_000, ThrottleReason.FUNCTION_RATE), id="unreserved"),
        pytest.param(SMALL, None, (50, ThrottleReason.FUNCTION_RATE), id="small-account"),
        pytest.param(Limits(), 3, (30, ThrottleReason.RESERVED_RATE), id="reserved-3"),
        pytest.param(Limits(), 0, None, id="reserved-0-is-concurrency"),
    ],
)
def test_invocation_rate(
    limits: Limits, reserved: int | None, expected: tuple[int, ThrottleReason] | None
) -> None:
    assert invocation_rate(limits, reserved) == expected
