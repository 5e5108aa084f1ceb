"""Provisioned concurrency's pure core (spec 6.3, 4.2, 4.4): the configuration's state machine,
the weighted split, the one-config-per-version rule, the room rules and the ledger's pools.

Table-driven, over plain values: no server, no clock. Functions are symbols ("f", "g").
"""

from __future__ import annotations

import pytest

from gureum.lambda_.domain.concurrency import (
    ConcurrencyLedger,
    Limits,
    Pool,
    ThrottleReason,
    choose_pool,
)
from gureum.lambda_.domain.errors import (
    InvalidParameterValue,
    ResourceConflict,
    TooManyRequests,
)
from gureum.lambda_.domain.provisioned import (
    ABOVE_RESERVED,
    ALIAS_ON_PROVISIONED_VERSION,
    ALLOCATION_RATE,
    INIT_FAILURE,
    VERSION_UNDER_ALIAS,
    AccountRoom,
    ProvisionedConfig,
    ProvisionedStatus,
    check_coverage,
    check_reserved_above_provisioned,
    check_room,
    pace,
    split,
)

HERE = ("000000000000", "us-east-1")
STAMP = "2019-11-21T19:32:12+0000"
IN_PROGRESS, READY, FAILED = (
    ProvisionedStatus.IN_PROGRESS,
    ProvisionedStatus.READY,
    ProvisionedStatus.FAILED,
)

# --- the state machine -----------------------------------------------------------------------


def config(status: ProvisionedStatus, requested: int = 3) -> ProvisionedConfig:
    allocated = requested if status is READY else 0
    reason = INIT_FAILURE if status is FAILED else None
    return ProvisionedConfig("1", requested, STAMP, status, allocated, reason)


@pytest.mark.parametrize(
    ("start", "move", "want"),
    [
        (IN_PROGRESS, "ready", (READY, 3, None)),
        (IN_PROGRESS, "failed", (FAILED, 0, INIT_FAILURE)),
        (IN_PROGRESS, "allocating", (IN_PROGRESS, 0, None)),
        (READY, "allocating", (IN_PROGRESS, 0, None)),  # an alias moved, a restart
        (READY, "ready", (READY, 3, None)),
        (FAILED, "allocating", (IN_PROGRESS, 0, None)),  # a new Put
    ],
)
def test_legal_moves(
    start: ProvisionedStatus, move: str, want: tuple[ProvisionedStatus, int, str | None]
) -> None:
    moved = getattr(config(start), move)()
    assert (moved.status, moved.allocated, moved.reason) == want


@pytest.mark.parametrize(("start", "move"), [(READY, "failed"), (FAILED, "ready")])
def test_illegal_moves_raise(start: ProvisionedStatus, move: str) -> None:
    with pytest.raises(ValueError, match="is not allowed"):
        getattr(config(start), move)()


def test_a_new_config_is_in_progress_with_nothing_allocated() -> None:
    fresh = ProvisionedConfig("live", 5, STAMP)
    assert (fresh.status, fresh.allocated, fresh.reason) == (IN_PROGRESS, 0, None)


# --- the weighted split ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "weights", "want"),
    [
        (4, {}, {"1": 4}),
        (2, {"2": 0.5}, {"1": 1, "2": 1}),
        (10, {"2": 0.1}, {"1": 9, "2": 1}),
        (3, {"2": 0.5}, {"1": 2, "2": 1}),  # a tie goes to the primary
        (1, {"2": 0.5}, {"1": 1}),
        (1, {"2": 0.9}, {"2": 1}),
        (7, {"2": 0.25}, {"1": 5, "2": 2}),  # 5.25 and 1.75: the larger remainder wins
        (100, {"2": 0.05}, {"1": 95, "2": 5}),
    ],
)
def test_split_sums_to_the_request(
    requested: int, weights: dict[str, float], want: dict[str, int]
) -> None:
    got = split(requested, "1", weights)
    assert got == want
    assert sum(got.values()) == requested


# --- one configuration per version -----------------------------------------------------------


@pytest.mark.parametrize(
    ("qualifier", "is_alias", "versions", "covered_by", "want"),
    [
        ("1", False, {"1"}, {}, None),
        ("1", False, {"1"}, {"1": "1"}, None),  # its own config: an update
        ("1", False, {"1"}, {"1": "live"}, VERSION_UNDER_ALIAS),
        ("live", True, {"1"}, {"1": "1"}, ALIAS_ON_PROVISIONED_VERSION),
        ("live", True, {"1"}, {"1": "other"}, ALIAS_ON_PROVISIONED_VERSION),
        ("live", True, {"1", "2"}, {"2": "2"}, ALIAS_ON_PROVISIONED_VERSION),
        ("live", True, {"1"}, {"2": "2"}, None),
        ("live", True, {"1"}, {"1": "live"}, None),
    ],
)
def test_coverage(
    qualifier: str,
    is_alias: bool,
    versions: set[str],
    covered_by: dict[str, str],
    want: str | None,
) -> None:
    if want is None:
        check_coverage(qualifier, is_alias, frozenset(versions), covered_by)
        return
    with pytest.raises(ResourceConflict) as caught:
        check_coverage(qualifier, is_alias, frozenset(versions), covered_by)
    assert caught.value.message == want


# --- room: the reservation, or the unreserved pool and its minimum -----------------------------

