"""Self-fencing: when a process must stop the invocations whose leases it can no longer renew.

A lease in a shared ledger (Redis) lives `ttl` seconds past its last renewal; the holder's keeper
renews it every `interval` seconds, each try given up after `timeout`. A host cut off from the
ledger keeps running its invocations, but its leases expire and another host may then admit a
second invocation of a function whose reserved concurrency was full: the limit breaks. So the
holder stops (fences) an invocation while its lease is still certainly counted: when, should the
next renewal fail too, the check after it would come too late.

All times are seconds on one monotonic clock of the holder; `renewed` is when the call that last
renewed the lease (or took it) was *sent*: the ledger's expiry is at least `renewed + ttl`.
"""

from __future__ import annotations

from dataclasses import dataclass

# Renewal calls give up after this share of the TTL (at most `RENEWAL_TIMEOUT_CAP`): six tries'
# worth of timeouts fit in one TTL, so one slow try does not fence, and a blackholed network
# (no RST: a call waits for its timeout) is noticed well before the TTL runs out.
RENEWAL_TIMEOUT_SHARE = 1 / 6
RENEWAL_TIMEOUT_CAP = 5.0
# What the fence itself needs after the decision: the event loop reaching the cancelled
# invocation, and the kill of its runtime. A tenth of the TTL: 0.3 s at the tests' 3 s TTL,
# 3 s at the default 30 s, either far more than a SIGKILL takes on a loaded host.
FENCE_SHARE = 1 / 10


@dataclass(frozen=True, slots=True)
class FencePolicy:
    """The keeper's rhythm for leases of `ttl` seconds."""

    ttl: float
    interval: float  # between the end of one renewal try and the start of the next
    timeout: float  # one renewal try, at most

    @classmethod
    def for_ttl(cls, ttl: float, interval: float) -> FencePolicy:
        return cls(ttl, interval, renewal_timeout(ttl))


def renewal_timeout(ttl: float) -> float:
    """How long one call to the ledger may take before it counts as failed."""
    return min(RENEWAL_TIMEOUT_CAP, ttl * RENEWAL_TIMEOUT_SHARE)


def must_fence(policy: FencePolicy, renewed: float, now: float) -> bool:
    """True when a lease last renewed at `renewed` must be fenced at `now`: the next renewal
    try, if it fails as well, ends (`interval + timeout` from now) too close to the lease's
    expiry (`renewed + ttl`) to leave the fence its allowance. A lease found lost (expired
    already) has `renewed` = -inf: fenced at once."""
    allowance = policy.ttl * FENCE_SHARE
    return now + policy.interval + policy.timeout + allowance >= renewed + policy.ttl
