"""How many ready sandboxes the stock keeps: the recent cold-start rate, bounded."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from gureum.lambda_.sandbox.scratch import ScratchSpaces
from gureum.lambda_.sandbox.stock import SandboxStock
from gureum.lambda_.sandbox.zygotes import Zygote


def _stock(tmp_path: Path, **limits: int) -> SandboxStock:
    def no_zygote(executable: str) -> Zygote:
        raise AssertionError("sizing never starts a zygote")

    scratch = ScratchSpaces(tmp_path / "scratch", disks=False)
    return SandboxStock(no_zygote, tmp_path, scratch, None, None, window=10.0, **limits)


@pytest.mark.parametrize(
    ("takes", "wanted"),
    [
        (0, 1),  # in use: one is kept even when nobody asked lately
        (1, 1),
        (5, 5),  # five cold starts in the window: five ready
        (50, 8),  # bounded per kind
    ],
)
def test_the_stock_follows_recent_demand(tmp_path: Path, takes: int, wanted: int) -> None:
    async def scenario() -> int:
        stock = _stock(tmp_path, per_kind=8)
        stock.use("/usr/bin/python3")
        for _ in range(takes):
            assert stock.take("/usr/bin/python3", 512) is None  # nothing prepared here
        return stock.wanted(("/usr/bin/python3", 512), time.monotonic())

    assert asyncio.run(scenario()) == wanted


def test_demand_older_than_the_window_is_forgotten(tmp_path: Path) -> None:
    async def scenario() -> tuple[int, int]:
        stock = _stock(tmp_path)
        for _ in range(6):
            stock.take("/usr/bin/python3", 512)
        now = time.monotonic()
        return stock.wanted(("/usr/bin/python3", 512), now), stock.wanted(
            ("/usr/bin/python3", 512), now + 11
        )

    assert asyncio.run(scenario()) == (6, 1)


def test_a_kind_never_used_is_not_stocked(tmp_path: Path) -> None:
    stock = _stock(tmp_path)
    assert stock.wanted(("/usr/bin/python3", 1024), time.monotonic()) == 0
