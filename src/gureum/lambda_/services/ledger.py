"""The Ledger port: who may run right now, shared by every process that admits invocations.

One port, two adapters: `InProcessLedger` below (the pure `ConcurrencyLedger` and token buckets of
`domain.concurrency`, on the event loop's thread: the embedded default), and
`store.redis_ledger.RedisLedger` (the same decisions as Lua scripts over Redis keys, so the limits
hold across processes and hosts). `tests/lambda_/contract/test_ledger_port.py` runs one suite
against both.

Invariants every adapter keeps:
- `admit` spends the invocation rate (function and account, spec 4.1) and then takes a
  concurrency lease (provisioned -> reserved -> unreserved), or raises AWS's 429 with the reason;
  a refused concurrency lease has still spent the rate (as AWS counts the request), a refused
  rate takes no lease.
- Every lease is given back exactly once (`release`; twice raises `KeyError`); a lease a dead
  process never gave back stops counting by itself (Redis: its TTL, renewed by `keep`).
- `new_environment` spends one unit of the function's scaling rate, or raises AWS's 429.
- The gauges (`scopes`, `in_flight`, `unreserved_in_flight`) read counts as last seen: exact in
  process, as of the last `keep` on Redis (the metrics sample them, they do not decide).
- A ledger that cannot be reached refuses with `ServiceError` (500 ServiceException): nothing
  ran, the SDKs retry it, and a throttle's 429 would name a limit that was not reached.
- Leases that can expire (Redis) come with a `fence_policy` and their last renewals
  (`renewals`): the keeper stops an invocation before its lease may run out (`domain.fencing`).
"""

from __future__ import annotations

from typing import Protocol

from gureum.lambda_.domain.concurrency import (
    REQUESTS_PER_UNIT,
    ConcurrencyLedger,
    Lease,
    Limits,
    ThrottleReason,
    TokenBucket,
    invocation_rate,
    throttled,
)
from gureum.lambda_.domain.fencing import FencePolicy


class Ledger(Protocol):
    """See the module docstring for the invariants. `now` is the caller's clock in seconds:
    rates are refilled by it (the admission passes the server's clock, scaled periods)."""

    @property
    def limits(self) -> Limits: ...

    async def reserve(self, scope: tuple[str, str], function_id: str, reserved: int | None) -> None:
        """A function's reserved concurrency (None: it has none), after the store committed it."""

    async def provision(self, scope: tuple[str, str], function_id: str, total: int) -> None:
        """A function's provisioned concurrency, Σ of its configurations (0: none)."""

    async def admit(
        self, scope: tuple[str, str], function_id: str, now: float, rate_period: float
    ) -> Lease:
        """The invocation rate spent, then a lease for one on-demand execution; or a 429."""

    async def admit_provisioned(self, scope: tuple[str, str], function_id: str) -> Lease:
        """A lease on a free provisioned environment: never refused (already claimed)."""

    async def release(self, lease: Lease) -> None:
        """Gives a lease back; twice raises KeyError."""

    async def new_environment(
        self, scope: tuple[str, str], function_id: str, now: float, scaling: tuple[int, float]
    ) -> None:
        """Spends one unit of the function's scaling rate (capacity per period), or a 429."""

    async def keep(self) -> None:
        """Housekeeping, called by the app's keeper every `keep_interval` seconds: renews this
        process's leases and refreshes the gauges (nothing to do in process)."""

    @property
    def keep_interval(self) -> float: ...

    @property
    def fence_policy(self) -> FencePolicy | None:
        """How leases expire unless renewed; None: they never do (in process)."""

    @property
    def remote(self) -> bool:
        """Whether the ledger is across the network, each give-back a round trip (Redis):
        `Admission` then gives leases back after the invocation's answer."""

    def renewals(self) -> dict[Lease, float]:
        """This process's leases, each with when it was last renewed (`time.monotonic`;
        -inf: found expired); empty when leases never expire."""

    async def close(self) -> None: ...

    @property
    def outstanding(self) -> int:
        """This process's leases not given back; 0 whenever nothing runs here."""

    def in_flight(self, scope: tuple[str, str], function_id: str | None = None) -> int: ...

    def unreserved_in_flight(self, scope: tuple[str, str]) -> int: ...

    def scopes(self) -> list[tuple[str, str]]: ...

    def reserved_functions(self, scope: tuple[str, str]) -> set[str]:
        """The functions with a reservation in the ledger (as last seen)."""


