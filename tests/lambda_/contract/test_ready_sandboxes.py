"""Cold starts take a sandbox built before anyone asked for one (sandbox/stock.py).

What a user sees: the function's process already existed when the invoke arrived, yet it runs
confined as any other (its own uid, pid 1, its own /tmp, its memory limit), and the stock
refills itself after each cold start.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.packages import zip_of
from tests.support.server import GureumProcess

# How long the function's process (pid 1 of its sandbox) had existed when the handler ran.
AGE = """\
import os

def handler(event, context):
    ticks = int(open("/proc/1/stat").read().rsplit(")", 1)[1].split()[19])
    uptime = float(open("/proc/uptime").read().split()[0])
    return {
        "age": uptime - ticks / os.sysconf("SC_CLK_TCK"),
        "uid": os.getuid(),
        "pid": os.getpid(),
        "tmp": os.statvfs("/tmp").f_blocks * os.statvfs("/tmp").f_frsize,
    }
"""


def _ready(server: GureumProcess, deadline: float = 10) -> int:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        ready = int(server.health()["readySandboxes"])
        if ready:
            return ready
        time.sleep(0.05)
    return 0


def test_a_cold_start_takes_a_sandbox_made_before_it_was_asked_for(
    server: GureumProcess,
    lambda_client: Any,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
) -> None:
    if server.health()["isolation"]["mode"] != "namespaces":
        pytest.skip("ready sandboxes need namespace isolation (root)")
    make_function(Code={"ZipFile": zip_of({"index.py": AGE})})
    assert _ready(server) >= 1
    time.sleep(0.5)  # a quiet spell: whatever is ready now was made at least this long ago
    reply = lambda_client.invoke(FunctionName=function_name, Payload=b"{}")
    seen = json.loads(reply["Payload"].read())
    assert seen["age"] >= 0.4, seen  # forked ahead, not on this invoke's path
    assert seen["pid"] == 1  # and confined all the same
    assert seen["uid"] != 0
    assert 512 * 2**20 <= seen["tmp"] <= 540 * 2**20  # its /tmp: the default 512 MB disk
    assert _ready(server) >= 1  # the stock refills


def test_a_tmp_size_nobody_asked_for_yet_still_gets_its_own_disk(
    server: GureumProcess,
    lambda_client: Any,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
) -> None:
    make_function(Code={"ZipFile": zip_of({"index.py": AGE})}, EphemeralStorage={"Size": 1024})
    reply = lambda_client.invoke(FunctionName=function_name, Payload=b"{}")
    seen = json.loads(reply["Payload"].read())
    assert 1024 * 2**20 <= seen["tmp"] <= 1060 * 2**20, seen
