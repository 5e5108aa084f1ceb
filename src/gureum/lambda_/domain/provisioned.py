"""Provisioned concurrency: the configuration, its state machine and AWS's rules (spec 6.3).

A configuration belongs to one qualifier of a function: a published version, or an alias (whose
environments run the version(s) it points to). Its status moves

    IN_PROGRESS ──all environments initialised──> READY
         └──── an environment's Init failed ──> FAILED (FUNCTION_ERROR_INIT_FAILURE, 0 allocated)

and back to IN_PROGRESS whenever environments must be allocated again: a new Put, an alias moved
to another version, a server restart. Every rule of PutProvisionedConcurrencyConfig is a pure
function here, with AWS's exact message; the services only gather the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from gureum.lambda_.domain.concurrency import TokenBucket
from gureum.lambda_.domain.errors import InvalidParameterValue, ResourceConflict

INIT_FAILURE = "FUNCTION_ERROR_INIT_FAILURE"
# AWS: "up to 6,000 execution environments per minute per function" (spec 6.3).
ALLOCATION_RATE = (6000, 60.0)

UNPUBLISHED = "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
NOT_ALIAS_OR_VERSION = "The function resource provided must be an alias or a published version."
ALIAS_ON_PROVISIONED_VERSION = (
    "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned "
    "version"
)
VERSION_UNDER_ALIAS = "Version is pointed by a Provisioned Concurrency alias"
ABOVE_RESERVED = (
    "Requested Provisioned Concurrency should not be greater than the "
    "reservedConcurrentExecution for function"
)
NO_CONFIG = "No Provisioned Concurrency Config found for this function"


class ProvisionedStatus(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    READY = "READY"
    FAILED = "FAILED"


_MOVES: dict[ProvisionedStatus, frozenset[ProvisionedStatus]] = {
    ProvisionedStatus.IN_PROGRESS: frozenset(ProvisionedStatus),
    ProvisionedStatus.READY: frozenset({ProvisionedStatus.IN_PROGRESS, ProvisionedStatus.READY}),
    ProvisionedStatus.FAILED: frozenset({ProvisionedStatus.IN_PROGRESS, ProvisionedStatus.FAILED}),
}


@dataclass(frozen=True, slots=True)
class ProvisionedConfig:
    """One qualifier's configuration. `allocated` is 0 until every environment is initialised:
    AWS gives no access to any of them before (spec 6.3)."""

    qualifier: str
    requested: int
    last_modified: str
    status: ProvisionedStatus = ProvisionedStatus.IN_PROGRESS
    allocated: int = 0
    reason: str | None = None

    def _move(
        self, status: ProvisionedStatus, allocated: int, reason: str | None
    ) -> ProvisionedConfig:
        if status not in _MOVES[self.status]:
            raise ValueError(f"provisioned concurrency: {self.status} -> {status} is not allowed")
        return replace(self, status=status, allocated=allocated, reason=reason)

    def allocating(self) -> ProvisionedConfig:
        return self._move(ProvisionedStatus.IN_PROGRESS, 0, None)

    def ready(self) -> ProvisionedConfig:
        return self._move(ProvisionedStatus.READY, self.requested, None)

    def failed(self) -> ProvisionedConfig:
        return self._move(ProvisionedStatus.FAILED, 0, INIT_FAILURE)


def pace(
    bucket: TokenBucket | None, rate: tuple[int, float], now: float
) -> tuple[TokenBucket, float]:
    """One environment's share of the allocation rate (`rate`: environments per period, AWS's
    6,000 a minute scaled by --time-scale): the bucket after it, and 0 when it may start now,
    else the seconds to wait before asking again."""
    capacity, period = rate
    if bucket is None or (bucket.capacity, bucket.period) != (capacity, period):
        bucket = TokenBucket.full(capacity, period, now)
    bucket, allowed = bucket.take(now)
    return bucket, 0.0 if allowed else period / capacity


def split(requested: int, primary: str, weights: Mapping[str, float]) -> dict[str, int]:
    """Environments per version of a (weighted) alias, summing to `requested`.

    AWS documents only that the allocation "fluctuates" with a weighted alias (spec 6.3), not
    how it rounds. Here each version gets the floor of its share, and the environments left
    over go to the largest remainders (Hamilton's method), the primary version first on a tie:
    the total is exactly what was asked, and no version is off its share by a whole one.
    """
    extra = sum(weights.values())
    shares = {primary: requested * (1.0 - extra)}
    for version, weight in weights.items():
        shares[version] = shares.get(version, 0.0) + requested * weight
    counts = {version: math.floor(share + 1e-9) for version, share in shares.items()}
    left = requested - sum(counts.values())
    order = sorted(shares, key=lambda v: (-(shares[v] - counts[v]), v != primary, v))
    for version in order[:left]:
        counts[version] += 1
    return {version: count for version, count in counts.items() if count > 0}


def check_coverage(
    qualifier: str,
    is_alias: bool,
    versions: frozenset[str],
    covered_by: Mapping[str, str],
) -> None:
    """One configuration per version, directly or through one alias (spec 6.3's two 409s).

    `versions` are those the qualifier runs; `covered_by` maps each version already provisioned
    to the qualifier whose configuration covers it (the version itself, or an alias).
    """
    for version in sorted(versions):
        owner = covered_by.get(version)
        if owner is None or owner == qualifier:
            continue
        raise ResourceConflict(ALIAS_ON_PROVISIONED_VERSION if is_alias else VERSION_UNDER_ALIAS)


@dataclass(frozen=True, slots=True)
class AccountRoom:
    """The numbers the account-level rules need, for the function being configured."""

    account: int
    unreserved_minimum: int
    reserved_total: int  # Σ reserved concurrency of every function of the scope
    unreserved_provisioned: int  # Σ provisioned of functions without a reservation, but this one


def check_room(
    requested: int,
    function_provisioned: int,
    reserved: int | None,
    room: AccountRoom,
) -> None:
    """Whether `requested` more environments fit: inside the function's reservation when it has
    one, else in what the account leaves unreserved, keeping its minimum (spec 6.3, 4.2).

    `function_provisioned` is the function's provisioned total without this qualifier's own.
    """
    total = function_provisioned + requested
    if reserved is not None:
        if total > reserved:
            raise InvalidParameterValue(ABOVE_RESERVED)
        return
    unreserved = room.account - room.reserved_total - room.unreserved_provisioned
    if total > unreserved:
        raise InvalidParameterValue(
            "Specified ConcurrentExecutions for function is greater than account's unreserved "
            f"concurrency [{unreserved}]."
        )
    if unreserved - total < room.unreserved_minimum:
        raise InvalidParameterValue(
            "Specified ConcurrentExecutions for function decreases account's "
            f"UnreservedConcurrentExecution below its minimum value of [{room.unreserved_minimum}]."
        )


def check_reserved_above_provisioned(reserved: int, provisioned: int) -> None:
    """PutFunctionConcurrency may not go under the function's provisioned total (spec 4.3;
    the leading space and the double space are AWS's)."""
    if reserved < provisioned:
        raise InvalidParameterValue(
            f" ReservedConcurrentExecutions  {reserved} should not be lower than function's "
            f"total provisioned concurrency [{provisioned}]."
        )
