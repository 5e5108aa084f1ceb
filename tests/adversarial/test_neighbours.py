"""Two gureum servers on one host (parallel CI jobs, two users): no function reaches the other's.

Issue #20, item 2. Every environment's Runtime API listens at 127.0.0.1:9001 in the
environment's own network namespace (issue #21, item 7), out of a neighbour's reach. What must
hold besides: environments have uids unique on the host, whatever number of servers run, and a
Runtime API talks only to its own environment's processes, not to anyone who shares (or borrows)
its uid, even from inside its network namespace.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.support.functions import create, invoke
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

pytestmark = pytest.mark.adversarial

CLONE_NEWNET = 0x40000000
FORGED = b'"forged by a neighbour"'
RUNTIME_API_PORT = 9001  # in each environment's own network namespace
COLD_START = 6.0  # seconds the victim spends in Init: the window a neighbour would use

# Takes the invocation waiting behind a Runtime API and answers it, or reports why it could not.
FORGE = """\
import json
import socket
import sys
import time

NEXT = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"


def forge(port, seconds, payload):
    deadline = time.monotonic() + seconds
    refusals = []
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
                connection.sendall(NEXT)
                reply = connection.recv(65536)
                marker = b"Lambda-Runtime-Aws-Request-Id: "
                if marker in reply:
                    request_id = reply.split(marker, 1)[1].split(b"\\r\\n", 1)[0]
                    connection.sendall(
                        b"POST /2018-06-01/runtime/invocation/" + request_id + b"/response "
                        b"HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(payload)
                        + payload
                    )
                    answer = connection.recv(65536)
                    return {"took": request_id.decode(), "answer": answer[:12].decode()}
                refusals.append(reply[:40].decode("latin-1") or "closed")
        except OSError as error:
            refusals.append(type(error).__name__)
        time.sleep(0.05)
    return {"took": None, "refusals": len(refusals), "last": refusals[-3:]}


if __name__ == "__main__":
    port, seconds = int(sys.argv[1]), float(sys.argv[2])
    print(json.dumps(forge(port, seconds, sys.argv[3].encode())))
"""

HOSTILE = (
    FORGE
    + """

def handler(event, context):
    import os

    if event.get("action") == "uid":
        time.sleep(event.get("hold", 0))  # busy: concurrent calls get environments of their own
        return os.getuid()
    return forge(event["port"], event["seconds"], event["payload"].encode())
"""
)

VICTIM = f"""\
import time

time.sleep({COLD_START})  # a slow Init, as a big import or a connection pool would be


def handler(event, context):
    return {{"from": "the victim itself"}}
"""


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[GureumProcess, GureumProcess]]:
    """Two servers, each with its own data directory and port, on this one host."""
    first = GureumProcess(tmp_path / "a").start()
    try:
        second = GureumProcess(tmp_path / "b").start()
        try:
            yield first, second
        finally:
            second.stop()
    finally:
        first.stop()


def _listening_ports(pid: int) -> set[int]:
    """The loopback TCP ports process `pid` listens on (the server's and its environments'),
    in the server's network namespace and in those of the processes under it."""
    inodes = set()
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for member in [pid, *_under(pid)]:
        try:
            with open(f"/proc/{member}/net/tcp") as table:
                rows = table.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _under(root: int) -> dict[int, int]:
    """Every process under `root`, with its uid."""
    parents: dict[int, int] = {}
    uids: dict[int, int] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
        except OSError:
            continue
        parents[int(entry)] = int(fields["PPid"])
        uids[int(entry)] = int(fields["Uid"].split()[0])
    found = {}
    for pid, uid in uids.items():
        ancestor = parents.get(pid, 0)
        while ancestor not in (0, 1, root):
            ancestor = parents.get(ancestor, 0)
        if ancestor == root:
            found[pid] = uid
    return found


def _new_runtime_api(server: GureumProcess, before: set[int]) -> int:
    """The port of the victim's Runtime API, once its runtime is starting: a new one, or 9001
    in its own network namespace, where every environment's is (ready sandboxes listen there
    before any cold start takes them, so 9001 is in `before` already)."""
    assert server.process is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        listening = _listening_ports(server.process.pid)
        if new := listening - before:
            return new.pop()
        started = any(uid != 0 for uid in _under(server.process.pid).values())
        if started and RUNTIME_API_PORT in listening:
            return RUNTIME_API_PORT
        time.sleep(0.02)
    raise AssertionError("the victim's Runtime API never appeared")


