"""EFS client connections of execution environments (spec 7.3): each environment with a file
system mounted holds one connection to it until it is retired. A file system takes at most
`limit` connections (AWS: 25,000) and opens them at most `burst` at once, then `rate` a minute
(AWS: 3,000, then 500 a minute): a token bucket per file system. Pure: time comes in as an
argument (monotonic seconds, already on the platform's scaled clock).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

CONNECTION_LIMIT = 25_000
BURST = 3_000
PER_MINUTE = 500


@dataclass(frozen=True, slots=True)
class ConnectionRules:
    limit: int = CONNECTION_LIMIT
    burst: int = BURST
    per_minute: int = PER_MINUTE
    # The platform's time scale: a scaled minute refills `per_minute` connections.
    minute: float = 60.0


class TooManyConnections(Exception):
    """The file system holds `limit` connections already."""


class ConnectionRateExceeded(Exception):
    """The file system opened its burst of connections, and the rate has not refilled one."""


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


@dataclass(slots=True)
class ConnectionLedger(Generic[K]):
    """Open connections and the creation bucket of each file system. Not thread-safe: the event
    loop owns it."""

    rules: ConnectionRules = field(default_factory=ConnectionRules)
    # By file system: any key naming one (the invoker's is account, region and id).
    _open: dict[K, int] = field(default_factory=dict)
    _buckets: dict[K, _Bucket] = field(default_factory=dict)

    def open(self, file_system_id: K, now: float) -> None:
        """Counts one more connection, or raises without counting it."""
        rules = self.rules
        if self._open.get(file_system_id, 0) >= rules.limit:
            raise TooManyConnections(file_system_id)
        bucket = self._buckets.get(file_system_id)
        if bucket is None:
            bucket = self._buckets[file_system_id] = _Bucket(float(rules.burst), now)
        refill = (now - bucket.at) * rules.per_minute / rules.minute if rules.minute > 0 else 0
        bucket.tokens, bucket.at = min(float(rules.burst), bucket.tokens + refill), now
        if bucket.tokens < 1:
            raise ConnectionRateExceeded(file_system_id)
        bucket.tokens -= 1
        self._open[file_system_id] = self._open.get(file_system_id, 0) + 1

    def close(self, file_system_id: K) -> None:
        left = self._open.get(file_system_id, 0) - 1
        if left > 0:
            self._open[file_system_id] = left
        else:
            self._open.pop(file_system_id, None)

    def count(self, file_system_id: K) -> int:
        return self._open.get(file_system_id, 0)

    def counts(self) -> dict[K, int]:
        return dict(self._open)
