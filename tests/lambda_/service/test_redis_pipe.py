"""The Redis ledger's pipe against a real redis-server, and against servers that misbehave:
many callers on one connection each get their own reply; a script Redis lacks is loaded; a
password and a database are used; a Redis that stops answering, goes away or restarts fails
the calls it owes with redis-py's errors, and the next call connects again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gureum.lambda_.store.redis_pipe import Script, ScriptPipe
from tests.support.redis import RedisServer

T = TypeVar("T")
ECHO = Script.of("return {KEYS[1], ARGV[1]}")
SET = Script.of("redis.call('SET', KEYS[1], ARGV[1]) return 1")


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(scenario())  # type: ignore[arg-type]


def pipe_to(url: str, timeout: float = 2.0) -> ScriptPipe:
    return ScriptPipe(url, timeout=timeout, connect_timeout=1.0)


def test_many_callers_on_one_connection_each_get_their_own_reply(
    redis_server: RedisServer,
) -> None:
    async def scenario() -> list[object]:
        pipe = pipe_to(redis_server.url)
        try:
            calls = [pipe.run(ECHO, [f"k{n}"], [n]) for n in range(300)]
            return list(await asyncio.gather(*calls))
        finally:
            pipe.close()

    assert run(scenario) == [[f"k{n}".encode(), str(n).encode()] for n in range(300)]


def test_a_script_redis_lacks_is_loaded_and_then_called_by_its_id(
    redis_server: RedisServer,
) -> None:
    client = redis.Redis(port=redis_server.port)
    client.script_flush()

    async def scenario() -> None:
        pipe = pipe_to(redis_server.url)
        try:
            assert await pipe.run(ECHO, ["a"], ["1"]) == [b"a", b"1"]
            assert client.script_exists(ECHO.sha.decode()) == [True]
            assert await pipe.run(ECHO, ["b"], ["2"]) == [b"b", b"2"]
        finally:
            pipe.close()

    run(scenario)
    client.close()


def test_an_error_in_a_script_is_its_callers_alone(redis_server: RedisServer) -> None:
    broken = Script.of("return redis.call('INCR', KEYS[1])")
    client = redis.Redis(port=redis_server.port)
    client.set("not-a-number", "x")

    async def scenario() -> None:
        pipe = pipe_to(redis_server.url)
        try:
            failing = pipe.run(broken, ["not-a-number"], [])
            fine = pipe.run(ECHO, ["k"], ["v"])
            answers = await asyncio.gather(failing, fine, return_exceptions=True)
            assert isinstance(answers[0], ResponseError)
            assert answers[1] == [b"k", b"v"]
        finally:
            pipe.close()

    run(scenario)
    client.close()


def test_a_password_and_a_database_are_used(own_redis: RedisServer) -> None:
    own_redis.start()
    admin = redis.Redis(port=own_redis.port)
    admin.config_set("requirepass", "s@cret")

    async def scenario() -> None:
        pipe = pipe_to(f"redis://:s%40cret@127.0.0.1:{own_redis.port}/3")
        wrong = pipe_to(f"redis://:nope@127.0.0.1:{own_redis.port}/3")
        try:
            assert await pipe.run(SET, ["written"], ["here"]) == 1
            with pytest.raises(RedisConnectionError, match="refused"):
                await wrong.run(SET, ["written"], ["there"])
        finally:
            pipe.close()
            wrong.close()

    run(scenario)
    reader = redis.Redis(port=own_redis.port, password="s@cret", db=3)
    assert reader.get("written") == b"here"
    assert redis.Redis(port=own_redis.port, password="s@cret", db=0).get("written") is None
    reader.close()
    admin.close()


def test_redis_restarted_empty_is_reached_again_at_the_next_call(
    own_redis: RedisServer,
) -> None:
    own_redis.start()

    async def scenario() -> None:
        pipe = pipe_to(own_redis.url)
        try:
            assert await pipe.run(ECHO, ["a"], ["1"]) == [b"a", b"1"]
            own_redis.stop()
            with pytest.raises(RedisConnectionError):
                await pipe.run(ECHO, ["a"], ["2"])
            own_redis.start()  # empty: the script is loaded again on the new connection
            assert await pipe.run(ECHO, ["a"], ["3"]) == [b"a", b"3"]
        finally:
            pipe.close()

    run(scenario)


class Silent:
    """A server that accepts connections and reads, never answering; counts connections."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        while await reader.read(65536):
            pass
        writer.close()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self._writers:
            writer.close()
        await self.server.wait_closed()


