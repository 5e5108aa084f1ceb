"""Debug mode (`--debug-functions`): a function's runtime under a debugger the user's editor
attaches to from the host.

For each function named, Python runtimes start debugpy (pinned with gureum, bound into
/var/runtime) and Node.js runtimes the V8 inspector, listening inside the environment on the
port of their language: 5678 (debugpy's usual) and 9229 (Node's), or `--debug-port` /
`--inspect-port`. The same ports listen on the host's 127.0.0.1, and only there, never on
another interface; a connection to one is carried into the newest debugged environment of its
language (into its network namespace, network.connect_inside), so VS Code's "attach" needs
nothing but `localhost:5678`.

While a debugger is connected, the invocation's timeout is suspended (`DebugSession`): a paused
invoke is not killed; the time spent attached is given back. With `--debug-wait SECONDS` the
runtime waits, at Init, for a debugger before running anything (debugpy's `wait_for_client`,
the inspector's `open(..., wait)`), and an Init that sees none attach within that time fails with
a message saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gureum.lambda_.sandbox.network import FORWARD_CHUNK, NetworkNamespace, connect_inside

log = logging.getLogger("gureum.debugging")

# How long a debugger's connection waits for a debugged environment to start and listen (a
# user attaches first, then invokes).
CONNECT_PATIENCE = 60.0
CONNECT_RETRY = 0.05


class DebugSession:
    """One environment's debugger connections: whether one is attached, and for how long in
    all (the time an invocation's timeout is suspended)."""

    def __init__(self, namespace: NetworkNamespace | None, inner_port: int) -> None:
        self.namespace = namespace
        self.inner_port = inner_port
        self.connections = 0
        self._attached_total = 0.0
        self._since = 0.0
        self._change: asyncio.Future[None] | None = None

    @property
    def attached(self) -> bool:
        return self.connections > 0

    def attached_seconds(self, now: float) -> float:
        return self._attached_total + (now - self._since if self.attached else 0.0)

    def change(self) -> asyncio.Future[None]:
        """Resolves at the next attach or detach."""
        if self._change is None or self._change.done():
            self._change = asyncio.get_running_loop().create_future()
        return self._change

    def _moved(self) -> None:
        if self._change is not None and not self._change.done():
            self._change.set_result(None)

    def attach(self) -> None:
        if self.connections == 0:
            self._since = time.monotonic()
        self.connections += 1
        self._moved()

    def detach(self) -> None:
        self.connections -= 1
        if self.connections == 0:
            self._attached_total += time.monotonic() - self._since
        self._moved()


@dataclass(frozen=True, slots=True)
class DebugSettings:
    functions: frozenset[str]
    wait: float = 0.0
    python_port: int = 5678
    node_port: int = 9229


class Debugger:
    """The host's debugger ports and the debugged environments behind them (event loop)."""

    def __init__(self, settings: DebugSettings) -> None:
        self.settings = settings
        self._servers: list[asyncio.Server] = []
        self._current: dict[int, DebugSession] = {}
        self._registered: dict[int, asyncio.Event] = {}

    def port_for(self, function_name: str, runtime: str) -> int | None:
        """The host port of a function in debug mode (by its runtime's language), or None."""
        if function_name not in self.settings.functions:
            return None
        if runtime.startswith("python"):
            return self.settings.python_port
        if runtime.startswith("nodejs"):
            return self.settings.node_port
        return None  # a custom runtime brings its own debugger, if any

    async def start(self) -> None:
        if not self.settings.functions:
            return
        for port in (self.settings.python_port, self.settings.node_port):
            self._registered[port] = asyncio.Event()
            server = await asyncio.start_server(self._server_for(port), "127.0.0.1", port)
            self._servers.append(server)
            log.warning(
                "debug mode for %s: debugger port 127.0.0.1:%d",
                ", ".join(sorted(self.settings.functions)),
                port,
            )

    def _server_for(
        self, port: int
    ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._serve(port, reader, writer)

        return serve

    def close(self) -> None:
        for server in self._servers:
            server.close()
        self._servers.clear()

    def register(self, port: int, namespace: NetworkNamespace | None) -> DebugSession:
        """A debugged environment starting now: the port's target from now on."""
        inner = port if namespace is not None else _free_port()
        session = DebugSession(namespace, inner)
        self._current[port] = session
        event = self._registered.setdefault(port, asyncio.Event())
        event.set()
        return session

    def unregister(self, session: DebugSession) -> None:
        for port, current in list(self._current.items()):
            if current is session:
                del self._current[port]
                self._registered[port] = asyncio.Event()

    async def _serve(
        self, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Carries one debugger connection into the port's debugged environment."""
        try:
            inside = await self._connect(port)
        except (OSError, TimeoutError) as exc:
            log.warning("debugger on port %d: no debugged environment to attach to: %s", port, exc)
            writer.close()
            return
        session, sock = inside
        inner_reader, inner_writer = await asyncio.open_connection(sock=sock)
        session.attach()
        try:
            await asyncio.gather(_pipe(reader, inner_writer), _pipe(inner_reader, writer))
        finally:
            session.detach()
            for stream in (writer, inner_writer):
                stream.close()

    async def _connect(self, port: int) -> tuple[DebugSession, socket.socket]:
        """The port's current environment and a connection to its debugger, waiting for both:
        an editor may attach before the function's first invocation starts it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CONNECT_PATIENCE
        while True:
            event = self._registered.setdefault(port, asyncio.Event())
            await asyncio.wait_for(event.wait(), max(deadline - loop.time(), 0.001))
            session = self._current.get(port)
            if session is not None:
                try:
                    sock = await loop.run_in_executor(
                        None, connect_inside, session.namespace, session.inner_port
                    )
                except OSError:
                    if loop.time() > deadline:
                        raise
                    await asyncio.sleep(CONNECT_RETRY)  # not listening yet: it is starting
                    continue
                sock.setblocking(False)
                return session, sock


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while chunk := await source.read(FORWARD_CHUNK):
            sink.write(chunk)
            await sink.drain()
    sink.close()


def _free_port() -> int:
    """A port for a debugger inside an environment that shares the host's network."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
