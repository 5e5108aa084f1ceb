"""uvicorn's httptools protocol with the request head bounded, as front ends bound it.

llhttp parses a header section of any size and uvicorn keeps every field it is given, so a
request with a megabyte of headers (or a million small ones) is read, held and handed on whole.
AWS's endpoints, like every front end, refuse such requests before anything else runs: nginx at
32 KiB by default, most proxies at 8 to 64 KiB, Apache at 100 header fields. Past
`MAX_HEAD_BYTES` (request target and header fields together) or `MAX_HEADER_FIELDS` fields, the
request is answered 431 Request Header Fields Too Large and the connection closed; nothing of it
reaches the app.

The close lingers, as nginx's does: the answer goes out, then whatever the client is still
sending is read and dropped for a moment, so the kernel does not reset the connection (which
would destroy the 431 before the client reads it).

A response goes out in one write where it can (`CoalescingTransport`): uvicorn writes a
response's head and its body separately, and on a socket with TCP_NODELAY each write is a
system call and a segment of its own, which the client must wait for and read one by one. On a
warm invoke that is a tenth of the server's work and a wake-up of the client more.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
MAX_HEADER_FIELDS = 100
LINGER_SECONDS = 2.0
_BODY = b"Request Header Fields Too Large"


class CoalescingTransport:
    """A connection's transport that holds a response head until the next write (its body,
    normally written in the same turn of the loop) and sends both in one; a head with nothing
    after it goes out at the end of the turn (a streamed response's first chunk may be slow),
    and anything that closes or ends the connection sends it first. Every other call is the
    transport's own."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held = b""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._held:
            data, self._held = self._held + data, b""
        elif data[:5] == b"HTTP/" and data[-4:] == b"\r\n\r\n":
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
            return
        self._transport.write(data)

    def flush(self) -> None:
        if self._held:
            held, self._held = self._held, b""
            if not self._transport.is_closing():
                self._transport.write(held)

    def writelines(self, lines: Any) -> None:
        self.write(b"".join(lines))

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class HeadTooLarge(Exception):
    """Raised inside a parser callback to stop reading a head past the bounds."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that refuses a head past MAX_HEAD_BYTES or MAX_HEADER_FIELDS with 431.

    Fields are measured as they complete (`on_url`, `on_header`); a field still arriving is
    measured by the raw bytes received while the head stays open, so even one endless header
    is cut off within a read of the limit.
    """

    # Set in connection_made and on_message_begin, which run before any data arrives.
    _head_bytes: int
    _head_open: bool
    _raw_head_bytes: int
    _messages: int
    _refused: bool

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        coalescing = CoalescingTransport(transport, self.loop)
        super().connection_made(coalescing)  # type: ignore[arg-type]
        self._head_bytes = self._raw_head_bytes = self._messages = 0
        self._head_open = self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering: read and dropped
        open_before, messages = self._head_open, self._messages
        super().data_received(data)
        if self._refused or not (open_before and self._head_open):
            return
        # The whole chunk belonged to the head of one message (if no new message began in it).
        if messages == self._messages:
            self._raw_head_bytes += len(data)
            if self._raw_head_bytes > MAX_HEAD_BYTES:
                self._refuse()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = self._raw_head_bytes = 0
        self._head_open = True
        self._messages += 1

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)  # "name: value\r\n"
        if len(self.headers) >= MAX_HEADER_FIELDS:
            self._refused = True
            raise HeadTooLarge
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_open = False
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers any exception from a parser callback with a 400; ours means 431.
        if self._refused:
            self._refuse()
        else:
            super().send_400_response(msg)

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            self._refused = True
            raise HeadTooLarge

    def _refuse(self) -> None:
        self._refused = True
        self.logger.warning(
            "Request head past %d bytes or %d fields: 431", MAX_HEAD_BYTES, MAX_HEADER_FIELDS
        )
        content = [STATUS_LINE[431]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: text/plain; charset=utf-8\r\n",
                b"content-length: " + str(len(_BODY)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                _BODY,
            ]
        )
        self.transport.write(b"".join(content))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)
