"""One contract for the Ledger port, run against both adapters: in process and on Redis (#24).

Table-driven from the pure ledger's unit tests (`unit/test_concurrency.py`,
`unit/test_provisioned.py`) and admission's (`service/test_admission.py`): each case is a
list of steps and what each one answers, and both ledgers must answer the same. The Redis
ledger runs on the test run's own redis-server, each test under a prefix of its own.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

from gureum.lambda_.domain.concurrency import Lease, Limits
from gureum.lambda_.domain.errors import TooManyRequests
from gureum.lambda_.services.ledger import InProcessLedger, Ledger
from gureum.lambda_.store.redis_ledger import RedisLedger
from tests.support.redis import RedisServer

HERE = ("000000000000", "us-east-1")
OTHER_REGION = ("000000000000", "eu-west-1")
OTHER_ACCOUNT = ("111111111111", "us-east-1")
SMALL = Limits(account=5, unreserved_minimum=1)
TEN = Limits(account=10, unreserved_minimum=1)

MakeLedger = Callable[[Limits], Ledger]
T = TypeVar("T")
_prefixes = itertools.count()


@pytest.fixture(params=["in-process", "redis"])
def make_ledger(request: pytest.FixtureRequest) -> Iterator[MakeLedger]:
    if request.param == "in-process":
        yield InProcessLedger
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    prefix = f"test:{next(_prefixes)}:{request.node.name}:"
    yield lambda limits: RedisLedger(server.url, limits, prefix=prefix)


def drive(make: MakeLedger, limits: Limits, scenario: Callable[[Ledger], Awaitable[T]]) -> T:
    """Runs `scenario` with a new ledger on a loop of its own (redis-py's connections belong
    to the loop that made them)."""

    async def main() -> T:
        ledger = make(limits)
        try:
            return await scenario(ledger)
        finally:
            await ledger.close()

    return asyncio.run(main())


# --- the table -------------------------------------------------------------------------------
# Steps: ("reserve", scope, function, value | None), ("provision", scope, function, total),
# ("admit", scope, function, want) where want is the lease's pool or the throttle reason,
# ("provisioned", scope, function), ("release", n) of the n-th lease granted,
# ("running", scope, function | None, n), ("unreserved", scope, n), ("outstanding", n).
# Concurrency cases admit with a rate period of 0 (no rate applies).

RESERVED = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT = "ConcurrentInvocationLimitExceeded"

CASES: dict[str, tuple[Limits, list[tuple[Any, ...]]]] = {
    "acquire and release count in flight": (
        SMALL,
        [
            ("admit", HERE, "f", "unreserved"),
            ("admit", HERE, "f", "unreserved"),
            ("admit", HERE, "g", "unreserved"),
            ("running", HERE, None, 3),
            ("running", HERE, "f", 2),
            ("running", HERE, "g", 1),
            ("unreserved", HERE, 3),
            ("outstanding", 3),
            ("release", 0),
            ("release", 1),
            ("release", 2),
            ("outstanding", 0),
            ("running", HERE, None, 0),
            ("unreserved", HERE, 0),
        ],
    ),
    "the account limit throttles every unreserved function": (
        SMALL,
        [
            *[("admit", HERE, name, "unreserved") for name in ("f", "f", "f", "g", "g")],
            ("admit", HERE, "f", ACCOUNT),
            ("admit", HERE, "g", ACCOUNT),
            ("admit", HERE, "new", ACCOUNT),
            ("outstanding", 5),  # a refusal takes nothing
            ("release", 0),
            ("admit", HERE, "g", "unreserved"),
        ],
    ),
    "a reserved function is limited by its reservation": (
        SMALL,
        [
            ("reserve", HERE, "f", 2),
            ("admit", HERE, "f", "reserved"),
            ("admit", HERE, "f", "reserved"),
            ("unreserved", HERE, 0),
            *[("admit", HERE, "f", RESERVED)] * 4,
            ("release", 1),
            ("admit", HERE, "f", "reserved"),
        ],
    ),
    "a reservation of zero disables the function": (
        SMALL,
        [
            ("reserve", HERE, "f", 0),
            ("admit", HERE, "f", RESERVED),
            ("outstanding", 0),
            ("reserve", HERE, "f", None),  # DeleteFunctionConcurrency: runs again, unreserved
            ("admit", HERE, "f", "unreserved"),
        ],
    ),
    "a noisy neighbour cannot take a reservation": (
        SMALL,
        [
            ("reserve", HERE, "b", 2),
            *[("admit", HERE, "a", "unreserved")] * 3,
            ("admit", HERE, "a", ACCOUNT),
            ("admit", HERE, "b", "reserved"),
            ("admit", HERE, "b", "reserved"),
            ("admit", HERE, "b", RESERVED),  # b never spills into the unreserved pool
            ("running", HERE, None, 5),
        ],
    ),
    "scopes are independent": (
        SMALL,
        [
            ("reserve", HERE, "f", 4),
            *[("admit", OTHER_REGION, "f", "unreserved")] * 5,
            ("admit", OTHER_REGION, "f", ACCOUNT),
            ("admit", HERE, "g", "unreserved"),
            ("admit", HERE, "f", "reserved"),
            *[("admit", OTHER_ACCOUNT, "g", "unreserved")] * 5,
            ("running", HERE, None, 2),
            ("running", OTHER_REGION, None, 5),
            ("running", OTHER_ACCOUNT, None, 5),
            *[("release", n) for n in range(5)],
            ("running", OTHER_REGION, None, 0),
        ],
    ),
    "a release gives back to the pool it came from": (
        SMALL,
        [
            ("admit", HERE, "f", "unreserved"),
            ("reserve", HERE, "f", 2),
            ("admit", HERE, "f", "reserved"),
            # The running unreserved execution counts against the new reservation too.
            ("admit", HERE, "f", RESERVED),
            ("release", 0),
            ("unreserved", HERE, 0),
            ("release", 1),
            ("running", HERE, None, 0),
            ("outstanding", 0),
        ],
    ),
    "removing a reservation keeps its executions in the account": (
        SMALL,
        [
            ("reserve", HERE, "f", 2),
            ("admit", HERE, "f", "reserved"),
            ("admit", HERE, "f", "reserved"),
            ("reserve", HERE, "f", None),
            *[("admit", HERE, "g", "unreserved")] * 3,
            ("admit", HERE, "g", ACCOUNT),
            ("running", HERE, None, 5),
            ("unreserved", HERE, 5),
        ],
    ),
    "provisioned leases are never refused and count in flight": (
        TEN,
        [
            ("reserve", HERE, "f", 2),
            ("provision", HERE, "f", 2),
            ("admit", HERE, "f", RESERVED),  # reserved 2 - provisioned 2 leaves none on demand
            ("provisioned", HERE, "f"),
            ("provisioned", HERE, "f"),
            ("running", HERE, "f", 2),
            ("release", 0),
            ("release", 1),
            ("running", HERE, "f", 0),
            ("outstanding", 0),
        ],
    ),
    "unreserved provisioned concurrency shrinks the pool": (
        TEN,
        [
            ("provision", HERE, "f", 4),
            ("provisioned", HERE, "f"),  # not an on-demand execution of the pool
            *[("admit", HERE, "g", "unreserved")] * 6,
            ("admit", HERE, "g", ACCOUNT),
            ("unreserved", HERE, 6),
            ("provision", HERE, "f", 0),
            ("admit", HERE, "g", "unreserved"),
        ],
    ),
}


async def _play(ledger: Ledger, steps: list[tuple[Any, ...]]) -> list[object]:
    """Each step's answer, for comparison with what the table wants."""
    leases: list[Lease] = []
    answers: list[object] = []
    for step in steps:
        match step:
            case ("reserve", scope, function, value):
                await ledger.reserve(scope, function, value)
                answers.append(value)
            case ("provision", scope, function, total):
                await ledger.provision(scope, function, total)
                answers.append(total)
            case ("admit", scope, function, _):
                try:
                    lease = await ledger.admit(scope, function, 0.0, 0.0)
                except TooManyRequests as refused:
                    answers.append((refused.message, refused.fields["Reason"]))
                else:
                    leases.append(lease)
                    answers.append(lease.pool.value)
            case ("provisioned", scope, function):
                leases.append(await ledger.admit_provisioned(scope, function))
                answers.append(leases[-1].pool.value)
            case ("release", n):
                await ledger.release(leases[n])
                answers.append(n)
            case ("running", scope, function, _):
                await ledger.keep()
                answers.append(ledger.in_flight(scope, function))
            case ("unreserved", scope, _):
                await ledger.keep()
                answers.append(ledger.unreserved_in_flight(scope))
            case ("outstanding", _):
                answers.append(ledger.outstanding)
    return answers


