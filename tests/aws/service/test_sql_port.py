"""The SQL port (`gureum.aws.sql`), the same on SQLite and PostgreSQL (issue #24).

Every service's store writes its queries once against this port; these tests pin down what the
stores rely on, on both backends: placeholders (and `%` in LIKE patterns), booleans stored as
integers, `RETURNING`, upserts, byte-order sorting, rollback on an exception, `generation`
moving on a write and not on a read, a reopen finding what was committed. The PostgreSQL-only
tests cover what only a shared database has: writers of one store one at a time across
processes, and another process's commit moving this one's `generation`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from gureum.aws.postgres import PostgresBackend
from gureum.aws.sql import Backend, SqlDatabase, StoreSpec
from tests.support.postgres import PostgresCluster

SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE, body TEXT NOT NULL, flag INTEGER NOT NULL, data BLOB);
"""
SPEC = StoreSpec("sqltest", "sqltest.sqlite3", SCHEMA, "tests.aws.service", "sql_migrations")


@pytest.fixture
def database(stores: Callable[[], Backend]) -> Iterator[SqlDatabase]:
    opened = stores().open(SPEC)
    yield opened
    opened.close()


def add(database: SqlDatabase, name: str, body: str = "", flag: bool = False) -> int:
    with database.transaction() as sql:
        row = sql.execute(
            "INSERT INTO notes (name, body, flag, data) VALUES (?, ?, ?, ?) RETURNING seq",
            (name, body, flag, name.encode()),
        ).fetchone()
    return int(row[0])


def test_placeholders_booleans_bytes_and_returning(database: SqlDatabase) -> None:
    first, second = add(database, "a", "50% off", True), add(database, "b")
    assert second > first
    with database.transaction() as sql:
        rows = sql.execute(
            "SELECT name, body, flag, data FROM notes WHERE body LIKE '%off' AND flag = ?",
            (True,),
        ).fetchall()
    assert [tuple(row) for row in rows] == [("a", "50% off", 1, b"a")]


def test_upserts_and_rowcount(database: SqlDatabase) -> None:
    add(database, "a", "one")
    with database.transaction() as sql:
        sql.execute(
            "INSERT INTO notes (name, body, flag) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET body = excluded.body",
            ("a", "two", 0),
        )
        ignored = sql.execute(
            "INSERT INTO notes (name, body, flag) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
            ("a", "three", 0),
        )
        assert ignored.rowcount == 0
        assert sql.execute("DELETE FROM notes WHERE name = ?", ("zz",)).rowcount == 0
    with database.transaction() as sql:
        assert sql.execute("SELECT body FROM notes").fetchall() == [("two",)]


def test_names_sort_byte_by_byte(database: SqlDatabase) -> None:
    for name in ("b", "B", "a", "_x", "A-1", "a-1"):
        add(database, name)
    with database.transaction() as sql:
        names = [row[0] for row in sql.execute("SELECT name FROM notes ORDER BY name")]
    assert names == sorted(names, key=lambda name: name.encode())


def test_an_exception_rolls_the_transaction_back(database: SqlDatabase) -> None:
    add(database, "kept")

    def fail_after_a_write() -> None:
        with database.transaction() as sql:
            sql.execute("INSERT INTO notes (name, body, flag) VALUES ('lost', '', 0)")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fail_after_a_write()
    with database.transaction() as sql:
        assert [row[0] for row in sql.execute("SELECT name FROM notes")] == ["kept"]


def test_generation_moves_on_writes_only(database: SqlDatabase) -> None:
    before = database.generation
    with database.transaction() as sql:
        sql.execute("SELECT count(*) FROM notes").fetchone()
        sql.execute("DELETE FROM notes WHERE name = 'absent'")
    assert database.generation == before
    add(database, "a")
    assert database.generation > before


def test_a_reopened_database_has_what_was_committed(stores: Callable[[], Backend]) -> None:
    add(stores().open(SPEC), "a", "kept")
    with stores().open(SPEC).transaction() as sql:
        assert sql.execute("SELECT name, body FROM notes").fetchall() == [("a", "kept")]


# --- PostgreSQL only: a database shared by processes --------------------------------------


@pytest.fixture
def shared(postgres: PostgresCluster) -> Iterator[Callable[[], PostgresBackend]]:
    """Backends on one database, as separate servers open it."""
    url = postgres.database()
    opened: list[PostgresBackend] = []

    def make() -> PostgresBackend:
        backend = PostgresBackend(url)
        opened.append(backend)
        return backend

    yield make
    for backend in opened:
        backend.close()


def test_writers_of_one_store_take_turns_across_backends(
    shared: Callable[[], PostgresBackend],
) -> None:
    """A read-modify-write never interleaves with another server's: each transaction holds
    the store's advisory lock, as SQLite's BEGIN IMMEDIATE does in one process."""
    databases = [shared().open(SPEC) for _ in range(2)]
    add(databases[0], "counter", "0")

    def bump(database: SqlDatabase) -> None:
        for _ in range(20):
            with database.transaction() as sql:
                (body,) = sql.execute("SELECT body FROM notes WHERE name = 'counter'").fetchone()
                time.sleep(0.001)  # widen the window a race would need
                bumped = str(int(body) + 1)
                sql.execute("UPDATE notes SET body = ? WHERE name = 'counter'", (bumped,))

    threads = [threading.Thread(target=bump, args=(database,)) for database in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with databases[0].transaction() as sql:
        assert sql.execute("SELECT body FROM notes WHERE name = 'counter'").fetchone() == ("40",)


def test_another_servers_commit_moves_generation(shared: Callable[[], PostgresBackend]) -> None:
    """What a store caches by `generation` is read again after another server changes it."""
    here, there = shared(), shared()
    watched, writer = here.open(SPEC), there.open(SPEC)

    async def scenario() -> None:
        following = asyncio.create_task(here.follow())
        try:
            await asyncio.sleep(0.3)  # LISTEN is in place
            before = watched.generation
            await asyncio.to_thread(add, writer, "elsewhere")
            for _ in range(100):
                if watched.generation > before:
                    return
                await asyncio.sleep(0.02)
            pytest.fail("the other server's commit never moved this one's generation")
        finally:
            following.cancel()
            await asyncio.gather(following, return_exceptions=True)

    asyncio.run(scenario())
