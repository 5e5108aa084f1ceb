"""Warm environments stay warm while the reaper runs (it retires only what is idle too long)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.packages import zip_of
from tests.support.server import GureumProcess

COUNTER = """\
CALLS = 0

def handler(event, context):
    global CALLS
    CALLS += 1
    return CALLS
"""


@pytest.fixture
def fast_reaper(tmp_path: Path) -> Iterator[GureumProcess]:
    # keep-alive 60 s at time scale 0.01: 0.6 s, and the reaper looks every 0.15 s.
    server = GureumProcess(tmp_path / "data", "--time-scale", "0.01", "--keep-alive", "60")
    yield server.start()
    server.stop()


def test_an_environment_used_within_the_keep_alive_is_reused(fast_reaper: GureumProcess) -> None:
    client = fast_reaper.client()
    client.create_function(
        FunctionName="counter",
        Runtime="python3.12",
        Role="arn:aws:iam::000000000000:role/r",
        Handler="index.handler",
        Code={"ZipFile": zip_of({"index.py": COUNTER})},
    )
    client.get_waiter("function_active_v2").wait(
        FunctionName="counter", WaiterConfig={"Delay": 0.1}
    )
    calls = []
    for _ in range(4):
        calls.append(json.loads(client.invoke(FunctionName="counter")["Payload"].read()))
        time.sleep(0.3)  # under the keep-alive, over the reaper's period
    assert calls == [1, 2, 3, 4]
    time.sleep(1.5)  # past the keep-alive: the environment is retired, the next call is cold
    assert json.loads(client.invoke(FunctionName="counter")["Payload"].read()) == 1
