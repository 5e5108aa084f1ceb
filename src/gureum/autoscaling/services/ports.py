"""The ports Application Auto Scaling acts through: Lambda's provisioned concurrency, and
CloudWatch's metrics and alarms. The composition root fills them (`app.py`); the in-memory
capacity in `fakes` ships for tests and for servers without Lambda's provisioned concurrency."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class ProvisionedCapacity(Protocol):
    """Lambda's provisioned concurrency of one alias or published version.

    `get` is the requested provisioned concurrency (None: no configuration); `set` asks for
    `capacity` environments (0 deletes the configuration, as Lambda has no zero configuration).
    Both raise the `AwsError` Lambda raises for a missing function, version or alias, or for a
    capacity it refuses (above reserved concurrency, the account's unreserved minimum, ...);
    the scaler records that message in a Failed activity. Called from worker threads.
    """

    def get(self, account: str, region: str, function: str, qualifier: str) -> int | None: ...

    def set(
        self, account: str, region: str, function: str, qualifier: str, capacity: int
    ) -> None: ...


class UtilizationReader(Protocol):
    """`ProvisionedConcurrencyUtilization` of `function:qualifier`, Average per one-minute period
    (scaled), for `count` periods from `start` (epoch seconds, on a period boundary); None for a
    period with no datapoint."""

    def averages(
        self, account: str, region: str, function: str, qualifier: str, start: float, count: int
    ) -> list[float | None]: ...

    def period(self) -> float:
        """One period in seconds, as scaled."""
        ...


class AlarmWriter(Protocol):
    """CloudWatch's alarms, as Application Auto Scaling's service-linked role writes them."""

    def put(self, account: str, region: str, definition: Mapping[str, Any]) -> None: ...

    def delete(self, account: str, region: str, names: Sequence[str]) -> None: ...

    def set_state(self, account: str, region: str, name: str, state: str, reason: str) -> None: ...
