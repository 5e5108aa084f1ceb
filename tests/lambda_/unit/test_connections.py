"""EFS connections per file system (spec 7.3): the limit, the burst, the rate after it."""

from __future__ import annotations

import pytest

from gureum.lambda_.domain.connections import (
    ConnectionLedger,
    ConnectionRateExceeded,
    ConnectionRules,
    TooManyConnections,
)


def test_one_connection_per_environment_counted_per_file_system() -> None:
    ledger: ConnectionLedger[str] = ConnectionLedger()
    ledger.open("fs-a", 0.0)
    ledger.open("fs-a", 0.0)
    ledger.open("fs-b", 0.0)
    assert ledger.counts() == {"fs-a": 2, "fs-b": 1}
    ledger.close("fs-a")
    ledger.close("fs-b")
    assert ledger.counts() == {"fs-a": 1}


def test_the_limit_refuses_without_counting() -> None:
    ledger: ConnectionLedger[str] = ConnectionLedger(ConnectionRules(limit=2))
    ledger.open("fs-a", 0.0)
    ledger.open("fs-a", 0.0)
    with pytest.raises(TooManyConnections):
        ledger.open("fs-a", 0.0)
    assert ledger.count("fs-a") == 2
    ledger.close("fs-a")
    ledger.open("fs-a", 0.0)


@pytest.mark.parametrize(
    ("burst", "per_minute", "waited", "more"),
    [
        (3, 500, 0.0, 0),  # the burst spent: nothing until the rate refills
        (3, 60, 1.0, 1),  # 60 a minute: one a second
        (3, 60, 2.5, 2),
        (3, 60, 600.0, 3),  # never more than the burst at once
    ],
)
def test_burst_then_rate(burst: int, per_minute: int, waited: float, more: int) -> None:
    ledger: ConnectionLedger[str] = ConnectionLedger(
        ConnectionRules(limit=100, burst=burst, per_minute=per_minute)
    )
    for _ in range(burst):
        ledger.open("fs-a", 0.0)
    opened = 0
    while True:
        try:
            ledger.open("fs-a", waited)
        except ConnectionRateExceeded:
            break
        opened += 1
    assert opened == more


def test_closing_does_not_refill_the_rate() -> None:
    ledger: ConnectionLedger[str] = ConnectionLedger(
        ConnectionRules(limit=100, burst=1, per_minute=1)
    )
    ledger.open("fs-a", 0.0)
    ledger.close("fs-a")
    with pytest.raises(ConnectionRateExceeded):
        ledger.open("fs-a", 0.0)
