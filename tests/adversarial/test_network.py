"""The network a function sees (issue #21, item 7), each rule checked from inside a real function.

With isolation every environment has a network namespace of its own: its 127.0.0.1 is its own
loopback, where it finds its Runtime API (127.0.0.1:9001, as on AWS) and gureum's endpoint (at
the very URL the host uses). It must never reach the host's loopback services, another
environment's listeners, or anything else on the host. Without isolation it shares the host's
network, and the server says so.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import socket
import subprocess
import sys
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


def address():
    # The address this environment goes out from (a UDP connect sends nothing).
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("198.51.100.2", 9))
        except OSError:
            return None
        return probe.getsockname()[0]


def handler(event, context):
    action = event["action"]
    if action == "connect":
        return [connect(host, event["port"]) for host in event["hosts"]]
    if action == "listen":
        listener = socket.socket()
        listener.bind(("0.0.0.0", 0))  # every address the environment has
        listener.listen(4)
        LISTENERS.append(listener)
        return listener.getsockname()[1]
    if action == "accept":  # a connection to our own listener, to prove it works
        listener = LISTENERS[-1]
        client = socket.create_connection(("127.0.0.1", listener.getsockname()[1]), timeout=2)
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
            "address": address(),
        }
    raise ValueError(action)
"""


@pytest.fixture
def echo_on_host_loopback() -> Iterator[int]:
    """A TCP service on the host's 127.0.0.1, and on every other address of the host (v4 and v6),
    that answers `pong`: what no function may reach."""
    listener = socket.socket(socket.AF_INET6)
    listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    listener.bind(("::", 0))
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
    """Every address of this host but IPv6 link-local ones (loopback, the others, and the host's
    ends of environments' links)."""
    shown = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True, check=True)
    addresses = [line.split()[3].split("/")[0] for line in shown.stdout.splitlines()]
    return [address for address in addresses if not address.startswith("fe80:")]


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
    client = _probe(server, function_name)
    hosts = _host_addresses()
    assert "127.0.0.1" in hosts
    for host in hosts:
        control = socket.create_connection((host, echo_on_host_loopback), timeout=2)
        with control:
            assert control.recv(16) == b"pong"  # it is there, for the host
    event = {"action": "connect", "hosts": hosts, "port": echo_on_host_loopback}
    attempts = invoke(client, function_name, event)
    assert attempts.function_error is None, attempts.payload
    for host, outcome in zip(hosts, attempts.json(), strict=True):
        assert "ok" not in outcome, f"the function reached {host}:{echo_on_host_loopback}"
        assert outcome["error"] in ("ECONNREFUSED", "ENETUNREACH", "EHOSTUNREACH"), outcome


def test_a_function_cannot_reach_another_environments_listener(
    server: GureumProcess, function_name: str
) -> None:
    client = _probe(server, function_name)
    other = f"{function_name}-other"
    _probe(server, other)
    port = invoke(client, function_name, {"action": "listen"}).json()
    assert invoke(client, function_name, {"action": "accept"}).json() == "hi"  # it listens
    hosts = ["127.0.0.1"]
    address = invoke(client, function_name, {"action": "whoami"}).json()["address"]
    if address is not None:  # it has a way out too: its neighbours must not come in by it
        hosts.append(address)
    event = {"action": "connect", "hosts": hosts, "port": port}
    reached = invoke(client, other, event)
    assert reached.function_error is None, reached.payload
    for host, outcome in zip(hosts, reached.json(), strict=True):
        assert outcome.get("error") in ("ECONNREFUSED", "EHOSTUNREACH"), (host, outcome)


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


def _links() -> set[str]:
    """The host's ends of environments' veth pairs."""
    shown = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)
    names = {line.split(":")[1].strip().split("@")[0] for line in shown.stdout.splitlines()}
    return {name for name in names if name.startswith("gu")}


def _host_link_of(address: str | None) -> set[str]:
    """The host's end of the veth pair whose other end has `address` (the /31's other half):
    this environment's own link, told apart from those of other servers on the host."""
    if address is None:
        return set()
    peer = ipaddress.ip_address(int(ipaddress.ip_address(address)) ^ 1)
    shown = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True, check=True)
    return {
        line.split()[1]
        for line in shown.stdout.splitlines()
        if line.split()[3].split("/")[0] == str(peer)
    }


def test_nothing_of_an_environments_network_outlives_a_killed_server(tmp_path: Path) -> None:
    process = GureumProcess(tmp_path / "data").start()
    try:
        client = _probe(process, "probe")
        seen = invoke(client, "probe", {"action": "whoami"}).json()
        namespace = seen["netns"]
        assert _holders(namespace)  # the environment is in it, the server holds it
        # Its own link (other servers on the host make and drop theirs meanwhile).
        links = _host_link_of(seen["address"])
        assert links or not process.health()["network"]["outside"]
    finally:
        process.kill()
    deadline = time.monotonic() + 10
    while (_holders(namespace) or links & _links()) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _holders(namespace) + sorted(links & _links())
    process.start()  # a restart sweeps what else a killed server leaves (its /tmp disks)
    process.stop()
    assert left == []


OUTSIDE_SERVICE = """\
import socket, sys
listener = socket.socket()
listener.bind(("0.0.0.0", int(sys.argv[1])))
listener.listen(8)
while True:
    connection, (host, _) = listener.accept()
    connection.sendall(host.encode())  # who it sees: the host's address, if masqueraded
    connection.close()
"""


@pytest.fixture
def outside_service() -> Iterator[tuple[str, int]]:
    """A TCP service on another machine, as far as the host can tell: in a network namespace
    behind a veth of the host's, at 198.51.100.2 (TEST-NET-2), answering with who it sees."""
    name, port = f"gureum-outside-{os.getpid()}", 8080
    subprocess.run(["ip", "netns", "add", name], check=True)
    service = None
    try:
        setup = (
            f"link add gt{os.getpid()} type veth peer name eth0 netns {name}\n"
            f"addr add 198.51.100.1/30 dev gt{os.getpid()}\n"
            f"link set gt{os.getpid()} up\n"
        )
        subprocess.run(["ip", "-batch", "-"], input=setup, text=True, check=True)
        inside = (
            "addr add 198.51.100.2/30 dev eth0\nlink set eth0 up\nlink set lo up\n"
            "route add default via 198.51.100.1\n"
        )
        subprocess.run(["ip", "-n", name, "-batch", "-"], input=inside, text=True, check=True)
        run = ["ip", "netns", "exec", name, sys.executable, "-c", OUTSIDE_SERVICE, str(port)]
        service = subprocess.Popen(run)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("198.51.100.2", port)):
                break
            time.sleep(0.05)
        yield "198.51.100.2", port
    finally:
        if service is not None:
            service.kill()
            service.wait()
        subprocess.run(["ip", "netns", "delete", name], check=False)  # its veth goes with it


def test_a_function_reaches_the_outside_network_through_nat(
    server: GureumProcess, function_name: str, outside_service: tuple[str, int]
) -> None:
    if shutil.which("nft") is None:  # then the server says it has no outside (tested apart)
        pytest.skip("nftables is not installed")
    assert server.health()["network"]["outside"] is True, server.health()["network"]
    client = _probe(server, function_name)
    host, port = outside_service
    reached = invoke(client, function_name, {"action": "connect", "hosts": [host], "port": port})
    assert reached.function_error is None, reached.payload
    # Masqueraded: the service sees the host's address on its side, not the environment's.
    assert reached.json() == [{"ok": "198.51.100.1"}]
