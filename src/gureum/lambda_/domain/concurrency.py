"""The concurrency ledger: who may run right now, and AWS's reason when not (spec 4).

Concurrency is an account-wide pool per region. A function with reserved concurrency draws only
from its reservation (0 disables it); every other function shares what is left, the unreserved
pool, which can never be reserved below a minimum (100 by default). A lease is one running
execution; it is granted or refused here and nowhere else, and must be given back on every path.

The pools a lease is drawn from, in order (provisioned concurrency slots in first):

    provisioned (per version) -> reserved (per function) -> unreserved (per account)

Provisioned concurrency is claimed as soon as it is configured (spec 4.4, 6.3): inside a
function's reservation it leaves reserved - provisioned for on-demand executions (so with
reserved == Σ provisioned, `$LATEST` is throttled); for a function without one it comes out of
the unreserved pool. An execution on a provisioned environment takes a lease of its own pool,
bounded by the environments themselves, and is counted in flight like any other.

No I/O, no clock: time for the scaling-rate bucket comes in as an argument. The ledger is a
plain object mutated under the event loop's single thread; every decision is a pure function.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

from gureum.lambda_.domain.errors import InvalidParameterValue, TooManyRequests

RATE_EXCEEDED = "Rate Exceeded."


class ThrottleReason(StrEnum):
    ACCOUNT = "ConcurrentInvocationLimitExceeded"
    RESERVED = "ReservedFunctionConcurrentInvocationLimitExceeded"
    FUNCTION_RATE = "FunctionInvocationRateLimitExceeded"
    RESERVED_RATE = "ReservedFunctionInvocationRateLimitExceeded"


# Requests per second a unit of concurrency allows (spec 4.1: "10 x concurrency at account and
# function level"; each execution environment serves up to 10 requests per second).
REQUESTS_PER_UNIT = 10


class Pool(StrEnum):
    PROVISIONED = "provisioned"
    RESERVED = "reserved"
    UNRESERVED = "unreserved"


def throttled(reason: ThrottleReason) -> TooManyRequests:
    return TooManyRequests(RATE_EXCEEDED, Reason=reason.value)


@dataclass(frozen=True, slots=True)
class Lease:
    """One running execution, and the pool it counts against."""

    id: int
    scope: tuple[str, str]  # (account, region)
    function_id: str
    pool: Pool


@dataclass(frozen=True, slots=True)
class Limits:
    account: int = 1000
    unreserved_minimum: int = 100


def check_reservation(limits: Limits, reserved_elsewhere: int, requested: int) -> None:
    """PutFunctionConcurrency's rule: the unreserved pool keeps its minimum (spec 4.3)."""
    minimum = limits.unreserved_minimum
    if limits.account - (reserved_elsewhere + requested) < minimum:
        # AWS sends this one without a `Type` member (LocalStack's test_lambda_api.snapshot.json,
        # test_function_concurrency_limits, recorded against AWS).
        raise InvalidParameterValue(
            "Specified ReservedConcurrentExecutions for function decreases account's "
            f"UnreservedConcurrentExecution below its minimum value of [{minimum}].",
            Type=None,
        )


def invocation_rate(limits: Limits, reserved: int | None) -> tuple[int, ThrottleReason] | None:
    """The requests per second a function may start, and the reason when it starts more.

    A reserved function is held to 10 x its reservation; every other function to 10 x the
    account's concurrency, the most it could ever run. None for a reservation of 0: that
    function is refused by concurrency (its own reason) before any rate applies.
    """
    if reserved == 0:
        return None
    if reserved is not None:
        return REQUESTS_PER_UNIT * reserved, ThrottleReason.RESERVED_RATE
    return REQUESTS_PER_UNIT * limits.account, ThrottleReason.FUNCTION_RATE


def choose_pool(
    limits: Limits,
    reserved: int | None,
    function_in_flight: int,
    reserved_total: int,
    unreserved_in_flight: int,
    provisioned: int = 0,
    unreserved_provisioned: int = 0,
) -> Pool | ThrottleReason:
    """Where one more on-demand execution of a function may come from, or why it may not.

    `function_in_flight` and `unreserved_in_flight` count on-demand executions only;
    `provisioned` is the function's provisioned concurrency, `unreserved_provisioned` that of
    every function without a reservation (both claimed whether in use or not).
    """
    if reserved is not None:
        if function_in_flight < reserved - provisioned:
            return Pool.RESERVED
        return ThrottleReason.RESERVED
    if unreserved_in_flight < limits.account - reserved_total - unreserved_provisioned:
        return Pool.UNRESERVED
    return ThrottleReason.ACCOUNT


@dataclass
class _Scope:
    reservations: dict[str, int] = field(default_factory=dict)
    in_flight: Counter[str] = field(default_factory=Counter)
    provisioned: dict[str, int] = field(default_factory=dict)  # function id -> Σ configured
    provisioned_in_flight: Counter[str] = field(default_factory=Counter)

    @property
    def reserved_total(self) -> int:
        return sum(self.reservations.values())

    @property
    def unreserved_provisioned(self) -> int:
        return sum(n for fid, n in self.provisioned.items() if fid not in self.reservations)

    def on_demand(self, function_id: str) -> int:
        return self.in_flight[function_id] - self.provisioned_in_flight[function_id]

    @property
    def unreserved_in_flight(self) -> int:
        """On-demand executions of functions that have no reservation *now*: when a reservation
        goes away, that function's running executions count against the account from then on."""
        return sum(
            n - self.provisioned_in_flight[fid]
            for fid, n in self.in_flight.items()
            if fid not in self.reservations
        )


