"""PostgreSQL plumbing: a connection pool, numbered-SQL migrations, transactions, wake-ups.

The scale-out counterpart of `gureum.aws.sqlite`, shared by the services' PostgreSQL stores.

Migrations are a small numbered-SQL scheme rather than a migration tool (Alembic, yoyo, ...):
each store ships `NNNN_name.sql` files in its package, and `migrate` applies the ones a
database lacks, in order, in ONE transaction under a transaction-level advisory lock. So front
doors started together wait for each other instead of racing (the second finds the work done),
a failed migration leaves the database as it was, and a database migrated by a newer gureum is
refused rather than misread. The files are plain SQL that a DBA can read and run by hand; a tool
would add a dependency and its own configuration for what is a table of applied numbers.

Transactions run on connections in autocommit mode, with BEGIN and COMMIT sent by `Database`
itself, so a transaction's COMMIT may run on another thread than its writes (`prepare`, as
SQLite's event queue does). PostgreSQL's defaults (`fsync`, `synchronous_commit=on`) make a
COMMIT durable when it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import re
import select
import threading
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import pq
from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool

from gureum.aws.sql import StoreSpec

T = TypeVar("T")
log = logging.getLogger("gureum.postgres")

# Every migration of every component is applied under this lock (pg_advisory_xact_lock's key).
MIGRATION_LOCK = 0x67757265756D  # "gureum"
_MIGRATION_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LEDGER = """
CREATE TABLE IF NOT EXISTS gureum_migrations (
    component TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (component, version))
"""


class RolledBack(psycopg.errors.InFailedSqlTransaction):
    """A COMMIT that PostgreSQL answered with ROLLBACK: a statement of the transaction had
    failed, so none of its writes are stored."""


class SchemaTooNew(Exception):
    """The database has migrations this gureum does not know: a newer gureum wrote it."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations_in(package: str, directory: str = "migrations") -> list[Migration]:
    """The `NNNN_name.sql` files of `package`'s `directory`, in order."""
    found = []
    for entry in (resources.files(package) / directory).iterdir():
        match = _MIGRATION_FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda migration: migration.version)
    numbers = [migration.version for migration in found]
    if numbers != list(range(1, len(found) + 1)):
        raise ValueError(f"{package}: migrations must be numbered 1, 2, 3, ... not {numbers}")
    return found


def redacted(url: str) -> str:
    """The URL without its password, for logs and the health page."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class PreparedCommit:
    """A transaction whose writes are done and whose COMMIT is still to run (on any thread);
    the first of `commit` and `rollback` ends it and gives the connection back."""

    def __init__(self, database: Database, connection: psycopg.Connection[tuple[object, ...]]):
        self._database = database
        self._connection = connection
        self._ended = False
        self._lock = threading.Lock()

    def commit(self) -> None:
        self._end(True)

    def rollback(self) -> None:
        self._end(False)

    def _end(self, commit: bool) -> None:
        with self._lock:
            if self._ended:
                return
            self._ended = True
        self._database._end(self._connection, commit)


# libpq's socket settings for every connection: on a network that drops packets without a reset
# (a host cut off), a query would otherwise wait for the kernel's retransmissions (many minutes)
# and hold its worker thread and whoever awaits it (an agent's heartbeat) as long. Unacknowledged
# data fails the connection after 10 s; an idle one is probed after 5 s, dropped after 3 misses.
RESILIENT = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}


def readable_now(fd: int) -> bool:
    """Whether `fd` has something to read, without waiting. `poll`, not `select`: a process
    with many sandboxes holds descriptors past 1023, which `select` refuses (ValueError)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def session_alive(connection: psycopg.Connection[Any]) -> bool:
    """Whether an idle connection's session still stands.

    An idle session learns that the server ended it (PostgreSQL restarted) only when it reads:
    `broken` stays False until then. The server's last words (its FATAL, then the close) make
    the socket readable, while an idle session otherwise hears nothing: only then is a round
    trip spent to find out."""
    if connection.closed or connection.broken:
        return False
    if not readable_now(connection.fileno()):
        return True
    try:
        connection.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