class InProcessLedger:
    """The embedded default: the pure ledger and its buckets, mutated on the event loop only."""

    keep_interval = 3600.0
    fence_policy = None
    remote = False

    def __init__(self, limits: Limits) -> None:
        self.ledger = ConcurrencyLedger(limits)
        self._rates: dict[str | tuple[str, str], TokenBucket] = {}
        self._scaling: dict[str, TokenBucket] = {}

    @property
    def limits(self) -> Limits:
        return self.ledger.limits

    async def reserve(self, scope: tuple[str, str], function_id: str, reserved: int | None) -> None:
        self.ledger.reserve(scope, function_id, reserved)

    async def provision(self, scope: tuple[str, str], function_id: str, total: int) -> None:
        self.ledger.provision(scope, function_id, total)

    async def admit(
        self, scope: tuple[str, str], function_id: str, now: float, rate_period: float
    ) -> Lease:
        self._spend_rate(scope, function_id, now, rate_period)
        return self.ledger.acquire(scope, function_id)

    async def admit_provisioned(self, scope: tuple[str, str], function_id: str) -> Lease:
        return self.ledger.acquire_provisioned(scope, function_id)

    async def release(self, lease: Lease) -> None:
        self.ledger.release(lease)

    async def new_environment(
        self, scope: tuple[str, str], function_id: str, now: float, scaling: tuple[int, float]
    ) -> None:
        capacity, period = scaling
        bucket = self._scaling.get(function_id) or TokenBucket.full(capacity, period, now)
        bucket, allowed = bucket.take(now)
        self._scaling[function_id] = bucket
        if not allowed:
            raise throttled(ThrottleReason.ACCOUNT)

    def _spend_rate(
        self, scope: tuple[str, str], function_id: str, now: float, period: float
    ) -> None:
        """One request of the function's and the account's invocation rates, or a 429
        (spec 4.1, 4.4): 10 x concurrency at function and at account level."""
        rate = invocation_rate(self.limits, self.ledger.reservation(scope, function_id))
        if rate is None:
            return
        capacity, reason = rate
        function_rate = self._take(function_id, capacity, now, period)
        account_rate = self._take(scope, REQUESTS_PER_UNIT * self.limits.account, now, period)
        if function_rate is None or account_rate is None:
            # Neither rate is spent by a refused request.
            raise throttled(reason if function_rate is None else ThrottleReason.FUNCTION_RATE)
        self._rates[function_id] = function_rate
        self._rates[scope] = account_rate

    def _take(
        self, key: str | tuple[str, str], capacity: int, now: float, period: float
    ) -> TokenBucket | None:
        """The bucket after one request, or None when it has none to give."""
        bucket = self._rates.get(key)
        if bucket is None or bucket.capacity != capacity:  # new, or the reservation changed
            bucket = TokenBucket.full(capacity, period, now)
        bucket, allowed = bucket.take(now)
        return bucket if allowed else None

    async def keep(self) -> None:
        return None

    def renewals(self) -> dict[Lease, float]:
        return {}

    async def close(self) -> None:
        return None

    @property
    def outstanding(self) -> int:
        return self.ledger.outstanding

    def in_flight(self, scope: tuple[str, str], function_id: str | None = None) -> int:
        return self.ledger.in_flight(scope, function_id)

    def unreserved_in_flight(self, scope: tuple[str, str]) -> int:
        return self.ledger.unreserved_in_flight(scope)

    def scopes(self) -> list[tuple[str, str]]:
        return self.ledger.scopes()

    def reserved_functions(self, scope: tuple[str, str]) -> set[str]:
        return self.ledger.reserved_functions(scope)
