"""The Lambda Runtime API (spec 9), one listener per execution environment.

A runtime is ready when it is blocked in `GET /next`; handing it an invocation completes that
request. The protocol is a state machine with its transitions in a table; a call that is not a
legal move from the current state gets AWS's `InvalidStateTransition` 403, and a response or error
for an id other than the one being served gets `InvalidRequestID` 400, as the reference
implementation (aws-lambda-runtime-interface-emulator, `rapi/handler/*`) answers.

The HTTP layer is httptools on a bare asyncio protocol: the warm invoke path crosses it twice.
Every listener is on a loopback: the environment's own (with isolation, network.py) or the
host's, open to the whole host. Either way a connection is served only once it is known to come
from the environment's own processes (peers.py), once per connection.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import cast

import httptools

from gureum.lambda_.sandbox.peers import RuntimePeers
from gureum.lambda_.sandbox.response_stream import STREAM_LIMIT, ResponseStream

log = logging.getLogger("gureum.runtime_api")

MAX_RESPONSE = 6 * 1024 * 1024 + 100
# What a connection may send before it is admitted: a runtime's first request and no more.
MAX_UNADMITTED = 64 * 1024
# A request head (line and headers) no runtime client comes near; past it the connection is
# refused, so a function cannot make the server buffer headers without end.
MAX_HEAD = 64 * 1024
PREFIX = b"/2018-06-01/runtime"


class RuntimeState(StrEnum):
    INITIALIZING = "Initializing"
    READY = "Ready"
    INVOKING = "Invoking"
    INIT_FAILED = "InitFailed"
    # SnapStart: a template waits in `restore/next` (its snapshot); a restored environment
    # starts RESTORING, is answered at its `restore/next`, then runs its after-restore hooks.
    SNAPSHOTTED = "RestoreReady"
    RESTORING = "Restoring"
    RESTORED = "Restored"
    RESTORE_FAILED = "RestoreFailed"


class Move(StrEnum):
    NEXT = "Next"
    RESPONSE = "InvocationResponse"
    ERROR = "InvocationErrorResponse"
    INIT_ERROR = "InitErrorResponse"
    RESTORE_NEXT = "RestoreNext"
    RESTORE_ERROR = "RestoreErrorResponse"
    DELIVER = "Invoke"  # the platform's move: `next` returns an invocation


_TRANSITIONS: dict[tuple[RuntimeState, Move], RuntimeState] = {
    (RuntimeState.INITIALIZING, Move.NEXT): RuntimeState.READY,
    (RuntimeState.INITIALIZING, Move.INIT_ERROR): RuntimeState.INIT_FAILED,
    (RuntimeState.READY, Move.NEXT): RuntimeState.READY,
    (RuntimeState.READY, Move.DELIVER): RuntimeState.INVOKING,
    (RuntimeState.INVOKING, Move.RESPONSE): RuntimeState.READY,
    (RuntimeState.INVOKING, Move.ERROR): RuntimeState.READY,
    (RuntimeState.INITIALIZING, Move.RESTORE_NEXT): RuntimeState.SNAPSHOTTED,
    (RuntimeState.RESTORING, Move.RESTORE_NEXT): RuntimeState.RESTORED,
    (RuntimeState.RESTORED, Move.NEXT): RuntimeState.READY,
    (RuntimeState.RESTORED, Move.RESTORE_ERROR): RuntimeState.RESTORE_FAILED,
}


@dataclass(frozen=True, slots=True)
class Invocation:
    """What the runtime receives from `next`."""

    request_id: str
    payload: bytes
    deadline_ms: int
    invoked_function_arn: str
    trace_id: str
    client_context: str | None = None
    # Where a streamed response goes as it comes (InvokeWithResponseStream, a RESPONSE_STREAM
    # URL); None buffers it, as Invoke does.
    stream: ResponseStream | None = None


class OutcomeKind(StrEnum):
    RESPONSE = "response"
    ERROR = "error"
    INIT_ERROR = "init_error"
    TOO_LARGE = "too_large"


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: OutcomeKind
    body: bytes
    error_type: str | None = None
    # The body went to the invocation's ResponseStream as it came (`body` holds only an error).
    streamed: bool = False


@dataclass
class RuntimeSession:
    """The Runtime API state of one environment, shared by its connections."""

    state: RuntimeState = RuntimeState.INITIALIZING
    current: Invocation | None = None
    outcome: asyncio.Future[Outcome] | None = None
    waiter: asyncio.Future[Invocation] | None = None
    queued: Invocation | None = None
    # Who may connect: the runtime's own processes (every environment's Runtime API listens on
    # loopback, reachable by all of them). None lets anyone in: without isolation, functions run
    # as the server's own user anyway.
    peers: RuntimePeers | None = None
    on_ready: Callable[[], None] = lambda: None
    on_init_error: Callable[[Outcome], None] = lambda outcome: None

    def move(self, move: Move) -> str | None:
        """Applies a move; returns the 403 message when it is not legal."""
        target = _TRANSITIONS.get((self.state, move))
        if target is None:
            return (
                f"State transition from {self.state} to {move} failed for runtime. "
                "Error: State transition is not allowed"
            )
        self.state = target
        return None

    def submit(self, invocation: Invocation) -> asyncio.Future[Outcome]:
        """Hands an invocation to the runtime (now if it waits in `next`, else when it asks)."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self.outcome = future
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(invocation)
        else:
            self.queued = invocation
        return future

    def finish(self, outcome: Outcome) -> None:
        if self.outcome is not None and not self.outcome.done():
            self.outcome.set_result(outcome)