ROOM = AccountRoom(account=1000, unreserved_minimum=100, reserved_total=0, unreserved_provisioned=0)
OVER = (
    "Specified ConcurrentExecutions for function is greater than account's unreserved "
    "concurrency [{}]."
)
BELOW = (
    "Specified ConcurrentExecutions for function decreases account's "
    "UnreservedConcurrentExecution below its minimum value of [100]."
)


@pytest.mark.parametrize(
    ("requested", "others", "reserved", "room", "want"),
    [
        (5, 0, 5, ROOM, None),
        (6, 0, 5, ROOM, ABOVE_RESERVED),
        (3, 2, 5, ROOM, None),
        (4, 2, 5, ROOM, ABOVE_RESERVED),  # the function's other configs count
        (900, 0, None, ROOM, None),
        (901, 0, None, ROOM, BELOW),
        (1001, 0, None, ROOM, OVER.format(1000)),
        (500, 0, None, AccountRoom(1000, 100, 400, 0), None),
        (501, 0, None, AccountRoom(1000, 100, 400, 0), BELOW),
        (601, 0, None, AccountRoom(1000, 100, 300, 100), OVER.format(600)),
        (1, 899, None, ROOM, None),  # exactly the minimum left
        (2, 899, None, ROOM, BELOW),
    ],
)
def test_room(
    requested: int, others: int, reserved: int | None, room: AccountRoom, want: str | None
) -> None:
    if want is None:
        check_room(requested, others, reserved, room)
        return
    with pytest.raises(InvalidParameterValue) as caught:
        check_room(requested, others, reserved, room)
    assert caught.value.message == want


def test_reserved_may_not_go_under_provisioned() -> None:
    check_reserved_above_provisioned(2, 2)
    with pytest.raises(InvalidParameterValue) as caught:
        check_reserved_above_provisioned(1, 2)
    assert caught.value.message == (
        " ReservedConcurrentExecutions  1 should not be lower than function's total provisioned "
        "concurrency [2]."
    )


# --- the ledger ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reserved", "on_demand", "provisioned", "unreserved_provisioned", "want"),
    [
        (5, 2, 3, 0, ThrottleReason.RESERVED),  # reserved - provisioned = 2, both in use
        (5, 1, 3, 0, Pool.RESERVED),
        (3, 0, 3, 0, ThrottleReason.RESERVED),  # Σ provisioned == reserved: $LATEST never runs
        (None, 6, 0, 4, ThrottleReason.ACCOUNT),  # 10 - 4 provisioned elsewhere = 6
        (None, 5, 0, 4, Pool.UNRESERVED),
    ],
)
def test_choose_pool_with_provisioned(
    reserved: int | None,
    on_demand: int,
    provisioned: int,
    unreserved_provisioned: int,
    want: Pool | ThrottleReason,
) -> None:
    limits = Limits(account=10, unreserved_minimum=1)
    got = choose_pool(
        limits, reserved, on_demand, 0, on_demand, provisioned, unreserved_provisioned
    )
    assert got == want


def test_provisioned_leases_are_never_refused_and_count_in_flight() -> None:
    ledger = ConcurrencyLedger(Limits(account=10, unreserved_minimum=1))
    ledger.reserve(HERE, "f", 2)
    ledger.provision(HERE, "f", 2)
    with pytest.raises(TooManyRequests):
        ledger.acquire(HERE, "f")  # on demand: reserved 2 - provisioned 2 leaves none
    leases = [ledger.acquire_provisioned(HERE, "f") for _ in range(2)]
    assert {lease.pool for lease in leases} == {Pool.PROVISIONED}
    assert ledger.in_flight(HERE, "f") == 2
    for lease in leases:
        ledger.release(lease)
    assert ledger.outstanding == 0
    assert ledger.in_flight(HERE, "f") == 0


def test_unreserved_provisioned_shrinks_the_pool() -> None:
    ledger = ConcurrencyLedger(Limits(account=10, unreserved_minimum=1))
    ledger.provision(HERE, "f", 4)
    assert ledger.unreserved_capacity(HERE) == 6
    # Executions on provisioned environments are not on-demand ones of the pool.
    provisioned = ledger.acquire_provisioned(HERE, "f")
    leases = [ledger.acquire(HERE, "g") for _ in range(6)]
    with pytest.raises(TooManyRequests) as caught:
        ledger.acquire(HERE, "g")
    assert caught.value.fields["Reason"] == ThrottleReason.ACCOUNT.value
    for lease in [provisioned, *leases]:
        ledger.release(lease)
    # A reservation holds the function's provisioned concurrency instead.
    ledger.reserve(HERE, "f", 4)
    assert ledger.unreserved_capacity(HERE) == 6
    ledger.provision(HERE, "f", 0)
    assert ledger.provisioned(HERE, "f") == 0


# --- pacing: 6,000 environments a minute per function, scaled ----------------------------------


@pytest.mark.parametrize("scale", [1.0, 0.01])
def test_allocation_is_paced(scale: float) -> None:
    rate = (ALLOCATION_RATE[0], ALLOCATION_RATE[1] * scale)
    bucket, now = None, 0.0
    for _ in range(6000):  # a full minute's worth at once
        bucket, wait = pace(bucket, rate, now)
        assert wait == 0
    bucket, wait = pace(bucket, rate, now)
    assert wait == pytest.approx(0.01 * scale)  # one more every 60/6000 s
    bucket, wait = pace(bucket, rate, now + wait)
    assert wait == 0