def test_a_redis_that_stops_answering_times_the_calls_out_and_is_left(tmp_path: object) -> None:
    async def scenario() -> None:
        silent = Silent()
        port = await silent.start()
        pipe = pipe_to(f"redis://127.0.0.1:{port}/0", timeout=0.3)
        try:
            first = asyncio.ensure_future(pipe.run(ECHO, ["a"], ["1"]))
            await asyncio.sleep(0.1)
            second = asyncio.ensure_future(pipe.run(ECHO, ["b"], ["2"]))
            answers = await asyncio.wait_for(
                asyncio.gather(first, second, return_exceptions=True), 5
            )
            # The first waited out its time and closed the connection; the second, owed on
            # that connection, fails with it rather than wait for an answer that cannot come.
            assert isinstance(answers[0], RedisTimeoutError)
            assert isinstance(answers[1], RedisConnectionError)
            with pytest.raises(RedisTimeoutError):
                await pipe.run(ECHO, ["c"], ["3"])
            assert silent.connections == 2  # the next call connected afresh
        finally:
            pipe.close()
            await silent.stop()

    run(scenario)


def test_nothing_listening_is_a_connection_error(tmp_path: object) -> None:
    async def scenario() -> None:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        pipe = pipe_to(f"redis://127.0.0.1:{port}/0")
        with pytest.raises(RedisConnectionError):
            await pipe.run(ECHO, ["a"], ["1"])

    run(scenario)


@pytest.mark.parametrize("answer", [b"HTTP/1.1 400 Bad Request\r\n\r\n", b":not-a-number\r\n"])
def test_a_server_that_does_not_speak_resp_is_a_connection_error(answer: bytes) -> None:
    async def scenario() -> None:
        writers: list[asyncio.StreamWriter] = []

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            await reader.read(65536)
            writer.write(answer)

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        pipe = pipe_to(f"redis://127.0.0.1:{server.sockets[0].getsockname()[1]}/0")
        try:
            with pytest.raises(RedisConnectionError, match="not RESP"):
                await pipe.run(ECHO, ["a"], ["1"])
        finally:
            pipe.close()
            server.close()
            for writer in writers:
                writer.close()
            await server.wait_closed()

    run(scenario)


def test_callers_that_arrive_while_redis_is_dialled_share_the_one_attempt() -> None:
    """A Redis that takes the connection but never answers its AUTH: every caller waiting for
    that connection fails within the one connect timeout, not one after another."""

    async def scenario() -> float:
        silent = Silent()
        port = await silent.start()
        pipe = ScriptPipe(f"redis://:pw@127.0.0.1:{port}/0", timeout=5.0, connect_timeout=0.3)
        started = asyncio.get_running_loop().time()
        try:
            calls = [pipe.run(ECHO, ["a"], [n]) for n in range(10)]
            answers = await asyncio.gather(*calls, return_exceptions=True)
            assert all(isinstance(answer, RedisTimeoutError) for answer in answers), answers
            assert silent.connections == 1
            return asyncio.get_running_loop().time() - started
        finally:
            pipe.close()
            await silent.stop()

    assert run(scenario) < 2.0  # ten attempts one after another would take 3 s


def test_a_caller_that_gives_up_leaves_the_attempt_to_the_others(
    redis_server: RedisServer,
) -> None:
    async def scenario() -> None:
        pipe = pipe_to(redis_server.url)
        try:
            impatient = asyncio.ensure_future(pipe.run(ECHO, ["a"], ["1"]))
            patient = asyncio.ensure_future(pipe.run(ECHO, ["b"], ["2"]))
            await asyncio.sleep(0)
            impatient.cancel()
            assert await patient == [b"b", b"2"]
        finally:
            pipe.close()

    run(scenario)