# A transaction of ours never waits between two statements longer than this (seconds): the
# work between them is short Python. One that does is a process stopped mid-transaction
# (SIGSTOP, a frozen host), which keeps its TCP connection, and its locks, for ever: the
# control plane's lock held so would stall every writer of the cluster. PostgreSQL ends such a
# session after this long, its transaction rolled back and its locks freed.
IDLE_IN_TRANSACTION = 10.0


def session_settings(idle_in_transaction: float = IDLE_IN_TRANSACTION) -> dict[str, Any]:
    """The connection settings of every session of gureum's: the socket's (`RESILIENT`) and the
    bound on a transaction left idle (`IDLE_IN_TRANSACTION`)."""
    idle_ms = int(idle_in_transaction * 1000)
    return {"options": f"-c idle_in_transaction_session_timeout={idle_ms}", **RESILIENT}


class Database:
    """One PostgreSQL database through a pool of connections, shared by threads.

    `generation` moves after every counted commit that wrote something, in this process; the
    store announces its writes (NOTIFY) so that other processes move theirs too (`bump`).
    """

    def __init__(
        self, url: str, *, max_size: int = 16, idle_in_transaction: float = IDLE_IN_TRANSACTION
    ) -> None:
        self.url = url
        # One connection first: a database that cannot be reached fails at once, with the
        # server's own reason, rather than after the pool's retries.
        psycopg.connect(url, connect_timeout=10).close()
        self.pool: ConnectionPool[psycopg.Connection[tuple[object, ...]]] = ConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            kwargs={"autocommit": True, **session_settings(idle_in_transaction)},
            open=False,
            name="gureum",
            # While the database is away a request waits this long for a connection, then
            # fails (ServiceException) rather than hang; the pool reconnects meanwhile.
            timeout=5.0,
        )
        self.pool.open(wait=True, timeout=30.0)
        self.generation = 0
        self._generation_lock = threading.Lock()

    def bump(self) -> None:
        with self._generation_lock:
            self.generation += 1

    def migrate(self, component: str, migrations: Sequence[Migration]) -> list[int]:
        """Applies the migrations the database lacks, all in one transaction under the
        migration lock; returns the versions applied. Raises `SchemaTooNew` when the database
        holds a version of `component` past the last of `migrations`."""
        with self.transaction() as connection:
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            connection.execute(_LEDGER)
            rows = connection.execute(
                "SELECT version FROM gureum_migrations WHERE component = %s", (component,)
            ).fetchall()
            applied = {cast(int, row[0]) for row in rows}
            known = {migration.version for migration in migrations}
            if applied - known:
                raise SchemaTooNew(
                    f"the database's {component} schema is at version {max(applied)}, newer than "
                    f"this gureum knows ({max(known, default=0)}): run a newer gureum"
                )
            done = []
            for migration in migrations:
                if migration.version in applied:
                    continue
                connection.execute(migration.sql.encode())
                connection.execute(
                    "INSERT INTO gureum_migrations (component, version, name) VALUES (%s, %s, %s)",
                    (component, migration.version, migration.name),
                )
                done.append(migration.version)
            return done

    def _begin(self, read_only: bool = False) -> psycopg.Connection[tuple[object, ...]]:
        """A pooled connection in a new transaction.

        After PostgreSQL restarted, every idle connection of the pool is dead, and the pool only
        learns it by using one: the BEGIN fails with the connection broken. Nothing was sent
        that could have changed anything, so the connection is handed back (the pool discards a
        broken one and makes another) and the next one tried; without this, each of the pool's
        dead connections failed one request after the database was back."""
        for attempt in range(self.pool.max_size + 1):
            connection = self.pool.getconn()
            try:
                connection.execute("BEGIN READ ONLY" if read_only else "BEGIN")
            except BaseException as exc:
                self.pool.putconn(connection)
                dead = isinstance(exc, psycopg.OperationalError) and connection.broken
                if not dead or attempt == self.pool.max_size:
                    raise
                continue
            return connection
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _end(self, connection: psycopg.Connection[tuple[object, ...]], commit: bool) -> None:
        """COMMIT (or ROLLBACK), then gives the connection back whatever happens (the pool
        discards one that broke, or that is still in a transaction). A ROLLBACK that fails
        (the connection broke: the server drops the transaction) raises nothing, so the
        error that led to it is the one the caller sees."""
        try:
            if not commit:
                with contextlib.suppress(psycopg.Error):
                    connection.execute("ROLLBACK")
                return
            try:
                ended = connection.execute("COMMIT")
                if ended.statusmessage != "COMMIT":
                    # A statement of the transaction failed (and its error was caught): the
                    # server answers such a COMMIT with ROLLBACK, and no error. Reported as
                    # done, it would have answered callers (an Event's 202) for writes that
                    # were never stored.
                    raise RolledBack(f"the transaction was rolled back ({ended.statusmessage})")
            except BaseException:
                idle = connection.info.transaction_status == pq.TransactionStatus.IDLE
                if not connection.broken and not idle:
                    with contextlib.suppress(psycopg.Error):
                        connection.execute("ROLLBACK")  # nothing stored, usable again
                raise
        finally:
            self.pool.putconn(connection)

    @contextmanager
    def transaction(
        self, *, lock: int | None = None, read_only: bool = False
    ) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        """One transaction; `lock`: a transaction-level advisory lock taken first (writers of
        the same lock run one at a time, across every process on the database)."""
        connection = self._begin(read_only)
        try:
            if lock is not None:
                connection.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
            yield connection
        except BaseException:
            self._end(connection, False)
            raise
        self._end(connection, True)

    @contextmanager
    def reading(self) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        """A pooled connection for reads outside any transaction: each statement sees what was
        committed when it ran. One round trip a statement, where a read-only transaction adds
        its BEGIN and COMMIT (two more, a third of a millisecond here, on every cache miss of an
        invocation's target). For reads whose statements need not agree with one another. A
        connection whose session the server ended (a restart) is dropped, not used."""
        for attempt in range(self.pool.max_size + 1):
            connection = self.pool.getconn()
            if session_alive(connection) or attempt == self.pool.max_size:
                break
            connection.close()
            self.pool.putconn(connection)  # a closed connection is discarded by the pool
        try:
            yield connection
        finally:
            self.pool.putconn(connection)

    def prepare(
        self, work: Callable[[psycopg.Connection[tuple[object, ...]]], T]
    ) -> tuple[T, PreparedCommit]:
        """Begins, runs `work`, and returns its result with the COMMIT still to run."""
        connection = self._begin()
        try:
            result = work(connection)
        except BaseException:
            self._end(connection, False)
            raise
        return result, PreparedCommit(self, connection)

    def close(self) -> None:
        self.pool.close()


