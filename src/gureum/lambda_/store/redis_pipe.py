"""The Redis ledger's scripts over one pipelined connection: the hot path of every invocation.

Every invocation on the Redis ledger takes a lease (one script) and gives it back (another). Sent
through redis-py, each script cost this process some 150 us of CPU (a pooled connection taken and
given back, the command packed argument by argument, the reply parsed, retry and event hooks
around it all), about a third of what an agent spends on a warm invoke. Here a script is one
write of bytes on one connection that every caller shares: replies come back in the order the
commands went (Redis answers a connection's commands in order), so each caller's future is
simply the oldest one waiting. Redis's own answers are unchanged: the same scripts, run by
EVALSHA, loaded with EVAL when Redis lacks them (new, or restarted).

Faults keep redis-py's meaning, and its exception types, so the ledger maps them as before:
- the connection is made at the first call and again at the first call after it ended (Redis
  restarted or away): a call never waits for a connection that is gone, and the callers that
  arrive while it is being made wait for that one attempt (a Redis out of reach fails them all
  within the connect timeout);
- a call that gets no answer within `timeout` closes the connection (whatever it still owes is
  lost with it) and raises `redis.exceptions.TimeoutError`; every call waiting on it fails too,
  with `ConnectionError`;
- a command is never sent twice: one that was written before the connection broke may have run,
  and running an admission twice would count a lease that nobody holds.

`redis://`, `rediss://` (TLS) and `unix://` URLs, with a password (and user), a database and
redis-py's TLS options (`Address`); the server refuses at start-up a URL with options it would
not honour.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import ssl
from dataclasses import dataclass
from typing import cast
from urllib.parse import parse_qs, unquote, urlsplit

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

Reply = int | bytes | str | list["Reply"] | None | ResponseError


@dataclass(frozen=True, slots=True)
class Script:
    source: bytes
    sha: bytes

    @classmethod
    def of(cls, source: str) -> Script:
        encoded = source.encode()
        return cls(encoded, hashlib.sha1(encoded).hexdigest().encode())  # Redis's script id


# redis-py's TLS options in a URL's query, and how each is read.
_CERT_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}
_OPTIONS = ("db", "ssl_cert_reqs", "ssl_ca_certs", "ssl_check_hostname")


@dataclass(frozen=True, slots=True)
class Address:
    """Where Redis is, as a redis-py URL says it: `redis://[[user]:password@]host[:port][/db]`,
    `rediss://` for TLS (with `ssl_cert_reqs`, `ssl_ca_certs` and `ssl_check_hostname` in the
    query, as redis-py takes them), `unix:///path?db=N`. Anything else in the query is refused
    rather than ignored (ValueError): the server would run with an option it was not given."""

    host: str
    port: int
    path: str | None  # a unix socket
    tls: bool
    username: str | None
    password: str | None
    db: int
    cert_reqs: str = "required"
    ca_certs: str | None = None
    check_hostname: bool = True

    @classmethod
    def parse(cls, url: str) -> Address:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"not a Redis URL: {url!r}")
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        if unknown := sorted(set(query) - set(_OPTIONS)):
            raise ValueError(f"options gureum does not take in a Redis URL: {', '.join(unknown)}")
        in_path = parts.path.lstrip("/") if parts.scheme != "unix" else ""
        db = query.get("db") or in_path or "0"
        if not db.isdecimal():
            raise ValueError(f"not a Redis database number: {db!r}")
        cert_reqs = query.get("ssl_cert_reqs", "required").lower()
        if cert_reqs not in _CERT_REQS:
            raise ValueError(f"ssl_cert_reqs must be none, optional or required: {cert_reqs!r}")
        check = query.get("ssl_check_hostname", "true").lower()
        if check not in ("true", "false"):
            raise ValueError(f"ssl_check_hostname must be true or false: {check!r}")
        return cls(
            parts.hostname or "localhost",
            parts.port or 6379,
            parts.path if parts.scheme == "unix" else None,
            parts.scheme == "rediss",
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None,  # none, or empty: no AUTH
            int(db),
            cert_reqs,
            query.get("ssl_ca_certs"),
            check == "true",
        )

    def tls_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        context = ssl.create_default_context(cafile=self.ca_certs)
        context.check_hostname = self.check_hostname and self.cert_reqs != "none"
        context.verify_mode = _CERT_REQS[self.cert_reqs]
        return context


def command(*parts: object) -> bytes:
    """A command as Redis reads it (RESP: an array of bulk strings; a part that is not bytes is
    sent as its `str`)."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part if isinstance(part, bytes) else str(part).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class _Incomplete(Exception):
    """The buffer ends inside a reply: wait for more bytes."""


def parse(buffer: bytes | bytearray, at: int) -> tuple[Reply, int]:
    """One RESP2 reply from `buffer[at:]`, and where the next begins; `_Incomplete` if the buffer
    ends first. An error reply is returned (as `ResponseError`), not raised: it is one caller's."""
    end = buffer.find(b"\r\n", at)
    if end < 0:
        raise _Incomplete
    kind, line = buffer[at], bytes(buffer[at + 1 : end])
    if kind == 0x3A:  # ':' integer
        return int(line), end + 2
    if kind == 0x24:  # '$' bulk string
        size = int(line)
        if size < 0:
            return None, end + 2
        if len(buffer) < end + 2 + size + 2:
            raise _Incomplete
        if buffer[end + 2 + size : end + 4 + size] != b"\r\n":  # else every later reply slips
            raise RedisConnectionError("Redis sent what is not RESP: a bulk string too long")
        return bytes(buffer[end + 2 : end + 2 + size]), end + 2 + size + 2
    if kind == 0x2A:  # '*' array
        count = int(line)
        if count < 0:
            return None, end + 2
        items: list[Reply] = []
        at = end + 2
        for _ in range(count):
            item, at = parse(buffer, at)
            items.append(item)
        return items, at
    if kind == 0x2B:  # '+' simple string
        return line.decode(), end + 2
    if kind == 0x2D:  # '-' error
        return ResponseError(line.decode(errors="replace")), end + 2
    raise RedisConnectionError(f"Redis sent what is not RESP: {bytes(buffer[at : at + 16])!r}")


