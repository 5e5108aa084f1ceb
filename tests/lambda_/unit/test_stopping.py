"""Stopping Lambda's background tasks: each ends, even one that outlives a cancellation."""

from __future__ import annotations

import asyncio

import pytest

from gureum.lambda_ import assembly


def test_a_task_that_swallows_a_cancellation_is_cancelled_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(assembly, "STOP_GRACE", 0.05)
    swallowed: list[int] = []

    async def keeper() -> None:
        """As the ledger's keeper did: the cancellation came back as the call's own error."""
        while True:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed.append(1)  # taken for an error of the call it interrupted

    async def plain() -> None:
        await asyncio.sleep(60)

    async def stopping() -> list[bool]:
        tasks = [asyncio.create_task(keeper()), asyncio.create_task(plain())]
        await asyncio.sleep(0)
        await asyncio.wait_for(assembly._cancelled(tasks), 5)
        return [task.cancelled() for task in tasks]

    assert asyncio.run(stopping()) == [True, True]
    assert swallowed == [1]