async def follow(url: str, channels: Sequence[str], heard: Callable[[str], None]) -> None:
    """LISTENs on `channels` and calls `heard(channel)` for each notification, until
    cancelled (its owner's task group does). A lost connection is made again after a pause,
    and `heard("")` then says that notifications may have been missed meanwhile."""
    while True:
        try:
            conninfo = make_conninfo(url, **RESILIENT)
            connection = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
            async with connection:
                for channel in channels:
                    await connection.execute(f"LISTEN {channel}")
                heard("")
                async for notification in connection.notifies():
                    heard(notification.channel)
        except psycopg.OperationalError as exc:
            log.warning("PostgreSQL notifications lost (%s); listening again in 1 s", exc)
            await asyncio.sleep(1.0)


# --- the SQL port (gureum.aws.sql) on PostgreSQL ----------------------------------------------


def _lock_of(component: str) -> int:
    """A store's advisory-lock key: 56 bits of a hash of its name (a positive BIGINT)."""
    return int.from_bytes(hashlib.sha256(f"gureum:{component}".encode()).digest()[:7], "big")


@functools.lru_cache(maxsize=4096)
def _placeholders(sql: str) -> str:
    """SQLite's `?` placeholders as psycopg's `%s` (a literal `%` doubled first)."""
    return sql.replace("%", "%%").replace("?", "%s")


