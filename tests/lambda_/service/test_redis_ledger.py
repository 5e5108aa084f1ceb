"""The Redis ledger across processes, and when its processes or Redis go away (issue #24).

Separate processes (`tests.support.ledger_worker`) share one redis-server: with reserved
concurrency N, exactly N leases are granted whichever process asks; the leases of a process
killed with SIGKILL expire after their TTL and the counts repair themselves, while those of a
living process are renewed past it; a Redis that goes away answers ServiceException and the
ledger comes back with it, its reservations restored from the durable store.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from gureum.aws.errors import ServiceError
from gureum.lambda_.domain.concurrency import Lease, Limits
from gureum.lambda_.domain.errors import TooManyRequests
from gureum.lambda_.store.redis_ledger import RedisLedger, Rows
from tests.support.redis import RedisServer

SCOPE = ("000000000000", "us-east-1")
RESERVED = "ReservedFunctionConcurrentInvocationLimitExceeded"
ROOT = Path(__file__).resolve().parents[3]


class Worker:
    """One ledger_worker process: what it was granted, then release or SIGKILL."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, url: str, prefix: str, ttl: float, attempts: int) -> Worker:
        env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.support.ledger_worker",
            url,
            prefix,
            str(ttl),
            *SCOPE,
            "f",
            str(attempts),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            cwd=ROOT,
        )
        return cls(process)

    async def answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 30)
        assert line, "the worker exited without answering"
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def release(self) -> None:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(b"release\n")
        await self.process.stdin.drain()
        assert await asyncio.wait_for(self.process.stdout.readline(), 30) == b"released\n"
        assert await asyncio.wait_for(self.process.wait(), 30) == 0

    async def kill(self) -> None:
        self.process.kill()
        await self.process.wait()


async def refusal(ledger: RedisLedger) -> str | None:
    """Admits and gives back at once; the throttle reason when refused."""
    try:
        lease = await ledger.admit(SCOPE, "f", 0.0, 0.0)
    except TooManyRequests as refused:
        return str(refused.fields["Reason"])
    await ledger.release(lease)
    return None


def test_reserved_concurrency_holds_across_processes(
    redis_server: RedisServer, request: pytest.FixtureRequest
) -> None:
    prefix = f"cross:{request.node.name}:"

    async def scenario() -> None:
        ledger = RedisLedger(redis_server.url, Limits(), prefix=prefix)
        await ledger.reserve(SCOPE, "f", 3)
        workers = await asyncio.gather(
            *(Worker.start(redis_server.url, prefix, 30.0, 4) for _ in range(2))
        )
        answers = [await worker.answer() for worker in workers]
        # Eight attempts at once from two processes: three run, whichever process they are.
        assert sum(answer["granted"] for answer in answers) == 3
        assert sorted(r for answer in answers for r in answer["refused"]) == [RESERVED] * 5
        assert await refusal(ledger) == RESERVED
        await ledger.keep()
        assert ledger.in_flight(SCOPE, "f") == 3
        for worker in workers:
            await worker.release()
        await ledger.keep()
        assert ledger.in_flight(SCOPE, "f") == 0
        assert await refusal(ledger) is None
        await ledger.close()

    asyncio.run(scenario())


def test_a_killed_process_leases_expire_and_a_living_ones_are_renewed(
    redis_server: RedisServer, request: pytest.FixtureRequest
) -> None:
    prefix = f"cross:{request.node.name}:"

    async def scenario() -> None:
        ledger = RedisLedger(redis_server.url, Limits(), prefix=prefix)
        await ledger.reserve(SCOPE, "f", 2)
        worker = await Worker.start(redis_server.url, prefix, 1.0, 2)
        assert (await worker.answer())["granted"] == 2
        # Three TTLs later the worker's renewals still hold its leases.
        await asyncio.sleep(3.0)
        assert await refusal(ledger) == RESERVED
        await worker.kill()
        # Dead: its leases expire after their TTL, and the next script gives their counts back.
        deadline = time.monotonic() + 15
        while await refusal(ledger) == RESERVED:
            assert time.monotonic() < deadline, "the dead process's leases never expired"
            await asyncio.sleep(0.1)
        await ledger.keep()
        assert ledger.in_flight(SCOPE, "f") == 0
        await ledger.close()

    asyncio.run(scenario())


def test_redis_away_is_a_service_exception_and_the_ledger_recovers(own_redis: RedisServer) -> None:
    stored: tuple[Rows, Rows] = ([(*SCOPE, "f", 1)], [])

    async def restore() -> tuple[Rows, Rows]:
        return stored

    async def scenario() -> None:
        ledger = RedisLedger(own_redis.url, Limits(), restore=restore)
        lease = await ledger.admit(SCOPE, "f", 0.0, 0.0)  # the reservation restored first
        assert await refusal(ledger) == RESERVED
        own_redis.stop()
        for call in (
            ledger.admit(SCOPE, "f", 0.0, 0.0),
            ledger.release(lease),
            ledger.reserve(SCOPE, "f", 2),
            ledger.new_environment(SCOPE, "f", 0.0, (10, 10.0)),
            ledger.keep(),
        ):
            with pytest.raises(ServiceError) as caught:
                await call
            assert (caught.value.code, caught.value.status) == ("ServiceException", 500)
        # Back, empty (no persistence): the store's reservation is restored before admitting.
        own_redis.start()
        lease = await ledger.admit(SCOPE, "f", 0.0, 0.0)
        assert await refusal(ledger) == RESERVED
        await ledger.release(lease)
        assert await refusal(ledger) is None
        await ledger.close()

    own_redis.start()
    try:
        asyncio.run(scenario())
    finally:
        own_redis.stop()


def test_a_lease_is_one_round_trip_to_take_and_one_to_give(own_redis: RedisServer) -> None:
    """The warm invoke path's cost on Redis: what Redis's MONITOR sees the ledger send (the
    commands its scripts run inside Redis are marked `lua` and cost no round trip)."""

    async def sent(
        client: aioredis.Redis, marker: aioredis.Redis, action: Callable[[], Awaitable[object]]
    ) -> list[str]:
        async with client.monitor() as monitor:
            await action()
            await marker.echo("end")  # a connection already open: no HELLO
            seen: list[str] = []
            while True:
                command = await asyncio.wait_for(monitor.next_command(), 10)
                if command["command"] == "ECHO end":
                    return seen
                if command["client_type"] != "lua":
                    seen.append(command["command"].split(" ", 1)[0])

    async def scenario() -> list[list[str]]:
        ledger = RedisLedger(own_redis.url, Limits())
        client = aioredis.Redis.from_url(own_redis.url, decode_responses=True)
        marker = aioredis.Redis.from_url(own_redis.url)
        await marker.ping()
        await ledger.release(await ledger.admit(SCOPE, "f", 0.0, 0.0))  # scripts loaded
        answers = []
        leases: list[Lease] = []

        async def take() -> None:
            leases.append(await ledger.admit(SCOPE, "f", 1.0, 1.0))

        async def give() -> None:
            await ledger.release(leases.pop())

        for _ in range(3):
            answers.append(await sent(client, marker, take))
            answers.append(await sent(client, marker, give))
        await client.aclose()
        await marker.aclose()
        await ledger.close()
        return answers

    own_redis.start()
    assert asyncio.run(scenario()) == [["EVALSHA"]] * 6