def _wanted(steps: list[tuple[Any, ...]]) -> list[object]:
    wanted: list[object] = []
    for step in steps:
        if step[0] == "provisioned":
            wanted.append("provisioned")
        elif step[0] == "release":
            wanted.append(step[1])
        elif step[0] == "admit" and step[-1] not in ("reserved", "unreserved"):
            wanted.append(("Rate Exceeded.", step[-1]))
        else:
            wanted.append(step[-1])
    return wanted


@pytest.mark.parametrize("case", list(CASES))
def test_concurrency(make_ledger: MakeLedger, case: str) -> None:
    limits, steps = CASES[case]
    assert drive(make_ledger, limits, lambda ledger: _play(ledger, steps)) == _wanted(steps)


def test_lease_ids_are_distinct_and_name_their_function(make_ledger: MakeLedger) -> None:
    async def scenario(ledger: Ledger) -> None:
        leases = [await ledger.admit(HERE, name, 0.0, 0.0) for name in ("f", "f", "g")]
        assert len({lease.id for lease in leases}) == 3
        assert (leases[0].scope, leases[0].function_id) == (HERE, "f")

    drive(make_ledger, SMALL, scenario)


def test_release_twice_raises(make_ledger: MakeLedger) -> None:
    async def scenario(ledger: Ledger) -> None:
        lease = await ledger.admit(HERE, "f", 0.0, 0.0)
        await ledger.release(lease)
        with pytest.raises(KeyError, match="already released"):
            await ledger.release(lease)
        await ledger.keep()
        assert (ledger.outstanding, ledger.in_flight(HERE, "f")) == (0, 0)

    drive(make_ledger, SMALL, scenario)


