"""The Ledger port on Redis: one set of limits for every process that admits invocations.

Each take and give of a lease is one Lua script (`ledger_scripts`), so one round trip, and atomic:
with reserved concurrency N, N invocations run at once whichever process admitted them. A lease
lives in Redis with a TTL; `keep` (the app's keeper, every third of the TTL) renews this process's
leases, so a process that dies stops renewing and its leases expire: the next script of that
scope sweeps them and gives their counts back.

Redis out of reach: every call raises `ServiceError` (500 ServiceException; see the port), and the
client reconnects at the next call once Redis is back. A call gives up after a share of the TTL
(`domain.fencing.renewal_timeout`): on a network that drops packets without a reset, a renewal
that waited out a fixed 5 s would end after a 3 s lease had expired. Each lease's last renewal is
kept (`renewals`), so that the keeper can stop an invocation whose lease it cannot renew before
the lease runs out (self-fencing, `services.admission`); a lease `keep` finds lost (expired, or
gone with a Redis restarted empty) no longer counts, so its invocation is fenced at once.

Redis back without its data (restarted without persistence): the scripts find the `loaded`
marker missing and the ledger restores the reservations and provisioned totals from the durable
store (`restore`, given by the assembly) before it admits anyone; leases that ran across the
restart are no longer counted (their invocations are fenced at the next `keep`), and their
release, finding nothing, takes nothing (counts never go below the truth).

One Redis (a primary, with replicas if wanted): the scripts touch keys they derive from the
scope's prefix, which Redis Cluster refuses.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from gureum.aws.errors import ServiceError
from gureum.lambda_.domain.concurrency import Lease, Limits, Pool, ThrottleReason, throttled
from gureum.lambda_.domain.fencing import FencePolicy
from gureum.lambda_.store import ledger_scripts
from gureum.lambda_.store.redis_pipe import Script, ScriptPipe

log = logging.getLogger(__name__)

# (account, region, function id, value) rows of the durable store: reservations, provisioned totals.
Rows = list[tuple[str, str, str, int]]
Restore = Callable[[], Awaitable[tuple[Rows, Rows]]]

LEASE_TTL = 30.0  # seconds a lease outlives the last renewal of a process that went away
UNAVAILABLE = "The concurrency ledger is unavailable. Try again."


async def _nothing() -> tuple[Rows, Rows]:
    return [], []


class RedisLedger:
    """See the module docstring; the invariants are the port's (`services.ledger`)."""

    remote = True

    def __init__(
        self,
        url: str,
        limits: Limits,
        *,
        prefix: str = "gureum:ledger:",
        ttl: float = LEASE_TTL,
        restore: Restore = _nothing,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = limits
        self._prefix = prefix
        self._ttl_ms = max(int(ttl * 1000), 1)
        # Renewals well inside the TTL; at least every second, which also keeps the gauges as
        # fresh as the metrics sample them.
        self.keep_interval = min(ttl / 3, 1.0)
        self.restore = restore
        self.fence_policy: FencePolicy | None = FencePolicy.for_ttl(ttl, self.keep_interval)
        self._monotonic = monotonic
        # Fail fast while Redis is away (the caller gets a 500 at once); one reconnect when a
        # pooled connection went stale (Redis restarted). No call may outlast its share of the
        # TTL (see the module docstring).
        timeout = self.fence_policy.timeout
        self._redis = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=min(1.0, timeout),
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 1, (RedisConnectionError,)),
        )
        # The scripts go through a pipe of their own (`redis_pipe`: a third of a warm invoke's
        # CPU went to redis-py's handling of the two per invocation); the rest through redis-py.
        self._pipe = ScriptPipe(url, timeout=timeout, connect_timeout=min(1.0, timeout))
        self._admit = Script.of(ledger_scripts.ADMIT)
        self._admit_provisioned = Script.of(ledger_scripts.ADMIT_PROVISIONED)
        self._release = Script.of(ledger_scripts.RELEASE)
        self._set_limit = Script.of(ledger_scripts.SET_LIMIT)
        self._restore = Script.of(ledger_scripts.RESTORE)
        self._scale = Script.of(ledger_scripts.SCALE)
        self._keep = Script.of(ledger_scripts.KEEP)
        self._held: dict[Lease, str] = {}  # this process's leases -> their members in Redis
        # When each was last renewed (sent: Redis's expiry is later), on `monotonic`.
        self._renewed: dict[Lease, float] = {}
        # The gauges, as of the last `keep`: scope -> (in flight by function, on provisioned,
        # reserved functions).
        self._seen: dict[tuple[str, str], tuple[dict[str, int], dict[str, int], set[str]]] = {}

    @property
    def limits(self) -> Limits:
        return self._limits

    def _key(self, scope: tuple[str, str]) -> str:
        account, region = scope
        return f"{self._prefix}{{{account}/{region}}}:"

    async def _run(self, script: Script, keys: list[str], args: list[object]) -> Any:
        try:
            return await self._pipe.run(script, keys, args)
        except RedisError as exc:
            log.warning("the concurrency ledger (Redis) is out of reach: %s", exc)
            raise ServiceError(UNAVAILABLE) from exc

    # limits ----------------------------------------------------------------------------------

    async def reserve(self, scope: tuple[str, str], function_id: str, reserved: int | None) -> None:
        value = "" if reserved is None else str(reserved)
        await self._set(scope, "reserved", function_id, value)

    async def provision(self, scope: tuple[str, str], function_id: str, total: int) -> None:
        await self._set(scope, "provisioned", function_id, str(total) if total else "")

    async def _set(self, scope: tuple[str, str], which: str, function_id: str, value: str) -> None:
        keys = [self._key(scope), self._prefix + "scopes"]
        await self._run(self._set_limit, keys, [which, function_id, value, "/".join(scope)])

    async def _restore_all(self) -> None:
        """Writes the durable store's limits into a Redis that lost them, then marks it loaded."""
        reservations, provisioned = await self.restore()
        by_scope: dict[tuple[str, str], list[object]] = {}
        for which, rows in (("reserved", reservations), ("provisioned", provisioned)):
            for account, region, function_id, value in rows:
                by_scope.setdefault((account, region), []).extend([which, function_id, value])
        for scope, triples in by_scope.items():
            keys = [self._key(scope), self._prefix + "scopes"]
            await self._run(self._restore, keys, ["/".join(scope), *triples])
        try:
            await self._redis.set(self._prefix + "loaded", "1")
        except RedisError as exc:
            raise ServiceError(UNAVAILABLE) from exc
        log.info("the concurrency ledger (Redis) restored %d scopes from the store", len(by_scope))

    # leases ----------------------------------------------------------------------------------

    async def admit(
        self, scope: tuple[str, str], function_id: str, now: float, rate_period: float
    ) -> Lease:
        keys = [self._key(scope), self._prefix + "loaded", self._prefix + "scopes"]
        args: list[object] = [function_id, repr(now), repr(rate_period), self._limits.account]
        args += [self._ttl_ms, "/".join(scope)]
        sent = self._monotonic()
        answer = await self._run(self._admit, keys, args)
        if answer[0] == -2:  # Redis has no limits loaded (new, or restarted empty)
            await self._restore_all()
            sent = self._monotonic()
            answer = await self._run(self._admit, keys, args)
        if answer[0] == -1:
            raise throttled(ThrottleReason(_text(answer[1])))
        return self._hold(scope, function_id, answer, sent)

    async def admit_provisioned(self, scope: tuple[str, str], function_id: str) -> Lease:
        keys = [self._key(scope), self._prefix + "scopes"]
        args: list[object] = [function_id, self._ttl_ms, "/".join(scope)]
        sent = self._monotonic()
        answer = await self._run(self._admit_provisioned, keys, args)
        return self._hold(scope, function_id, answer, sent)

    def _hold(
        self, scope: tuple[str, str], function_id: str, answer: list[Any], sent: float
    ) -> Lease:
        lease = Lease(int(answer[0]), scope, function_id, Pool(_text(answer[1])))
        self._held[lease] = f"{lease.id}|{lease.pool.value}|{function_id}"
        self._renewed[lease] = sent
        return lease

    async def release(self, lease: Lease) -> None:
        member = self._held.pop(lease, None)
        self._renewed.pop(lease, None)
        if member is None:
            raise KeyError(f"lease {lease.id} was already released")
        given = await self._run(self._release, [self._key(lease.scope)], [member])
        if not given:
            log.warning(
                "lease %s of %s had expired before it was given back (renewals missed)",
                lease.id,
                lease.function_id,
            )

    async def new_environment(
        self, scope: tuple[str, str], function_id: str, now: float, scaling: tuple[int, float]
    ) -> None:
        capacity, period = scaling
        args: list[object] = [function_id, repr(now), capacity, repr(period)]
        if not await self._run(self._scale, [self._key(scope)], args):
            raise throttled(ThrottleReason.ACCOUNT)

    # housekeeping ----------------------------------------------------------------------------

    async def keep(self) -> None:
        """Renews this process's leases and reads the gauges, one script per scope."""
        sent = self._monotonic()
        try:
            names = await self._redis.smembers(self._prefix + "scopes")
        except RedisError as exc:
            raise ServiceError(UNAVAILABLE) from exc
        scopes = {_scope(_text(name)) for name in names} | {lease.scope for lease in self._held}
        for scope in scopes:
            sent_leases = {m: lease for lease, m in self._held.items() if lease.scope == scope}
            lost, inflight, pinflight, reserved = await self._run(
                self._keep, [self._key(scope)], [self._ttl_ms, *sent_leases]
            )
            gone = {_text(m) for m in lost}
            for member, lease in sent_leases.items():
                if lease in self._renewed:  # not given back meanwhile
                    self._renewed[lease] = float("-inf") if member in gone else sent
            held = set(self._held.values())  # a lease given back meanwhile was not lost
            if missed := [m for m in gone if m in held]:
                log.warning("%d leases in %s expired before renewal", len(missed), scope)
            self._seen[scope] = (_pairs(inflight), _pairs(pinflight), set(_pairs(reserved)))

    def renewals(self) -> dict[Lease, float]:
        return dict(self._renewed)

    async def close(self) -> None:
        self._pipe.close()
        await self._redis.aclose()

    # the gauges, as last seen ----------------------------------------------------------------

    @property
    def outstanding(self) -> int:
        return len(self._held)

    def in_flight(self, scope: tuple[str, str], function_id: str | None = None) -> int:
        running = self._seen.get(scope, ({}, {}, set()))[0]
        if function_id is None:
            return sum(running.values())
        return running.get(function_id, 0)

    def unreserved_in_flight(self, scope: tuple[str, str]) -> int:
        running, provisioned, reserved = self._seen.get(scope, ({}, {}, set()))
        return sum(n - provisioned.get(fid, 0) for fid, n in running.items() if fid not in reserved)

    def scopes(self) -> list[tuple[str, str]]:
        return list(self._seen)

    def reserved_functions(self, scope: tuple[str, str]) -> set[str]:
        return set(self._seen.get(scope, ({}, {}, set()))[2])


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _scope(name: str) -> tuple[str, str]:
    account, _, region = name.partition("/")
    return account, region


def _pairs(flat: list[Any]) -> dict[str, int]:
    return {_text(flat[i]): int(flat[i + 1]) for i in range(0, len(flat), 2)}
