"""Debug mode against real servers: a real DAP client attaches to debugpy through the host's
127.0.0.1 port, stops at a breakpoint in a Python function past its timeout (suspended while
attached), and continues; a debugger that never attaches fails Init with a clear message; the
Node.js inspector answers on its port."""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.functions import Invoked, create, invoke
from tests.support.packages import zip_of
from tests.support.server import GureumProcess, free_port

DEBUGGED = "debugged"
HANDLER = """\
def handler(event, context):
    answer = {"doubled": event["n"] * 2}
    return answer
"""
BREAK_LINE = 3  # `return answer`


class Dap:
    """The Debug Adapter Protocol over one TCP connection (what VS Code speaks to debugpy)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.buffer = b""
        self.seq = 0
        self.seen: list[dict[str, Any]] = []

    def send(self, command: str, **arguments: Any) -> int:
        self.seq += 1
        body = json.dumps(
            {"seq": self.seq, "type": "request", "command": command, "arguments": arguments}
        ).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self.seq

    def _read(self) -> dict[str, Any]:
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = int(head.split(b":")[1])
        while len(rest) < length:
            rest += self._recv()
        self.buffer = rest[length:]
        message: dict[str, Any] = json.loads(rest[:length])
        self.seen.append(message)
        return message

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        assert data, f"the debugger's connection closed; seen: {self.seen}"
        return data

    def wait(self, kind: str, name: str) -> dict[str, Any]:
        """The next message of `kind` (event / response) named `name`."""
        key = "event" if kind == "event" else "command"
        while True:
            message = self._read()
            if message["type"] == kind and message.get(key) == name:
                return message

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def debug_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    python_port, node_port = free_port(), free_port()
    process = GureumProcess(
        tmp_path_factory.mktemp("debug") / "data",
        "--debug-functions",
        f"{DEBUGGED},{DEBUGGED}-node",
        "--debug-wait",
        "60",
        "--debug-port",
        str(python_port),
        "--inspect-port",
        str(node_port),
    ).start()
    process.python_port = python_port  # type: ignore[attr-defined]
    process.node_port = node_port  # type: ignore[attr-defined]
    yield process
    process.stop()


def test_a_debugger_stops_at_a_breakpoint_past_the_timeout(
    debug_server: GureumProcess, tmp_path: Path
) -> None:
    client = debug_server.client()
    create(client, DEBUGGED, Code={"ZipFile": zip_of({"index.py": HANDLER})}, Timeout=1)
    result: list[Invoked] = []
    invoking = threading.Thread(
        target=lambda: result.append(invoke(client, DEBUGGED, {"n": 21})), daemon=True
    )
    invoking.start()  # Init waits for the debugger (--debug-wait)

    dap = Dap(debug_server.python_port)  # type: ignore[attr-defined]
    try:
        dap.send(
            "initialize",
            adapterID="debugpy",
            clientID="gureum-test",
            linesStartAt1=True,
            columnsStartAt1=True,
            pathFormat="path",
        )
        dap.wait("response", "initialize")
        dap.send("attach", justMyCode=False)
        dap.wait("event", "initialized")
        dap.send(
            "setBreakpoints",
            source={"path": "/var/task/index.py"},
            breakpoints=[{"line": BREAK_LINE}],
        )
        verified = dap.wait("response", "setBreakpoints")
        assert verified["success"], verified
        dap.send("configurationDone")
        stopped = dap.wait("event", "stopped")
        assert stopped["body"]["reason"] == "breakpoint"
        # Paused past the function's 1-second timeout: the invocation is not killed.
        time.sleep(2.5)
        assert invoking.is_alive()
        dap.send("continue", threadId=stopped["body"]["threadId"])
        invoking.join(30)
    finally:
        dap.close()
    assert result, "the invocation did not finish"
    assert result[0].function_error is None, result[0].payload
    assert result[0].json() == {"doubled": 42}


def run_if_waiting(url: str) -> dict[str, Any]:
    """What a debugger sends the inspector to let a waiting Node.js run: one WebSocket text
    frame (masked, as a client's must be), then the inspector's answer."""
    parts = urllib.parse.urlsplit(url)
    sock = socket.create_connection((parts.hostname or "", parts.port or 80), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 101"), reply
    rest = reply.partition(b"\r\n\r\n")[2]
    payload = json.dumps({"id": 1, "method": "Runtime.runIfWaitingForDebugger"}).encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
    while len(rest) < 2 or len(rest) < 2 + (rest[1] & 0x7F):
        rest += sock.recv(4096)
    length = rest[1] & 0x7F
    answer: dict[str, Any] = json.loads(rest[2 : 2 + length])
    sock.close()
    return answer


def test_the_node_inspector_answers_on_its_port(debug_server: GureumProcess) -> None:
    client = debug_server.client()
    source = "exports.handler = async (event) => ({ node: true });\n"
    create(
        client,
        f"{DEBUGGED}-node",
        Runtime="nodejs20.x",
        Code={"ZipFile": zip_of({"index.js": source})},
    )
    result: list[Invoked] = []
    invoking = threading.Thread(
        target=lambda: result.append(invoke(client, f"{DEBUGGED}-node", {})), daemon=True
    )
    invoking.start()  # Init waits for a debugger
    port = debug_server.node_port  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                targets = json.load(r)
            break
        except OSError:
            assert time.monotonic() < deadline, "the inspector never answered"
            time.sleep(0.1)
    assert targets[0]["type"] == "node"
    # Inside, the inspector is at the same port; the host reaches it through 127.0.0.1.
    url = targets[0]["webSocketDebuggerUrl"].replace("ws://", "http://")
    assert run_if_waiting(url) == {"id": 1, "result": {}}
    invoking.join(30)
    assert result, "the invocation did not finish"
    assert result[0].json() == {"node": True}


def test_a_debugger_that_never_attaches_fails_init_clearly(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    port = free_port()
    process = GureumProcess(
        tmp_path_factory.mktemp("debug-wait") / "data",
        "--debug-functions",
        DEBUGGED,
        "--debug-wait",
        "1",
        "--debug-port",
        str(port),
        "--inspect-port",
        str(free_port()),
    ).start()
    try:
        client = process.client()
        create(client, DEBUGGED, Code={"ZipFile": zip_of({"index.py": HANDLER})})
        answer = invoke(client, DEBUGGED, {"n": 1})
        assert answer.function_error == "Unhandled"
        assert answer.json() == {
            "errorType": "Runtime.DebuggerNotAttached",
            "errorMessage": f"No debugger attached to 127.0.0.1:{port} within 1 seconds "
            "(--debug-wait): the function did not run.",
        }
    finally:
        process.stop()


def test_functions_not_named_run_as_usual(debug_server: GureumProcess) -> None:
    # Off unless named: no debugger, no wait (this server waits 60 s for named ones), nothing
    # of debug mode in the function's environment.
    client = debug_server.client()
    source = "import os\n\ndef handler(event, context):\n    return sorted(os.environ)\n"
    create(client, "plain", Code={"ZipFile": zip_of({"index.py": source})})
    names = invoke(client, "plain", {}).json()
    assert not [n for n in names if "DEBUG" in n]
