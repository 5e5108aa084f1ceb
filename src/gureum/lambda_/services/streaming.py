"""InvokeWithResponseStream (spec 9.5, 10.6): an invocation whose response reaches the caller
as the function writes it.

The invocation runs in a task of its own, under the same admission, pool and metrics as Invoke
(`Invoker.run`); the caller's answer starts once the runtime begins to stream, or once the
invocation is over when the function answers buffered (a Python function, a Node.js handler
not wrapped in `streamifyResponse`): that answer is one payload then, as AWS sends it. Errors
before the function ran (throttles, a missing function, KMS) are the operation's own errors, as
AWS answers them; after, they are `InvokeComplete`'s ErrorCode and ErrorDetails.

Whoever reads the events owns the invocation: closing them (the client went away) cancels it,
which resets its environment's runtime at once (the pool's lease sees it abandoned).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any

from gureum.aws.documents import UnreadableDocument, read_document
from gureum.lambda_.domain.arns import FunctionRef
from gureum.lambda_.sandbox.environment import InvocationRequest, InvocationResult
from gureum.lambda_.sandbox.response_stream import ResponseStream
from gureum.lambda_.services.context import Caller
from gureum.lambda_.services.invoker import (
    TAIL_BYTES,
    InvocationType,
    Invoker,
    Target,
    check_invocable,
    check_payload,
    decode_client_context,
)

EVENT_STREAM_TYPE = "application/vnd.amazon.eventstream"
Event = tuple[str, Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class StreamedInvocation:
    """An invocation under way: its version, and its response as it comes."""

    status: int
    executed_version: str | None
    stream: ResponseStream | None
    task: asyncio.Task[InvocationResult] | None
    tail: bool

    async def events(self) -> AsyncGenerator[Event, None]:
        """`PayloadChunk`s as the function writes, then one `InvokeComplete`."""
        task, stream = self.task, self.stream
        if task is None or stream is None:
            return
        try:
            async for chunk in stream.chunks():
                yield "PayloadChunk", {"Payload": chunk}
            result = await task
            if not result.streamed and not result.function_error and result.payload:
                yield "PayloadChunk", {"Payload": result.payload}
            yield "InvokeComplete", complete_event(result, self.tail)
        finally:
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def body(self) -> AsyncGenerator[bytes, None]:
        """The response's bytes alone (a RESPONSE_STREAM function URL), and the invocation's
        result at the end through `result`."""
        task, stream = self.task, self.stream
        if task is None or stream is None:
            return
        try:
            async for chunk in stream.chunks():
                yield chunk
            result = await task
            if not result.streamed and result.payload:
                yield result.payload
        finally:
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def result(self) -> InvocationResult:
        """The invocation's result, once it is over."""
        assert self.task is not None
        return await self.task


def complete_event(result: InvocationResult, tail: bool) -> dict[str, Any]:
    """InvokeComplete: the function's error, if any, and the log tail when asked for."""
    fields: dict[str, Any] = {}
    if result.function_error:
        code, details = _error_fields(result)
        fields["ErrorCode"] = code
        fields["ErrorDetails"] = details
    if tail:
        fields["LogResult"] = base64.b64encode(result.logs[-TAIL_BYTES:]).decode("ascii")
    return fields


def _error_fields(result: InvocationResult) -> tuple[str, str]:
    """The error's type and message, from the error document the runtime (or the platform:
    a timeout, a crash) sent; the document itself when it is not one."""
    try:
        document = read_document(result.payload) if result.payload else None
    except UnreadableDocument:
        document = None
    if isinstance(document, dict):
        code = str(document.get("errorType") or result.error_type or "Unhandled")
        return code, str(document.get("errorMessage", ""))
    return result.error_type or "Unhandled", result.payload.decode("utf-8", "replace")


class ResponseStreaming:
    """Starts streamed invocations over the Invoker (the one path every invocation takes)."""

    def __init__(self, invoker: Invoker) -> None:
        self._invoker = invoker

    async def invoke(
        self,
        caller: Caller,
        ref: FunctionRef,
        payload: bytes,
        invocation_type: InvocationType,
        tail: bool,
        client_context: str | None,
        request_id: str,
        trace_id: str | None = None,
    ) -> StreamedInvocation:
        context_text = decode_client_context(client_context)
        target = self._invoker.target(caller, ref)
        check_invocable(target.version)
        if invocation_type is InvocationType.DRY_RUN:
            return StreamedInvocation(204, None, None, None, tail)
        event = check_payload(payload)
        return await self.start(target, event, request_id, context_text, tail, trace_id)

    async def start(
        self,
        target: Target,
        event: bytes,
        request_id: str,
        client_context: str | None,
        tail: bool,
        trace_id: str | None = None,
    ) -> StreamedInvocation:
        """Runs `event` and answers once the response starts: raises what the invocation
        raised if it failed before anything was sent (a throttle is a 429, not a stream)."""
        stream = ResponseStream()
        request = InvocationRequest(
            request_id, event, target.invoked_arn, client_context, stream, trace_id
        )
        task = asyncio.ensure_future(self._invoker.run(target, request))
        task.add_done_callback(lambda _: stream.end())
        waiting: set[asyncio.Future[Any]] = {task, stream.started}
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
        return StreamedInvocation(200, target.version.version, stream, task, tail)
