"""A function that attacks the platform from inside its sandbox: it exhausts what it is given,
floods its log and talks garbage to its Runtime API. Each attack stays inside its own
environment: the server answers, a neighbour keeps running, and nothing outlives the attack.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.functions import invoke
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

pytestmark = pytest.mark.adversarial

ATTACKS = r"""
import errno
import os
import socket
import time


def fork_bomb(event):
    children, refused = 0, None
    while children < 5000:
        try:
            pid = os.fork()
        except OSError as exc:
            refused = errno.errorcode[exc.errno]
            break
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        children += 1
    return {"children": children, "refused": refused}


def fd_exhaustion(event):
    held, refused = [], None
    while len(held) < 100000:
        try:
            held.append(os.open("/dev/null", os.O_RDONLY))
        except OSError as exc:
            refused = errno.errorcode[exc.errno]
            break
    return {"held": len(held), "refused": refused}


def log_flood(event):
    line = "x" * 1023
    for _ in range(event["mb"] * 1024):
        print(line)
    return "flooded"


def runtime_api_garbage(event):
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    answers = []
    for junk in (
        b"\x00\xff" * 4096,
        b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nX: " + b"y" * 1_000_000 + b"\r\n\r\n",
        b"POST /2018-06-01/runtime/invocation/not-a-request/response HTTP/1.1\r\n"
        b"Content-Length: 5\r\n\r\nforge",
        b"POST /2018-06-01/runtime/invocation/x/response HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    ):
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            try:
                sock.sendall(junk)
                sock.shutdown(socket.SHUT_WR)
                answers.append(sock.recv(64).split(b"\r\n")[0].decode("latin-1"))
            except OSError as exc:
                answers.append(type(exc).__name__)
    # A head that never ends, sent without closing: the server must cut it off, not wait for more.
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nX: ")
        time.sleep(0.5)  # admitted by now: what follows meets the head's bound, not admission's
        sock.sendall(b"y" * 70_000)
        try:
            endless = sock.recv(64).split(b"\r\n")[0].decode("latin-1")
        except OSError as exc:
            endless = type(exc).__name__
    return {"answers": answers, "endless": endless}


def handler(event, context):
    return globals()[event["attack"]](event)
"""


@pytest.fixture
def attacker(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> str:
    make_function(Code={"ZipFile": zip_of({"index.py": ATTACKS})}, Timeout=20, MemorySize=1024)
    return function_name


@pytest.fixture
def neighbour(make_function: Callable[..., dict[str, Any]], function_name: str) -> str:
    name = f"{function_name}-neighbour"
    make_function(name=name)
    return name


def attack(lambda_client: Any, name: str, **event: Any) -> Any:
    invoked = invoke(lambda_client, name, event)
    assert invoked.status == 200, invoked.payload
    return json.loads(invoked.payload)


def still_serving(server: GureumProcess, lambda_client: Any, neighbour: str) -> None:
    assert server.health()["status"] == "ok"
    assert invoke(lambda_client, neighbour, {"ok": 1}).json() == {"ok": 1}


def test_a_fork_bomb_hits_the_process_limit(
    server: GureumProcess, lambda_client: Any, attacker: str, neighbour: str
) -> None:
    result = attack(lambda_client, attacker, attack="fork_bomb")
    assert result["refused"] == "EAGAIN"
    assert result["children"] < 1024  # AWS's own per-environment limit on processes
    still_serving(server, lambda_client, neighbour)


def test_descriptor_exhaustion_hits_the_descriptor_limit(
    server: GureumProcess, lambda_client: Any, attacker: str, neighbour: str
) -> None:
    result = attack(lambda_client, attacker, attack="fd_exhaustion")
    assert result["refused"] == "EMFILE"
    assert result["held"] < 1024
    still_serving(server, lambda_client, neighbour)


def test_a_log_flood_is_capped_and_does_not_stall_the_server(
    server: GureumProcess, lambda_client: Any, attacker: str, neighbour: str
) -> None:
    assert attack(lambda_client, attacker, attack="log_flood", mb=40) == "flooded"
    still_serving(server, lambda_client, neighbour)
    # Every stream stays under its cap (16 MB): the rest of the flood was dropped, not stored.
    logs = server.data_dir / "logs"
    sizes = [path.stat().st_size for path in logs.rglob("*.jsonl")]
    assert sizes
    assert max(sizes) <= 17 * 1024 * 1024


def test_garbage_on_the_runtime_api_is_refused_and_the_invocation_still_answered(
    server: GureumProcess, lambda_client: Any, attacker: str, neighbour: str
) -> None:
    result = attack(lambda_client, attacker, attack="runtime_api_garbage")
    # Each piece of junk got an HTTP error or a closed connection, never a 2xx; a head that never
    # ends is cut off at its bound (64 KiB) instead of buffered while the server waits for more.
    assert all(not answer.startswith("HTTP/1.1 2") for answer in result["answers"]), result
    assert result["endless"] == "HTTP/1.1 431 Error", result
    still_serving(server, lambda_client, neighbour)


def test_nothing_of_an_attack_outlives_the_server(tmp_path: Any) -> None:
    """A fork bomb's children die with their environment when the server stops."""
    server = GureumProcess(tmp_path / "data").start()
    try:
        client = server.client()
        client.create_function(
            FunctionName="bomb",
            Runtime="python3.12",
            Role="arn:aws:iam::000000000000:role/lambda-role",
            Handler="index.handler",
            Code={"ZipFile": zip_of({"index.py": ATTACKS})},
            Timeout=20,
            MemorySize=1024,
        )
        client.get_waiter("function_active_v2").wait(
            FunctionName="bomb", WaiterConfig={"Delay": 0.1}
        )
        assert attack(client, "bomb", attack="fork_bomb")["children"] > 100
    finally:
        server.stop()
    survivors = subprocess.run(
        ["pgrep", "-f", str(tmp_path)], capture_output=True, text=True, check=False
    ).stdout.split()
    assert survivors == []
