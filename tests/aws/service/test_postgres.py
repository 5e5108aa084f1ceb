"""The shared PostgreSQL plumbing (issue #24): migrations, prepared commits, failed commits.

Migrations are applied once whoever starts first (servers started together wait on the
advisory lock), all or nothing; a COMMIT may run on another thread than the writes; a COMMIT
that fails stores nothing and leaves the pool usable; a COMMIT that PostgreSQL turned into a
ROLLBACK raises; the pool outlives a restart of the server, for transactions and plain reads.
"""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from gureum.aws.postgres import Database, Migration, RolledBack, readable_now, redacted
from tests.support.postgres import PostgresCluster

FIRST = Migration(1, "parents", "CREATE TABLE parents (id INTEGER PRIMARY KEY)")
SECOND = Migration(
    2,
    "children",
    "CREATE TABLE children (parent INTEGER REFERENCES parents(id) DEFERRABLE INITIALLY DEFERRED)",
)


@pytest.fixture
def database(postgres: PostgresCluster) -> Iterator[Database]:
    opened = Database(postgres.database(), max_size=4)
    yield opened
    opened.close()


def tables(database: Database) -> set[str]:
    with database.transaction() as connection:
        rows = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {str(row[0]) for row in rows}


def test_servers_started_together_migrate_once(database: Database) -> None:
    applied: list[list[int]] = []

    def migrate() -> None:
        applied.append(database.migrate("test", [FIRST, SECOND]))

    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(applied) == [[], [], [], [1, 2]]
    assert tables(database) >= {"parents", "children", "gureum_migrations"}


def test_a_failed_migration_leaves_the_database_as_it_was(database: Database) -> None:
    broken = Migration(2, "broken", "CREATE TABLE children (parent NO_SUCH_TYPE)")
    with pytest.raises(psycopg.errors.UndefinedObject):
        database.migrate("test", [FIRST, broken])
    assert "parents" not in tables(database)  # the first went with the second
    assert database.migrate("test", [FIRST, SECOND]) == [1, 2]


def test_a_commit_prepared_on_one_thread_runs_on_another(database: Database) -> None:
    database.migrate("test", [FIRST, SECOND])
    _, prepared = database.prepare(
        lambda connection: connection.execute("INSERT INTO parents VALUES (1)")
    )
    worker = threading.Thread(target=prepared.commit)
    worker.start()
    worker.join()
    with database.transaction() as connection:
        row = connection.execute("SELECT count(*) FROM parents").fetchone()
    assert row is not None
    assert row[0] == 1


def test_a_failed_commit_stores_nothing_and_the_pool_goes_on(database: Database) -> None:
    database.migrate("test", [FIRST, SECOND])
    _, prepared = database.prepare(
        lambda connection: connection.execute("INSERT INTO children VALUES (42)")
    )
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        prepared.commit()  # the deferred check fails at COMMIT
    for _ in range(6):  # more than the pool holds: no connection was lost in a transaction
        with database.transaction() as connection:
            row = connection.execute("SELECT count(*) FROM children").fetchone()
        assert row is not None
        assert row[0] == 0


def test_a_commit_after_a_failed_statement_raises_and_stores_nothing(database: Database) -> None:
    """PostgreSQL answers the COMMIT of a transaction whose statement failed with ROLLBACK,
    and no error: a caller that caught the statement's error must not be told it committed."""
    database.migrate("test", [FIRST, SECOND])

    def write(connection: psycopg.Connection[tuple[object, ...]]) -> None:
        connection.execute("INSERT INTO parents VALUES (1)")
        with contextlib.suppress(psycopg.errors.UniqueViolation):
            connection.execute("INSERT INTO parents VALUES (1)")

    _, prepared = database.prepare(write)
    with pytest.raises(RolledBack):
        prepared.commit()
    with pytest.raises(RolledBack), database.transaction() as connection:
        write(connection)
    with database.transaction() as connection:
        row = connection.execute("SELECT count(*) FROM parents").fetchone()
    assert row == (0,)


def test_the_pool_outlives_a_restart_of_postgresql(
    postgres: PostgresCluster, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """After a restart every pooled connection is dead: the first transactions afterwards are
    still served (the dead connections are replaced), none fails for having drawn one."""
    own = PostgresCluster(postgres.binaries, tmp_path / "pg", tmp_path_factory.getbasetemp())
    own.start()
    try:
        restarted = Database(own.url(), max_size=4)
        try:
            held = [restarted._begin() for _ in range(4)]  # the pool fills to its size
            for connection in held:
                restarted._end(connection, True)
            own.stop()
            own.start()
            for _ in range(6):
                with restarted.transaction() as connection:
                    assert connection.execute("SELECT 1").fetchone() == (1,)
            # Reads outside a transaction too: restarted again, each read gets a live session.
            own.stop()
            own.start()
            for _ in range(6):
                with restarted.reading() as connection:
                    assert connection.execute("SELECT 1").fetchone() == (1,)
        finally:
            restarted.close()
    finally:
        own.stop()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:secret@db:5433/x", "postgresql://u:***@db:5433/x"),
        ("postgresql://u:secret@db/x?sslmode=require", "postgresql://u:***@db/x?sslmode=require"),
        ("postgresql://u@db/x", "postgresql://u@db/x"),
    ],
)
def test_urls_are_shown_without_their_password(url: str, shown: str) -> None:
    assert redacted(url) == shown


def test_a_transaction_stopped_midway_frees_its_locks(postgres: PostgresCluster) -> None:
    """A process stopped inside a transaction (SIGSTOP) sends nothing more: PostgreSQL ends its
    session after `idle_in_transaction`, so the lock it held stalls other writers only that long."""
    database = Database(postgres.database(), max_size=4, idle_in_transaction=1.0)
    try:
        stopped = database.pool.getconn()
        stopped.execute("BEGIN")
        stopped.execute("SELECT pg_advisory_xact_lock(42)")  # ... and then nothing
        locked: list[bool] = []

        def write() -> None:
            with database.transaction(lock=42):  # waits, then gets the lock
                locked.append(True)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        writer.join(10.0)  # without the bound it would wait for ever
        assert locked == [True]
        with pytest.raises(psycopg.errors.IdleInTransactionSessionTimeout):
            stopped.execute("SELECT 1")  # its session was ended: it learns when it runs again
        assert stopped.broken
        database.pool.putconn(stopped)  # discarded
        with database.transaction(lock=42) as connection:  # the pool goes on
            assert connection.execute("SELECT 1").fetchone() == (1,)
    finally:
        database.close()


def test_an_idle_sessions_socket_is_checked_past_descriptor_1023() -> None:
    """A process with many sandboxes holds descriptors past 1023, where `select` refuses to
    look (ValueError): the liveness checks of idle sessions must still answer."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    high = 1500
    if max(soft, hard) <= high:
        pytest.skip(f"this process may not open descriptor {high} (limit {hard})")
    if soft <= high:
        resource.setrlimit(resource.RLIMIT_NOFILE, (high + 1, hard))
    ours, theirs = socket.socketpair()
    try:
        os.dup2(ours.fileno(), high)
        assert not readable_now(high)
        theirs.sendall(b"x")
        assert readable_now(high)
    finally:
        os.close(high)
        ours.close()
        theirs.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
