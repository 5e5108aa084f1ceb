"""A stop that takes too long says what it waits for."""

from __future__ import annotations

import asyncio
import faulthandler
import logging
from types import SimpleNamespace

import pytest

from gureum import app


def test_a_slow_stop_logs_the_tasks_it_waits_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(app, "SLOW_STOP", 0.05)
    stopped: list[bool] = []
    server = SimpleNamespace(console=SimpleNamespace(stop=lambda: stopped.append(True)))

    async def holding_the_stop_up() -> None:
        await asyncio.sleep(60)

    async def stopping() -> None:
        held = asyncio.create_task(holding_the_stop_up(), name="the-slow-one")
        app.GureumApp.draining(server)  # type: ignore[arg-type]
        await asyncio.sleep(0.3)
        held.cancel()

    with caplog.at_level(logging.WARNING, logger="gureum"):
        try:
            asyncio.run(stopping())
        finally:
            faulthandler.cancel_dump_traceback_later()
    assert stopped == [True]
    [record] = [r for r in caplog.records if "still stopping" in r.getMessage()]
    # The whole chain of awaits, down to where the task waits.
    assert "the-slow-one: holding_the_stop_up (test_slow_stop.py:" in record.getMessage()
    assert "> sleep (tasks.py:" in record.getMessage()