_WRITES = ("INSERT", "UPDATE", "DELETE")


class PostgresSql:
    """`Sql` on a psycopg connection inside a transaction: `?` placeholders, booleans stored as
    integers (as SQLite stores them), and a note of whether any statement changed a row."""

    def __init__(self, connection: psycopg.Connection[tuple[object, ...]]) -> None:
        self._connection = connection
        self.changed = False

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> psycopg.Cursor[Any]:
        if not parameters:
            cursor = self._connection.execute(sql.encode())
        else:
            values = [int(value) if isinstance(value, bool) else value for value in parameters]
            cursor = self._connection.execute(_placeholders(sql).encode(), values)
        if cursor.rowcount > 0 and sql.lstrip()[:6].upper() in _WRITES:
            self.changed = True
        return cursor

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> psycopg.Cursor[Any]:
        # One statement text however many rows (so psycopg converts it once and caches it;
        # it caches none past 50 parameters), sent in pipeline mode: one round trip.
        values = [[int(v) if isinstance(v, bool) else v for v in row] for row in rows]
        cursor = self._connection.cursor()
        cursor.executemany(_placeholders(sql).encode(), values)
        if values and sql.lstrip()[:6].upper() in _WRITES:
            self.changed = True
        return cursor


class SqlOnPostgres:
    """One store's `SqlDatabase` on the shared PostgreSQL database.

    Its writers take the store's advisory lock first, so they run one at a time across every
    process, as SQLite's `BEGIN IMMEDIATE` makes them in one. A transaction that changed a row
    NOTIFYs the store's channel before it commits; every process's `PostgresBackend.follow`
    hears it and moves that store's `generation`, so caches over it see other processes' writes.
    """

    def __init__(self, database: Database, component: str) -> None:
        self._database = database
        self._lock = _lock_of(component)
        self.channel = f"gureum_{component}"
        self._generation = 0
        self._generation_lock = threading.Lock()

    @property
    def generation(self) -> int:
        return self._generation

    def bump(self) -> None:
        with self._generation_lock:
            self._generation += 1

    @contextmanager
    def transaction(self) -> Iterator[PostgresSql]:
        with self._database.transaction(lock=self._lock) as connection:
            sql = PostgresSql(connection)
            yield sql
            if sql.changed:
                connection.execute(f"NOTIFY {self.channel}".encode())
        if sql.changed:
            self.bump()

    def close(self) -> None:
        """The shared pool is the backend's to close."""


class PostgresBackend:
    """Every store in one PostgreSQL database, through one pool (`gureum.aws.sql.Backend`)."""

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url
        self._database: Database | None = None
        self._opened: dict[str, SqlOnPostgres] = {}

    def open(self, spec: StoreSpec) -> SqlOnPostgres:
        """The store's database, migrated; exits the server with the reason (and the URL
        without its password) when the database cannot be used."""
        try:
            if self._database is None:
                self._database = Database(self.url)
            self._database.migrate(spec.component, migrations_in(spec.package, spec.directory))
        except (psycopg.Error, SchemaTooNew) as exc:
            raise SystemExit(f"gureum: cannot use the store {redacted(self.url)}: {exc}") from None
        opened = SqlOnPostgres(self._database, spec.component)
        self._opened[opened.channel] = opened
        return opened

    def opened(self) -> dict[str, str]:
        where = redacted(self.url)
        return {channel.removeprefix("gureum_"): where for channel in self._opened}

    async def follow(self) -> None:
        if not self._opened:
            return

        def heard(channel: str) -> None:
            targets = list(self._opened.values()) if channel == "" else []
            if channel in self._opened:
                targets.append(self._opened[channel])
            for opened in targets:
                opened.bump()

        await follow(self.url, list(self._opened), heard)

    def close(self) -> None:
        if self._database is not None:
            self._database.close()
            self._database = None


