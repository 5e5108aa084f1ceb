"""The floor: a do-nothing HTTP server answering the Invoke route, in its own process.

`asgi` is the stack gureum itself serves on (uvicorn + httptools + uvloop) with a bare ASGI app,
so a gureum figure divided by this one is the cost of gureum's own work. `raw` is asyncio +
uvloop + httptools with no ASGI layer at all, shown as a note: the lowest a Python server goes.
Both read the whole body, then answer `null` with 200 (202 for `X-Amz-Invocation-Type: Event`).

    python -m benchmarks.floor --port 4700 [--kind asgi|raw]
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, cast

import httptools
import uvicorn
import uvloop

Message = MutableMapping[str, Any]
_EVENT = (b"x-amz-invocation-type", b"Event")
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"4")]


async def asgi_app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body", False):
        pass
    status = 202 if _EVENT in scope["headers"] else 200
    await send({"type": "http.response.start", "status": status, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": b"null"})


class RawProtocol(asyncio.Protocol):
    """HTTP/1.1 keep-alive with httptools and nothing else."""

    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.event = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def on_message_begin(self) -> None:
        self.event = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == _EVENT[0] and value == _EVENT[1]:
            self.event = True

    def on_message_complete(self) -> None:
        status = b"202 Accepted" if self.event else b"200 OK"
        if self.transport is not None:
            self.transport.write(
                b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
                b"content-length: 4\r\n\r\nnull"
            )


async def serve_raw(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(RawProtocol, host, port, backlog=2048)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.floor")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--kind", choices=("asgi", "raw"), default="asgi")
    args = parser.parse_args()
    if args.kind == "raw":
        uvloop.run(serve_raw(args.host, args.port))
        return
    uvicorn.run(
        asgi_app,
        host=args.host,
        port=args.port,
        http="httptools",
        loop="uvloop",
        lifespan="off",
        access_log=False,
        log_level="warning",
        backlog=2048,
    )


if __name__ == "__main__":
    main()
