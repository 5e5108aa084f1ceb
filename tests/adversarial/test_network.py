"""The network a function sees (issue #21, item 7), each rule checked from inside a real function.

With isolation every environment has a network namespace of its own: its 127.0.0.1 is its own
loopback, where it finds its Runtime API (127.0.0.1:9001, as on AWS) and gureum's endpoint (at
the very URL the host uses). It must never reach the host's loopback services, another
environment's listeners, or anything else on the host. Without isolation it shares the host's
network, and the server says so.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.functions import create, invoke
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

PROBE = """\
import errno
import os
import socket

LISTENERS = []  # kept by the warm process between invocations


def connect(host, port):
    try:
        with socket.create_connection((host, port), timeout=2) as connection:
            connection.sendall(b"ping")
            return {"ok": connection.recv(16).decode()}
    except OSError as error:
        return {"error": errno.errorcode.get(error.errno, type(error).__name__)}


def handler(event, context):
    action = event["action"]
    if action == "connect":
        return [connect(host, event["port"]) for host in event["hosts"]]
    if action == "listen":
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        LISTENERS.append(listener)
        return listener.getsockname()[1]
    if action == "accept":  # a connection to our own listener, to prove it works
        listener = LISTENERS[-1]
        client = socket.create_connection(listener.getsockname(), timeout=2)
        server, _ = listener.accept()
        client.sendall(b"hi")
        return server.recv(16).decode()
    if action == "lambda":
        import boto3
        names = boto3.client("lambda").list_functions()["Functions"]
        return sorted(f["FunctionName"] for f in names)
    if action == "whoami":
        return {
            "netns": os.readlink("/proc/self/ns/net"),
            "runtime_api": os.environ["AWS_LAMBDA_RUNTIME_API"],
            "endpoint": os.environ["AWS_ENDPOINT_URL"],
        }
    raise ValueError(action)
"""


@pytest.fixture
def echo_on_host_loopback() -> Iterator[int]:
    """A TCP service on the host's 127.0.0.1 that answers `pong`: what no function may reach."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.sendall(b"pong")

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()


def _host_addresses() -> list[str]:
    """Every IPv4 address of this host (loopback and the others, where a 0.0.0.0 service is)."""
    shown = subprocess.run(
        ["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=True
    )
    return [line.split()[3].split("/")[0] for line in shown.stdout.splitlines()]


def _probe(server: GureumProcess, name: str) -> Any:
    client = server.client()
    create(client, name, Code={"ZipFile": zip_of({"index.py": PROBE})}, Timeout=30)
    return client


def test_a_function_reaches_gureums_endpoint_at_the_hosts_url(
    server: GureumProcess, function_name: str
) -> None:
    client = _probe(server, function_name)
    listed = invoke(client, function_name, {"action": "lambda"})
    assert listed.function_error is None, listed.payload
    assert function_name in listed.json()
    seen = invoke(client, function_name, {"action": "whoami"}).json()
    assert seen["endpoint"] == server.url
    assert seen["runtime_api"] == "127.0.0.1:9001"  # AWS's own address, in its own namespace
    assert seen["netns"] != os.readlink("/proc/self/ns/net")


def test_a_function_cannot_reach_a_service_on_the_hosts_loopback(
    server: GureumProcess, function_name: str, echo_on_host_loopback: int
) -> None:
    control = socket.create_connection(("127.0.0.1", echo_on_host_loopback), timeout=2)
    with control:
        assert control.recv(16) == b"pong"  # it is there, for the host
    client = _probe(server, function_name)
    hosts = _host_addresses()
    assert "127.0.0.1" in hosts
    event = {"action": "connect", "hosts": hosts, "port": echo_on_host_loopback}
    attempts = invoke(client, function_name, event)
    assert attempts.function_error is None, attempts.payload
    for host, outcome in zip(hosts, attempts.json(), strict=True):
        assert "ok" not in outcome, f"the function reached {host}:{echo_on_host_loopback}"
        assert outcome["error"] in ("ECONNREFUSED", "ENETUNREACH"), (host, outcome)


def test_a_function_cannot_reach_another_environments_listener(
    server: GureumProcess, function_name: str
) -> None:
    client = _probe(server, function_name)
    other = f"{function_name}-other"
    _probe(server, other)
    port = invoke(client, function_name, {"action": "listen"}).json()
    assert invoke(client, function_name, {"action": "accept"}).json() == "hi"  # it listens
    reached = invoke(client, other, {"action": "connect", "hosts": ["127.0.0.1"], "port": port})
    assert reached.function_error is None, reached.payload
    assert reached.json() == [{"error": "ECONNREFUSED"}]


def test_without_isolation_the_server_says_functions_share_the_hosts_network(
    tmp_path: Path,
) -> None:
    process = GureumProcess(tmp_path / "data", "--isolation", "none")
    process.start()
    try:
        network = process.health()["network"]
    finally:
        process.stop()
    assert network["isolated"] is False
    assert network["hostLoopback"] is True
    assert "share the host's network" in network["reason"]
    assert "share the host's network" in process.log_path.read_text()


def _holders(namespace: str) -> list[str]:
    """Every process that is in the network namespace `namespace` (`net:[inode]`), holds a
    descriptor to it, or sees it mounted: what keeps it alive."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/ns/net") == namespace:
                found.append(f"{pid} is in it")
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == namespace:
                        found.append(f"{pid} holds it")
    with open("/proc/self/mountinfo") as mounts:
        found += [line for line in mounts if namespace in line]
    return found


def test_nothing_of_an_environments_network_outlives_a_killed_server(tmp_path: Path) -> None:
    process = GureumProcess(tmp_path / "data").start()
    try:
        client = _probe(process, "probe")
        namespace = invoke(client, "probe", {"action": "whoami"}).json()["netns"]
        assert _holders(namespace)  # the environment is in it, the server holds it
    finally:
        process.kill()
    deadline = time.monotonic() + 10
    while _holders(namespace) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _holders(namespace)
    process.start()  # a restart sweeps what else a killed server leaves (its /tmp disks)
    process.stop()
    assert left == []
