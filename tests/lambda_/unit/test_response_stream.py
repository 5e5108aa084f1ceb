"""A streamed response's buffer between the Runtime API and the caller: order, end, AWS's
limit, and the backpressure that pauses the runtime's connection."""

from __future__ import annotations

import asyncio

from gureum.lambda_.sandbox.response_stream import HIGH_WATER, STREAM_LIMIT, ResponseStream


def test_chunks_come_in_order_until_the_end() -> None:
    async def run() -> tuple[bool, list[bytes]]:
        stream = ResponseStream()
        stream.begin("text/plain")
        stream.feed(b"one")
        stream.feed(b"two")
        stream.end()
        return await stream.started, [chunk async for chunk in stream.chunks()]

    assert asyncio.run(run()) == (True, [b"one", b"two"])


def test_an_invocation_that_never_streamed_ends_with_started_false() -> None:
    async def run() -> tuple[bool, list[bytes]]:
        stream = ResponseStream()
        stream.end()
        return await stream.started, [chunk async for chunk in stream.chunks()]

    assert asyncio.run(run()) == (False, [])


def test_a_slow_reader_pauses_the_runtime_and_resumes_it() -> None:
    moves: list[str] = []

    async def run() -> None:
        stream = ResponseStream()
        stream.pause, stream.resume = (
            (lambda: moves.append("pause")),
            (lambda: moves.append("resume")),
        )
        stream.begin(None)
        for _ in range(3):
            stream.feed(b"x" * (HIGH_WATER // 2 + 1))
        stream.end()
        assert moves == ["pause"]
        async for _ in stream.chunks():
            pass

    asyncio.run(run())
    assert moves == ["pause", "resume"]


def test_past_aws_s_limit_the_stream_ends() -> None:
    async def run() -> tuple[bool, bool]:
        stream = ResponseStream()
        stream.begin(None)
        stream.size = STREAM_LIMIT - 1
        kept = stream.feed(b"xx")
        return kept, stream.feed(b"y")

    assert asyncio.run(run()) == (False, False)
