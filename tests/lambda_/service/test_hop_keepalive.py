"""The hop's keep-alive, front door side, against agents speaking the protocol on a real socket:
an agent that says `running` keeps its caller waiting past `STALE_AFTER`; one silent that long
is lost (ServiceException), though its connection stays open (a cut path, not a closed one)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from gureum.aws.errors import ServiceError
from gureum.lambda_.api.hop import HopClient, frame, read_frame
from gureum.lambda_.sandbox.environment import InvocationRequest, InvocationResult
from gureum.lambda_.services.agents import STALE_AFTER
from gureum.lambda_.services.invoker import Target
from tests.support.model import a_function

KEY = "k" * 32
RESULT = {
    "op": "result",
    "function_error": False,
    "error_type": None,
    "duration_ms": 1.0,
    "init_duration_ms": None,
    "streamed": False,
    "trace_id": None,
    "logs": 0,
}

Agent = Callable[[asyncio.StreamWriter], Awaitable[None]]


async def through(
    agent: Agent, promises: bool = True
) -> tuple[InvocationResult | ServiceError, float]:
    """One invocation from a HopClient to `agent` (after hello and the invoke frame); its hello
    `promises` to say `running` while it works, or (an agent from before `running`) not."""

    done = asyncio.Event()
    closed = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hello, _ = await read_frame(reader)
        assert hello["running"] is True  # the front door asks for `running`
        writer.write(frame({"op": "hello", "agent": "a", "running": promises}))
        await read_frame(reader)
        await agent(writer)
        await done.wait()  # open until the caller is through: silence, not a reset
        writer.close()
        closed.set()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    function = a_function()
    target = Target(function, function.latest, "arn:aws:lambda:us-east-1:123456789012:function:f")
    client = HopClient(KEY)
    started = time.monotonic()
    try:
        outcome: InvocationResult | ServiceError = await client.run(
            f"127.0.0.1:{port}", target, InvocationRequest("r-1", b"{}", target.invoked_arn)
        )
    except ServiceError as error:
        outcome = error
    waited = time.monotonic() - started
    client.close()
    done.set()
    await closed.wait()
    server.close()
    await server.wait_closed()
    return outcome, waited


def test_an_agent_saying_running_is_waited_for_past_the_silence_limit() -> None:
    async def agent(writer: asyncio.StreamWriter) -> None:
        for _ in range(4):
            await asyncio.sleep(1.0)
            writer.write(frame({"op": "running"}))
        writer.write(frame(RESULT, b'"done"'))

    outcome, waited = asyncio.run(through(agent))
    assert isinstance(outcome, InvocationResult)
    assert outcome.payload == b'"done"'
    assert waited > STALE_AFTER


def test_a_silent_agent_is_lost_after_the_silence_limit() -> None:
    async def agent(writer: asyncio.StreamWriter) -> None:
        writer.write(frame({"op": "running"}))  # then nothing, as over a cut path

    outcome, waited = asyncio.run(through(agent))
    assert isinstance(outcome, ServiceError)
    assert "lost" in outcome.message
    assert waited == pytest.approx(STALE_AFTER, abs=1.0)


def test_an_agent_that_never_promised_running_is_not_held_to_the_silence_limit() -> None:
    """A cluster upgraded one process at a time: an older agent says nothing while it works."""

    async def agent(writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(STALE_AFTER + 1.0)
        writer.write(frame(RESULT, b'"late"'))

    outcome, waited = asyncio.run(through(agent, promises=False))
    assert isinstance(outcome, InvocationResult)
    assert outcome.payload == b'"late"'
    assert waited > STALE_AFTER