def _environment(server: GureumProcess) -> tuple[int, int]:
    """The pid and uid of the one sandboxed process under `server` (the victim, in its Init)."""
    assert server.process is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for pid, uid in _under(server.process.pid).items():
            if uid != 0:
                return pid, uid
        time.sleep(0.02)  # its Runtime API is up; the process itself may still be forking
    raise AssertionError("no sandboxed process under the server")


def _impostor(pid: int, uid: int) -> Callable[[], None]:
    """What a process runs before becoming an impostor: it joins the network namespace of
    `pid` (a root's privilege, which it then drops) and takes `uid`."""

    def become() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        os.close(fd)
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)

    return become


def _cold_start_with(
    server: GureumProcess, attack: Callable[[int], dict[str, Any]]
) -> tuple[dict[str, Any], bytes, str | None]:
    """Invokes a slow-starting victim on `server`; runs `attack(port)` during its Init.

    Returns what the attack reported, and the victim caller's payload and function error.
    """
    client = server.client()
    create(client, "victim", Code={"ZipFile": zip_of({"index.py": VICTIM})}, Timeout=30)
    assert server.process is not None
    before = _listening_ports(server.process.pid)
    with ThreadPoolExecutor(1) as pool:
        called = pool.submit(invoke, client, "victim", {})
        port = _new_runtime_api(server, before)
        report: dict[str, Any] = attack(port)
        result = called.result(timeout=60)
    return report, result.payload, result.function_error


def test_a_neighbour_server_function_cannot_answer_for_a_cold_start(
    servers: tuple[GureumProcess, GureumProcess],
) -> None:
    victim_server, hostile_server = servers
    hostile = hostile_server.client()
    create(hostile, "hostile", Code={"ZipFile": zip_of({"index.py": HOSTILE})}, Timeout=30)
    warm = invoke(hostile, "hostile", {"action": "uid"}, LogType="Tail")  # now warm, waiting
    assert warm.function_error is None, (warm.payload, warm.log)

    def attack(port: int) -> dict[str, Any]:
        event = {"port": port, "seconds": COLD_START - 2, "payload": FORGED.decode()}
        attempted = invoke(hostile, "hostile", event, LogType="Tail")
        assert attempted.function_error is None, (attempted.payload, attempted.log)
        report: dict[str, Any] = attempted.json()
        return report

    report, payload, error = _cold_start_with(victim_server, attack)
    assert payload != FORGED, f"the caller received the neighbour's answer: {report}"
    assert report["took"] is None, report
    assert report["refusals"] > 0, report  # it really kept trying during the whole Init
    assert error is None, payload
    assert payload == b'{"from": "the victim itself"}'


def test_a_host_process_with_the_environments_uid_cannot_answer_for_it(
    servers: tuple[GureumProcess, GureumProcess],
) -> None:
    """The uid alone is not a credential: anyone may run as the same number, even (with root's
    help) inside the environment's network namespace."""
    victim_server, _ = servers

    def attack(port: int) -> dict[str, Any]:
        pid, uid = _environment(victim_server)
        run = subprocess.run(
            ["/usr/bin/python3", "-I", "-S", "-c", FORGE, str(port), "4", FORGED.decode()],
            preexec_fn=_impostor(pid, uid),
            capture_output=True,
            timeout=30,
            check=True,
        )
        report: dict[str, Any] = json.loads(run.stdout)
        return report

    report, payload, error = _cold_start_with(victim_server, attack)
    assert payload != FORGED, f"the caller received the impostor's answer: {report}"
    assert report["took"] is None, report
    assert "closed" in report["last"], report  # it reached the listener, which let it go
    assert error is None, payload
    assert payload == b'{"from": "the victim itself"}'


def test_environments_of_two_servers_never_share_a_uid(
    servers: tuple[GureumProcess, GureumProcess],
) -> None:
    seen: dict[str, list[int]] = {}
    for label, server in zip("ab", servers, strict=True):
        client = server.client()
        create(client, "whoami", Code={"ZipFile": zip_of({"index.py": HOSTILE})}, Timeout=30)
        # Three at once: three environments per server, all kept (idle) afterwards.
        with ThreadPoolExecutor(3) as pool:
            calls = [
                pool.submit(invoke, client, "whoami", {"action": "uid", "hold": 1.5})
                for _ in range(3)
            ]
            seen[label] = [call.result(timeout=60).json() for call in calls]
    # Server a held its three environments (idle, within the keep-alive) while b made its own.
    assert len(set(seen["a"])) == 3, seen
    assert len(set(seen["b"])) == 3, seen
    assert not set(seen["a"]) & set(seen["b"]), seen