class _Connection(asyncio.Protocol):
    """One connection: commands written as they come, replies handed out in order."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._waiting: collections.deque[asyncio.Future[Reply]] = collections.deque()
        self._buffer = bytearray()
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        at = 0
        try:
            while self._waiting and at < len(self._buffer):
                reply, at = parse(self._buffer, at)
                future = self._waiting.popleft()
                if not future.done():  # its caller gave up (timed out, cancelled)
                    future.set_result(reply)
        except _Incomplete:
            pass
        except (RedisConnectionError, ValueError) as exc:  # not RESP: nothing more can be read
            error = exc if isinstance(exc, RedisConnectionError) else None
            self._fail(error or RedisConnectionError(f"Redis sent what is not RESP: {exc}"))
            self.abort()
            return
        del self._buffer[:at]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._fail(RedisConnectionError(f"Connection to Redis lost: {exc or 'closed by Redis'}"))

    def _fail(self, error: Exception) -> None:
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(error)

    def send(self, payload: bytes) -> asyncio.Future[Reply]:
        assert self.transport is not None
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        self.transport.write(payload)
        return future

    @property
    def usable(self) -> bool:
        return not self.lost and self.transport is not None and not self.transport.is_closing()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class ScriptPipe:
    """Runs scripts on one pipelined connection to Redis (event loop only)."""

    def __init__(self, url: str, *, timeout: float, connect_timeout: float) -> None:
        self._address = Address.parse(url)
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._connection: _Connection | None = None
        # The connection being made, which every caller that arrives meanwhile waits for: a
        # Redis out of reach fails them all within one `connect_timeout`, not one after another.
        self._dialing: asyncio.Future[_Connection] | None = None

    async def run(self, script: Script, keys: list[str], args: list[object]) -> Reply:
        """The script's reply; raises redis-py's `RedisError`s (see the module docstring)."""
        rest = (len(keys), *keys, *args)
        reply = await self._call(command(b"EVALSHA", script.sha, *rest))
        if isinstance(reply, ResponseError) and str(reply).startswith("NOSCRIPT"):
            # Not run: Redis lacks the script (new, or restarted). EVAL runs it and keeps it.
            reply = await self._call(command(b"EVAL", script.source, *rest))
        if isinstance(reply, ResponseError):
            raise reply
        return reply

    async def _call(self, payload: bytes) -> Reply:
        connection = await self._connected()
        future = connection.send(payload)
        try:
            async with asyncio.timeout(self._timeout):
                return await future
        except TimeoutError:
            connection.abort()  # what it still owes would be taken for the next caller's answer
            raise RedisTimeoutError(f"Redis did not answer within {self._timeout:g} s") from None

    async def _connected(self) -> _Connection:
        connection = self._connection
        if connection is not None and connection.usable:
            return connection
        if self._dialing is None or self._dialing.done():  # a new attempt after one that ended
            self._dialing = asyncio.ensure_future(self._connect())
            self._dialing.add_done_callback(_retrieved)
        # Shielded: a caller that gives up does not end the attempt the others wait for.
        return await asyncio.shield(self._dialing)

    async def _connect(self) -> _Connection:
        loop, address = asyncio.get_running_loop(), self._address
        connection: _Connection | None = None
        try:
            async with asyncio.timeout(self._connect_timeout):
                if address.path is not None:
                    _, connection = await loop.create_unix_connection(_Connection, address.path)
                else:
                    _, connection = await loop.create_connection(
                        _Connection, address.host, address.port, ssl=address.tls_context()
                    )
                hello = []
                if address.password is not None:
                    user = () if address.username is None else (address.username,)
                    hello.append(command(b"AUTH", *user, address.password))
                if address.db:
                    hello.append(command(b"SELECT", address.db))
                for each in hello:  # one at a time: nothing is sent after a refusal
                    reply = await connection.send(each)
                    if isinstance(reply, ResponseError):
                        raise RedisConnectionError(f"Redis refused the connection: {reply}")
        except BaseException as exc:
            if connection is not None:
                connection.abort()
            if isinstance(exc, TimeoutError):
                raise RedisTimeoutError("Timeout connecting to Redis") from None
            if isinstance(exc, OSError):  # refused, unreachable, TLS refused (ssl.SSLError)
                raise RedisConnectionError(f"Error connecting to Redis: {exc}") from None
            raise
        self._connection = connection
        return connection

    def close(self) -> None:
        if self._connection is not None and self._connection.transport is not None:
            self._connection.transport.close()
        self._connection = None


def _retrieved(attempt: asyncio.Future[_Connection]) -> None:
    """Marks a failed attempt's error as seen: its callers may all have given up."""
    if not attempt.cancelled():
        attempt.exception()