class ConcurrencyLedger:
    """Per (account, region): reservations, executions in flight, and the leases behind them."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._scopes: dict[tuple[str, str], _Scope] = {}
        self._ids = itertools.count(1)
        self._leases: dict[int, Lease] = {}

    def _scope(self, scope: tuple[str, str]) -> _Scope:
        return self._scopes.setdefault(scope, _Scope())

    # reservations --------------------------------------------------------------------------

    def reserve(self, scope: tuple[str, str], function_id: str, reserved: int | None) -> None:
        """Records a function's reservation (None: it has none)."""
        reservations = self._scope(scope).reservations
        if reserved is None:
            reservations.pop(function_id, None)
        else:
            reservations[function_id] = reserved

    def reservation(self, scope: tuple[str, str], function_id: str) -> int | None:
        return self._scope(scope).reservations.get(function_id)

    def reserved_total(self, scope: tuple[str, str]) -> int:
        return self._scope(scope).reserved_total

    def reserved_functions(self, scope: tuple[str, str]) -> set[str]:
        return set(self._scope(scope).reservations)

    def unreserved_capacity(self, scope: tuple[str, str]) -> int:
        state = self._scope(scope)
        return self.limits.account - state.reserved_total - state.unreserved_provisioned

    def provision(self, scope: tuple[str, str], function_id: str, total: int) -> None:
        """Records a function's provisioned concurrency (Σ of its configurations; 0: none)."""
        provisioned = self._scope(scope).provisioned
        if total:
            provisioned[function_id] = total
        else:
            provisioned.pop(function_id, None)

    def provisioned(self, scope: tuple[str, str], function_id: str) -> int:
        return self._scope(scope).provisioned.get(function_id, 0)

    # leases --------------------------------------------------------------------------------

    def acquire(self, scope: tuple[str, str], function_id: str) -> Lease:
        """A lease for one on-demand execution, or AWS's 429 with the reason."""
        state = self._scope(scope)
        decision = choose_pool(
            self.limits,
            state.reservations.get(function_id),
            state.on_demand(function_id),
            state.reserved_total,
            state.unreserved_in_flight,
            state.provisioned.get(function_id, 0),
            state.unreserved_provisioned,
        )
        if isinstance(decision, ThrottleReason):
            raise throttled(decision)
        return self._grant(state, scope, function_id, decision)

    def acquire_provisioned(self, scope: tuple[str, str], function_id: str) -> Lease:
        """A lease for one execution on a free provisioned environment: never refused, the
        environments themselves are the limit, and their concurrency is already claimed."""
        state = self._scope(scope)
        state.provisioned_in_flight[function_id] += 1
        return self._grant(state, scope, function_id, Pool.PROVISIONED)

    def _grant(self, state: _Scope, scope: tuple[str, str], function_id: str, pool: Pool) -> Lease:
        lease = Lease(next(self._ids), scope, function_id, pool)
        state.in_flight[function_id] += 1
        self._leases[lease.id] = lease
        return lease

    def release(self, lease: Lease) -> None:
        """Gives a lease back; releasing twice is a bug and raises."""
        if self._leases.pop(lease.id, None) is None:
            raise KeyError(f"lease {lease.id} was already released")
        state = self._scope(lease.scope)
        state.in_flight[lease.function_id] -= 1
        if state.in_flight[lease.function_id] == 0:
            del state.in_flight[lease.function_id]
        if lease.pool is Pool.PROVISIONED:
            state.provisioned_in_flight[lease.function_id] -= 1
            if state.provisioned_in_flight[lease.function_id] == 0:
                del state.provisioned_in_flight[lease.function_id]

    # visibility ----------------------------------------------------------------------------

    @property
    def outstanding(self) -> int:
        """Leases not given back; 0 whenever nothing runs (tests check it)."""
        return len(self._leases)

    def in_flight(self, scope: tuple[str, str], function_id: str | None = None) -> int:
        state = self._scope(scope)
        if function_id is None:
            return sum(state.in_flight.values())
        return state.in_flight[function_id]

    def unreserved_in_flight(self, scope: tuple[str, str]) -> int:
        return self._scope(scope).unreserved_in_flight

    def scopes(self) -> list[tuple[str, str]]:
        return list(self._scopes)


@dataclass(frozen=True, slots=True)
class TokenBucket:
    """A rate: `capacity` events per `period` seconds, refilled continuously (the scaling rate of
    new environments, the invocation rate of requests)."""

    capacity: float
    period: float
    tokens: float
    updated: float

    @classmethod
    def full(cls, capacity: float, period: float, now: float) -> TokenBucket:
        return cls(capacity, period, capacity, now)

    def take(self, now: float) -> tuple[TokenBucket, bool]:
        refill = (now - self.updated) * self.capacity / self.period if self.period > 0 else 1e18
        tokens = min(self.capacity, self.tokens + max(refill, 0.0))
        if tokens >= 1:
            return TokenBucket(self.capacity, self.period, tokens - 1, now), True
        return TokenBucket(self.capacity, self.period, tokens, now), False
