"""One streamed response on its way from a runtime to the caller (spec 9.5).

The Runtime API feeds it the chunks of a `Lambda-Runtime-Function-Response-Mode: streaming`
response as they arrive; the caller (InvokeWithResponseStream, a RESPONSE_STREAM function URL)
reads them as they come. It is a small bounded buffer: past `HIGH_WATER` bytes unread, the
runtime's connection stops being read (`pause`) until the caller has caught up (`resume`), so a
slow reader slows the function down instead of growing the server's memory, as TCP would.

    WAITING ──begin──> STREAMING ──end──> ENDED
       └────────────────── end ─────────────┘     (the function answered buffered, or failed)
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable

HIGH_WATER = 1 << 20
# AWS's largest streamed response (spec 10.8): 200 MB.
STREAM_LIMIT = 200 * 1024 * 1024


class ResponseStream:
    """Chunks of one invocation's response; `started` resolves when the runtime begins to
    stream (True) or the invocation ended without streaming (False)."""

    def __init__(self) -> None:
        self.started: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.content_type = "application/octet-stream"
        self.size = 0
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._ended = False
        self._wakeup: asyncio.Future[None] | None = None
        self.pause: Callable[[], None] = lambda: None
        self.resume: Callable[[], None] = lambda: None
        self._paused = False

    @property
    def streaming(self) -> bool:
        return self.started.done() and self.started.result()

    def begin(self, content_type: str | None) -> None:
        """The runtime started a streaming response."""
        if content_type:
            self.content_type = content_type
        if not self.started.done():
            self.started.set_result(True)

    def feed(self, chunk: bytes) -> bool:
        """A piece of the body; False once the stream is past AWS's limit (it is then ended)."""
        if self._ended or not chunk:
            return not self._ended
        self.size += len(chunk)
        if self.size > STREAM_LIMIT:
            self.end()
            return False
        self._chunks.append(chunk)
        self._buffered += len(chunk)
        if self._buffered > HIGH_WATER and not self._paused:
            self._paused = True
            self.pause()
        self._wake()
        return True

    def end(self) -> None:
        """No more chunks: the response is complete, failed, or the invocation is over."""
        self._ended = True
        if not self.started.done():
            self.started.set_result(False)
        self._wake()

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The chunks as they come, until the stream ends."""
        while True:
            while self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk)
                if self._paused and self._buffered <= HIGH_WATER // 2:
                    self._paused = False
                    self.resume()
                yield chunk
            if self._ended:
                return
            self._wakeup = asyncio.get_running_loop().create_future()
            await self._wakeup
            self._wakeup = None