# A singleton's session idle for this many checks is ended by PostgreSQL (its lease freed).
IDLE_CHECKS = 5


class PostgresSingletons:
    """`gureum.aws.singletons.Singletons` on PostgreSQL session-level advisory locks.

    Each singleton holds one connection of its own while it leads, and with it the lock
    `pg_try_advisory_lock(hash of its name)`. The lock lives exactly as long as that session,
    so a holder that dies (`kill -9`, a lost host) lets it go when PostgreSQL sees the
    connection end, and a waiting process takes it at its next try. The holder asks its
    connection every `check` seconds whether it still stands (bounded by the same time): if it
    does not, the work is cancelled at once. A holder that stops without dying (SIGSTOP) loses
    its session to PostgreSQL's `idle_session_timeout` (PostgreSQL 14 or later) after
    `IDLE_CHECKS` checks; when it runs again, its next check fails and its work is cancelled,
    so two processes lead together for at most about one check, plus whatever step the old
    holder had already handed to a worker thread (which a cancellation does not stop); each
    singleton's work copes with that (the settler's steps are transactions that re-read what
    they change; the provisioner lets its host's environments go when its lease ends).
    """

    def __init__(self, url: str, *, retry: float = 1.0, check: float = 1.0) -> None:
        self.url = url
        self._retry = retry
        self._check = check
        self._leading: set[str] = set()

    def held(self) -> list[str]:
        return sorted(self._leading)

    async def lead(self, name: str, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        key = _lock_of(f"singleton:{name}")
        while True:
            try:
                if await self._lead_once(name, key, work):
                    return
            except (psycopg.OperationalError, TimeoutError) as exc:
                log.warning("singleton %s: lease lost or unreachable (%s)", name, exc)
            await asyncio.sleep(self._retry)

    async def _lead_once(
        self, name: str, key: int, work: Callable[[], Coroutine[Any, Any, None]]
    ) -> bool:
        """Waits for the lease and runs `work` under it; True when `work` returned."""
        connection = await asyncio.wait_for(
            psycopg.AsyncConnection.connect(self.url, autocommit=True), 10.0
        )
        async with connection:
            # A holder that stops answering (SIGSTOP, a hung host) keeps its TCP connection,
            # and with it the lock, for ever: PostgreSQL ends a session idle this long, so
            # the lease is free a few checks after the holder's last one.
            timeout_ms = int(self._check * IDLE_CHECKS * 1000)
            await connection.execute(f"SET idle_session_timeout = {timeout_ms}".encode())
            while not await self._try(connection, key):
                await asyncio.sleep(self._retry)
            log.info("singleton %s: this process leads it", name)
            self._leading.add(name)
            task = asyncio.create_task(work(), name=f"singleton-{name}")
            try:
                while True:
                    done, _ = await asyncio.wait({task}, timeout=self._check)
                    if done:
                        break
                    await asyncio.wait_for(connection.execute("SELECT 1"), self._check)
                if task.exception() is None:
                    return True
                log.error("singleton %s failed", name, exc_info=task.exception())
                return False
            finally:
                self._leading.discard(name)
                if not task.done():
                    task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    @staticmethod
    async def _try(connection: psycopg.AsyncConnection[tuple[object, ...]], key: int) -> bool:
        cursor = await connection.execute("SELECT pg_try_advisory_lock(%s)", (key,))
        row = await cursor.fetchone()
        return bool(row and row[0])