def test_many_leases_all_come_back(make_ledger: MakeLedger) -> None:
    async def scenario(ledger: Ledger) -> None:
        await ledger.reserve(HERE, "r", 50)
        leases = [await ledger.admit(HERE, f"fn-{n % 7}", 0.0, 0.0) for n in range(950)]
        leases += [await ledger.admit(HERE, "r", 0.0, 0.0) for _ in range(50)]
        assert ledger.outstanding == 1000
        for function, reason in (("fn-0", ACCOUNT), ("r", RESERVED)):
            with pytest.raises(TooManyRequests) as caught:
                await ledger.admit(HERE, function, 0.0, 0.0)
            assert caught.value.fields["Reason"] == reason
        for lease in reversed(leases):
            await ledger.release(lease)
        await ledger.keep()
        assert (ledger.outstanding, ledger.in_flight(HERE), ledger.unreserved_in_flight(HERE)) == (
            0,
            0,
            0,
        )

    drive(make_ledger, Limits(), scenario)


# --- the rates: the caller's clock, as admission passes it ----------------------------------

RATE = "ReservedFunctionInvocationRateLimitExceeded"


async def _admit_at(ledger: Ledger, function: str, now: float) -> str | None:
    """Starts and ends one invocation at `now` (rate period: one second)."""
    try:
        lease = await ledger.admit(HERE, function, now, 1.0)
    except TooManyRequests as refused:
        return str(refused.fields["Reason"])
    await ledger.release(lease)
    return None


def test_a_reserved_function_starts_ten_requests_per_second_per_unit(
    make_ledger: MakeLedger,
) -> None:
    async def scenario(ledger: Ledger) -> list[str | None]:
        await ledger.reserve(HERE, "f", 2)
        answers = [await _admit_at(ledger, "f", 100.0) for _ in range(21)]
        # A tenth of a second's worth of 20 per second: two more requests.
        answers += [await _admit_at(ledger, "f", 100.101) for _ in range(3)]
        answers += [await _admit_at(ledger, "f", 101.101) for _ in range(20)]
        return answers

    assert (
        drive(make_ledger, Limits(), scenario)
        == [None] * 20 + [RATE, None, None, RATE] + [None] * 20
    )


def test_an_unreserved_function_and_the_account_share_ten_times_the_account(
    make_ledger: MakeLedger,
) -> None:
    async def scenario(ledger: Ledger) -> list[str | None]:
        answers = [await _admit_at(ledger, "f", 5.0) for _ in range(30)]
        answers += [await _admit_at(ledger, "g", 5.0) for _ in range(20)]
        answers += [await _admit_at(ledger, "g", 5.0), await _admit_at(ledger, "f", 5.0)]
        return answers

    limit = "FunctionInvocationRateLimitExceeded"
    assert drive(make_ledger, SMALL, scenario) == [None] * 50 + [limit, limit]


def test_a_refused_request_spends_no_rate(make_ledger: MakeLedger) -> None:
    async def scenario(ledger: Ledger) -> list[str | None]:
        await ledger.reserve(HERE, "f", 1)
        answers = [await _admit_at(ledger, "f", 7.0) for _ in range(15)]
        return [*answers, await _admit_at(ledger, "f", 7.101)]

    assert drive(make_ledger, Limits(), scenario) == [None] * 10 + [RATE] * 5 + [None]


def test_a_zero_reservation_is_refused_by_concurrency_not_rate(make_ledger: MakeLedger) -> None:
    async def scenario(ledger: Ledger) -> str | None:
        await ledger.reserve(HERE, "f", 0)
        return await _admit_at(ledger, "f", 1.0)

    assert drive(make_ledger, Limits(), scenario) == RESERVED


def test_the_scaling_rate_spends_one_unit_per_new_environment(make_ledger: MakeLedger) -> None:
    async def scenario(ledger: Ledger) -> list[bool | str]:
        granted: list[bool | str] = []
        for now in (0.0, 1.0, 2.0, 31.0):  # two per minute
            try:
                await ledger.new_environment(HERE, "f", now, (2, 60.0))
                granted.append(True)
            except TooManyRequests as refused:
                granted.append(str(refused.fields["Reason"]))
        return granted

    assert drive(make_ledger, Limits(), scenario) == [True, True, ACCOUNT, True]
