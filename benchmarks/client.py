"""The lean HTTP/1.1 client that drives every target: keep-alive, pre-rendered requests.

One response parser (sans-I/O) under two transports: a blocking socket for sequential latency
(nothing between the clock and the kernel but a `sendall` and a `recv`) and an asyncio protocol
for many concurrent clients in one process. Both reconnect once if the server closed an idle
connection (uvicorn drops keep-alive connections after 5 s of silence).
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass

# Counted in place of the status when an invoke answers 200 but the function failed
# (`X-Amz-Function-Error`): a crashed environment must not pass for a fast invoke.
FUNCTION_ERROR = 600
# Counted in place of the status when the server closed the connection without an answer.
NO_ANSWER = 0


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes

    @property
    def outcome(self) -> int:
        return FUNCTION_ERROR if "x-amz-function-error" in self.headers else self.status


def describe(outcome: int) -> str:
    names = {FUNCTION_ERROR: "function error", NO_ANSWER: "connection closed, no answer"}
    return names.get(outcome, str(outcome))


class ConnectionClosed(Exception):
    """The server closed the connection before a whole response arrived."""


class ResponseParser:
    """Feed bytes in; get a `Response` once one is complete. Handles length and chunked bodies."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Response | None:
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        start = end + 4
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return self._chunked(status, headers, start)
        length = int(headers.get("content-length", "0"))
        if len(self._buffer) < start + length:
            return None
        body = bytes(self._buffer[start : start + length])
        del self._buffer[: start + length]
        return Response(status, headers, body)

    def _chunked(self, status: int, headers: dict[str, str], start: int) -> Response | None:
        body = bytearray()
        position = start
        while True:
            line_end = self._buffer.find(b"\r\n", position)
            if line_end < 0:
                return None
            size = int(bytes(self._buffer[position:line_end]).split(b";")[0], 16)
            chunk_start = line_end + 2
            if len(self._buffer) < chunk_start + size + 2:
                return None
            if size == 0:  # no trailers are sent by any target here
                del self._buffer[: chunk_start + 2]
                return Response(status, headers, bytes(body))
            body += self._buffer[chunk_start : chunk_start + size]
            position = chunk_start + size + 2


class BlockingConnection:
    """One keep-alive connection used by one thread, one request at a time."""

    def __init__(self, host: str, port: int, timeout: float = 60.0) -> None:
        self.address = (host, port)
        self.timeout = timeout
        self._socket: socket.socket | None = None

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket = sock
        return sock

    def exchange(self, data: bytes) -> Response:
        for attempt in (1, 2):
            fresh = self._socket is None
            sock = self._socket or self._connect()
            try:
                return self._exchange(sock, data)
            except (ConnectionClosed, ConnectionResetError, BrokenPipeError):
                self.close()
                if fresh or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _exchange(self, sock: socket.socket, data: bytes) -> Response:
        sock.sendall(data)
        parser = ResponseParser()
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionClosed
            response = parser.feed(chunk)
            if response is not None:
                if response.headers.get("connection", "").lower() == "close":
                    self.close()
                return response

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = ResponseParser()
        self.waiter: asyncio.Future[Response] | None = None
        self.closed = False

    def data_received(self, data: bytes) -> None:
        response = self.parser.feed(data)
        if response is not None and self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(response)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionClosed())


class AsyncConnection:
    """One keep-alive connection for one asyncio task, one request at a time."""

    async def outcome(self, data: bytes) -> int:
        """The response's outcome, or `NO_ANSWER` if the connection failed (the next call
        reconnects)."""
        try:
            return (await self.exchange(data)).outcome
        except (ConnectionClosed, OSError):
            self.close()
            return NO_ANSWER

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._transport: asyncio.Transport | None = None
        self._protocol: _Protocol | None = None

    async def _connect(self) -> tuple[asyncio.Transport, _Protocol]:
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_connection(_Protocol, self.host, self.port)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._transport, self._protocol = transport, protocol
        return transport, protocol

    async def exchange(self, data: bytes) -> Response:
        for attempt in (1, 2):
            fresh = self._protocol is None or self._protocol.closed
            if fresh:
                transport, protocol = await self._connect()
            else:
                assert self._transport is not None
                assert self._protocol is not None
                transport, protocol = self._transport, self._protocol
            protocol.waiter = asyncio.get_running_loop().create_future()
            transport.write(data)
            try:
                return await protocol.waiter
            except ConnectionClosed:
                self.close()
                if fresh or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self._transport = self._protocol = None