class _Connection(asyncio.Protocol):
    def __init__(self, session: RuntimeSession, trusted: bool = False) -> None:
        self._session = session
        self._trusted = trusted  # a connection gureum made itself: see `serve_channel`
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._headers: dict[bytes, bytes] = {}
        self._body: list[bytes] = []
        self._size = 0
        self._task: asyncio.Task[None] | None = None
        self._admission: asyncio.Task[None] | None = None
        self._held: list[bytes] | None = None  # what arrived before admission
        self._head = 0  # bytes fed while a request's head is still incomplete
        self._in_head = False
        # The stream a `streaming` response of the current request is fed to (spec 9.5).
        self._stream: ResponseStream | None = None
        self._streamed = 0

    # asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; they have its methods.
        self._transport = cast(asyncio.Transport, transport)
        peers = self._session.peers
        if peers is not None and not self._trusted:
            # Nothing sent is acted on until the peer is known to be the runtime. (Held rather
            # than only paused: uvloop delivers the first read even when paused right here.)
            self._held = []
            self._transport.pause_reading()
            loop = asyncio.get_running_loop()
            self._admission = loop.create_task(self._admit(peers, self._transport))

    async def _admit(self, peers: RuntimePeers, transport: asyncio.Transport) -> None:
        peer = transport.get_extra_info("peername")
        own = transport.get_extra_info("sockname")
        try:
            admitted = peer is not None and own is not None and await peers.admits(peer[1], own[1])
        except Exception:  # an unreadable /proc, say: refuse rather than trust
            log.exception("a Runtime API connection was refused: its peer could not be checked")
            admitted = False
        held, self._held = self._held or [], None
        if admitted and not transport.is_closing():
            transport.resume_reading()
            for data in held:
                self.data_received(data)
            return
        transport.close()
        self._transport = None

    def data_received(self, data: bytes) -> None:
        if self._held is not None:
            self._held.append(data)
            if sum(map(len, self._held)) > MAX_UNADMITTED:
                self._close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._reply(400, {"errorMessage": "Bad request", "errorType": "BadRequest"})
            self._close()
            return
        if self._in_head:  # the parser keeps a head's bytes until it is complete: bound them
            self._head += len(data)
            if self._head > MAX_HEAD:
                too_large = {"errorMessage": "Request head too large", "errorType": "BadRequest"}
                self._reply(431, too_large)
                self._close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        for task in (self._task, self._admission):
            if task is not None:
                task.cancel()

    # httptools callbacks -----------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._url, self._headers, self._body, self._size = b"", {}, [], 0
        self._in_head, self._head = True, 0
        self._stream, self._streamed = None, 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        mode = self._headers.get(b"lambda-runtime-function-response-mode", b"").lower()
        if mode == b"streaming":
            self._begin_stream()

    def _begin_stream(self) -> None:
        """A response sent in streaming mode, for the invocation being served, whose caller
        reads a stream: its chunks go to the caller as they arrive, not into a buffer. (Checks
        that fail here are answered, as for any response, once the request is complete.)"""
        current, session = self._session.current, self._session
        if current is None or current.stream is None or session.state is not RuntimeState.INVOKING:
            return
        route = self._url.split(b"?", 1)[0][len(PREFIX) :]
        if route != b"/invocation/" + current.request_id.encode() + b"/response":
            return
        stream = self._stream = current.stream
        content_type = self._headers.get(b"content-type", b"").decode("latin-1")
        transport = self._transport
        if transport is not None:
            stream.pause, stream.resume = transport.pause_reading, transport.resume_reading
        stream.begin(content_type or None)

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        if self._stream is not None:
            self._streamed += len(body)
            self._stream.feed(body)  # past AWS's limit it ends the stream: see `_result`
            return
        self._size += len(body)
        if self._size <= MAX_RESPONSE:
            self._body.append(body)

    def on_message_complete(self) -> None:
        # Handled now, before the parser reads on: a runtime may send its response and its next
        # `next` in one write (ours does), and the response's headers and body are this
        # connection's until the next message begins. Only `next` waits, in a task.
        method = self._parser.get_method()
        path = self._url.split(b"?", 1)[0]
        if method == b"GET" and path == PREFIX + b"/invocation/next":
            self._task = asyncio.get_running_loop().create_task(self._next())
        elif method == b"GET" and path == PREFIX + b"/restore/next":
            self._restore_next()
        else:
            self._handle(method, path)

    # requests ----------------------------------------------------------------------------
    def _handle(self, method: bytes, path: bytes) -> None:
        if not path.startswith(PREFIX):
            self._reply(404, {"errorMessage": "Not found", "errorType": "NotFound"})
            return
        route = path[len(PREFIX) :]
        if method == b"POST" and route == b"/init/error":
            self._init_error()
        elif method == b"POST" and route == b"/restore/error":
            self._restore_error()
        elif method == b"POST" and route.startswith(b"/invocation/"):
            request_id, _, action = route[len(b"/invocation/") :].partition(b"/")
            if action not in (b"response", b"error"):
                self._reply(404, {"errorMessage": "Not found", "errorType": "NotFound"})
                return
            self._result(request_id.decode(), action)
        else:
            self._reply(404, {"errorMessage": "Not found", "errorType": "NotFound"})

    def _restore_next(self) -> None:
        """A template's `restore/next` is its snapshot: Init is done, and it is never answered
        (its restored children ask again on their own channels). A restored environment's is
        answered at once: it has been restored."""
        session = self._session
        problem = session.move(Move.RESTORE_NEXT)
        if problem is not None:
            self._reply(403, {"errorMessage": problem, "errorType": "InvalidStateTransition"})
            return
        if session.state is RuntimeState.SNAPSHOTTED:
            session.on_ready()
            return
        self._write(200, [(b"Content-Type", b"application/json")], b"")

    def _restore_error(self) -> None:
        """An after-restore hook failed: the restore ends as a failed Init does."""
        self._init_error(Move.RESTORE_ERROR)

    async def _next(self) -> None:
        session = self._session
        was = session.state
        problem = session.move(Move.NEXT)
        if problem is not None:
            self._reply(403, {"errorMessage": problem, "errorType": "InvalidStateTransition"})
            return
        if was in (RuntimeState.INITIALIZING, RuntimeState.RESTORED):
            session.on_ready()
        invocation = session.queued
        session.queued = None
        if invocation is None:
            if session.waiter is not None and not session.waiter.done():
                message = "A next request is already outstanding for this runtime."
                self._reply(403, {"errorMessage": message, "errorType": "InvalidStateTransition"})
                return
            session.waiter = asyncio.get_running_loop().create_future()
            invocation = await session.waiter
            session.waiter = None
        session.move(Move.DELIVER)
        session.current = invocation
        headers = [
            (b"Lambda-Runtime-Aws-Request-Id", invocation.request_id.encode()),
            (b"Lambda-Runtime-Deadline-Ms", str(invocation.deadline_ms).encode()),
            (b"Lambda-Runtime-Invoked-Function-Arn", invocation.invoked_function_arn.encode()),
            (b"Lambda-Runtime-Trace-Id", invocation.trace_id.encode()),
            (b"Content-Type", b"application/json"),
        ]
        if invocation.client_context:
            headers.append((b"Lambda-Runtime-Client-Context", invocation.client_context.encode()))
        self._write(200, headers, invocation.payload)

    def _result(self, request_id: str, action: bytes) -> None:
        session = self._session
        current = session.current
        # One answer per invocation: after it, `current` is cleared, so a second one is refused.
        # (Asynchronous retries reuse the request id, so ids alone cannot tell attempts apart.)
        if current is None or current.request_id != request_id:
            self._reply(
                400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}
            )
            return
        move = Move.RESPONSE if action == b"response" else Move.ERROR
        problem = session.move(move)
        if problem is not None:
            self._reply(403, {"errorMessage": problem, "errorType": "InvalidStateTransition"})
            return
        session.current = None
        stream = self._stream
        if stream is not None:
            stream.pause = stream.resume = lambda: None
            self._transport_resume()
        if self._size > MAX_RESPONSE or (stream is not None and stream.size > STREAM_LIMIT):
            limit = MAX_RESPONSE if stream is None else STREAM_LIMIT
            message = f"Exceeded maximum allowed payload size ({limit} bytes)."
            self._reply(413, {"errorMessage": message, "errorType": "RequestEntityTooLarge"})
            session.finish(Outcome(OutcomeKind.TOO_LARGE, b"", streamed=stream is not None))
            return
        body = b"".join(self._body)
        self._reply(202, {"status": "OK"})
        # A streamed response reports a failure after its body, in trailers (spec 9.5): the
        # error's type, and its document base64-encoded.
        mode = self._headers.get(b"lambda-runtime-function-response-mode", b"").lower()
        trailer_type = self._headers.get(b"lambda-runtime-function-error-type")
        if move is Move.RESPONSE and (trailer_type is None or mode != b"streaming"):
            session.finish(Outcome(OutcomeKind.RESPONSE, body, streamed=stream is not None))
        elif move is Move.RESPONSE and trailer_type is not None:
            document = _trailer_body(self._headers.get(b"lambda-runtime-function-error-body"))
            error_type = trailer_type.decode("latin-1") or "Unhandled"
            session.finish(
                Outcome(OutcomeKind.ERROR, document, error_type, streamed=stream is not None)
            )
        else:
            error_type = self._headers.get(b"lambda-runtime-function-error-type", b"").decode()
            session.finish(Outcome(OutcomeKind.ERROR, body, error_type or None))

    def _transport_resume(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.resume_reading()

    def _init_error(self, move: Move = Move.INIT_ERROR) -> None:
        session = self._session
        problem = session.move(move)
        if problem is not None:
            self._reply(403, {"errorMessage": problem, "errorType": "InvalidStateTransition"})
            return
        error_type = self._headers.get(b"lambda-runtime-function-error-type", b"").decode()
        self._reply(202, {"status": "OK"})
        session.on_init_error(Outcome(OutcomeKind.INIT_ERROR, b"".join(self._body), error_type))

    # writing -----------------------------------------------------------------------------
    def _reply(self, status: int, document: dict[str, str]) -> None:
        self._write(status, [(b"Content-Type", b"application/json")], json.dumps(document).encode())

    def _write(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        reason = {200: b"OK", 202: b"Accepted", 400: b"Bad Request", 403: b"Forbidden"}
        head = [b"HTTP/1.1 %d %s" % (status, reason.get(status, b"Error"))]
        head += [name + b": " + value for name, value in headers]
        head.append(b"Content-Length: %d" % len(body))
        self._transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _trailer_body(value: bytes | None) -> bytes:
    """The error document of a `Lambda-Runtime-Function-Error-Body` trailer (base64)."""
    if not value:
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value  # not base64: the runtime's own words, as they came


async def serve_runtime_api(
    current: Callable[[], RuntimeSession], sock: socket.socket | None = None
) -> asyncio.Server:
    """Serves one environment's runtime: on `sock` (a listener in the environment's own network
    namespace, network.py), or else on a free port of the host's loopback.

    `current` gives the session of the environment's current runtime process: the listener's
    address outlives a reset, the protocol state does not.
    """
    loop = asyncio.get_running_loop()
    if sock is not None:
        return await loop.create_server(lambda: _Connection(current()), sock=sock)
    return await loop.create_server(lambda: _Connection(current()), "127.0.0.1", 0)


async def serve_channel(session: RuntimeSession, sock: socket.socket) -> None:
    """Serves one runtime process on a connection gureum made itself: one end of a socket pair
    whose other end went only into that process's sandbox, before any code ran there. So there
    is no one to check at the other end, and no connection to wait for."""
    loop = asyncio.get_running_loop()
    await loop.connect_accepted_socket(lambda: _Connection(session, trusted=True), sock=sock)
