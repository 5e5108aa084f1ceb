"""What only the rows' store has to get right, on PostgreSQL and SQLite (the `stores` fixture):
stream ids it remembers that another process made stale, and a database that is away for a
while (events kept in order, written by the first flush that succeeds)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest

from gureum.aws.sql import Backend, Sql, SqlDatabase, StoreSpec
from gureum.logs.domain.events import LogEvent
from gureum.logs.store.tables import SqlLogStore

ACCOUNT, REGION, GROUP = "123456789012", "us-east-1", "/aws/lambda/writer"
T0 = 1_700_000_000_000


class Unreachable(Exception):
    """What the fake answers while its database is away."""


class AwayDatabase:
    """A real store database that a test can take away (a fake, not a mock: it keeps the
    database's own behaviour, and refuses every transaction while `away`)."""

    def __init__(self, database: SqlDatabase) -> None:
        self._database = database
        self.away = False

    @property
    def generation(self) -> int:
        return self._database.generation

    def transaction(self) -> AbstractContextManager[Sql]:
        if self.away:
            raise Unreachable("the database is away")
        return self._database.transaction()

    def close(self) -> None:
        self._database.close()


class AwayBackend:
    """The backend of `AwayDatabase`s."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self.dialect = backend.dialect
        self.databases: list[AwayDatabase] = []

    def open(self, spec: StoreSpec) -> SqlDatabase:
        self.databases.append(AwayDatabase(self._backend.open(spec)))
        return self.databases[-1]

    def opened(self) -> dict[str, str]:
        return self._backend.opened()

    async def follow(self) -> None:
        await self._backend.follow()

    def close(self) -> None:
        self._backend.close()


@pytest.fixture
def backend(stores: Callable[[], Backend]) -> AwayBackend:
    """The fixture's backend, closed with it."""
    return AwayBackend(stores())


def messages(store: SqlLogStore, stream: str = "s") -> list[str]:
    return [e.message for e in store.events(ACCOUNT, REGION, GROUP, stream)]


def test_a_group_another_process_deleted_is_made_again_by_the_next_flush(
    stores: Callable[[], Backend],
) -> None:
    writer, other = SqlLogStore(stores()), SqlLogStore(stores())
    writer.append(ACCOUNT, REGION, GROUP, "s", [LogEvent(T0, "before")])
    writer.flush()  # the writer now knows the stream's id
    other.delete_group(ACCOUNT, REGION, GROUP)
    other.append(ACCOUNT, REGION, GROUP, "s", [LogEvent(T0 + 1, "other's")])
    other.flush()  # a new stream of the same name: a new id
    writer.append(ACCOUNT, REGION, GROUP, "s", [LogEvent(T0 + 2, "after")])
    writer.append(ACCOUNT, REGION, "/aws/lambda/new", "s", [LogEvent(T0 + 3, "elsewhere")])
    writer.flush()
    assert messages(other) == ["other's", "after"]
    assert writer.streams(ACCOUNT, REGION, "/aws/lambda/new")[0][:3] == ("s", T0 + 3, T0 + 3)
    writer.close()
    other.close()


def test_events_appended_while_the_database_is_away_are_kept_in_order(
    backend: AwayBackend,
) -> None:
    store = SqlLogStore(backend)
    (database,) = backend.databases
    store.append(ACCOUNT, REGION, GROUP, "s", [LogEvent(T0, "one")])
    store.flush()
    database.away = True
    store.append(ACCOUNT, REGION, GROUP, "s", [LogEvent(T0 + 1, "two")])
    store.append(ACCOUNT, REGION, GROUP, "new", [LogEvent(T0 + 1, "first of new")])
    with pytest.raises(Unreachable):
        store.flush()
    store.append(ACCOUNT, REGION, GROUP, "s", [LogEvent(T0 + 2, "three")])
    with pytest.raises(Unreachable):  # a read says so too, rather than answer without them
        store.events(ACCOUNT, REGION, GROUP, "s")
    database.away = False
    assert messages(store) == ["one", "two", "three"]
    assert messages(store, "new") == ["first of new"]
    store.close()


def test_the_periodic_flush_outlasts_a_database_away(backend: AwayBackend) -> None:
    store = SqlLogStore(backend)
    database = backend.databases[0]
    other = SqlLogStore(backend)  # another process: it sees only what the loop wrote
    database.away = True

    async def scenario() -> list[str]:
        flusher = asyncio.create_task(store.flush_periodically(0.001))
        try:
            store.append(ACCOUNT, REGION, GROUP, "s", [LogEvent(T0, "kept")])
            for _ in range(20):  # flushes that fail, and the loop goes on
                await asyncio.sleep(0.002)
            assert not flusher.done()
            database.away = False
            for _ in range(400):
                await asyncio.sleep(0.005)
                if other.has_stream(ACCOUNT, REGION, GROUP, "s"):
                    break
            return messages(other)
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher

    assert asyncio.run(scenario()) == ["kept"]
    store.close()
    other.close()
