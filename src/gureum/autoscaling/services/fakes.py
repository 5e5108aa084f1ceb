"""An in-memory `ProvisionedCapacity`: product code, for service tests and for a server started
with `--provisioned-capacity memory` while Lambda's provisioned concurrency is not wired in
(issue #12). It keeps the numbers the scaler sets and nothing else: no environment starts."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from gureum.aws.errors import ClientError

LATEST = "$LATEST"


class InMemoryCapacity:
    """Capacities by (account, region, function, qualifier).

    `existing`: the qualifiers that exist, as (account, region, function, qualifier); None means
    every qualifier but `$LATEST` exists. `refuse_above`: a capacity past it is refused as
    Lambda refuses one above reserved concurrency, so failed activities can be tested.
    """

    def __init__(
        self,
        existing: Iterable[tuple[str, str, str, str]] | None = None,
        refuse_above: int | None = None,
    ) -> None:
        self._existing = None if existing is None else set(existing)
        self._refuse_above = refuse_above
        self._capacities: dict[tuple[str, str, str, str], int] = {}
        self._lock = threading.Lock()
        self.calls: list[tuple[str, str, str, str, int]] = []

    def _check(self, key: tuple[str, str, str, str]) -> None:
        if key[3] == LATEST:
            raise ClientError(
                "The function resource provided must be an alias or a published version."
            )
        if self._existing is not None and key not in self._existing:
            raise ClientError(
                f"Function not found: arn:aws:lambda:{key[1]}:{key[0]}:function:{key[2]}:{key[3]}"
            )

    def get(self, account: str, region: str, function: str, qualifier: str) -> int | None:
        key = (account, region, function, qualifier)
        self._check(key)
        with self._lock:
            return self._capacities.get(key)

    def set(self, account: str, region: str, function: str, qualifier: str, capacity: int) -> None:
        key = (account, region, function, qualifier)
        self._check(key)
        if self._refuse_above is not None and capacity > self._refuse_above:
            raise ClientError(
                "Requested Provisioned Concurrency should not be greater than the "
                "reservedConcurrentExecution for function"
            )
        with self._lock:
            self.calls.append((*key, capacity))
            if capacity == 0:
                self._capacities.pop(key, None)
            else:
                self._capacities[key] = capacity
