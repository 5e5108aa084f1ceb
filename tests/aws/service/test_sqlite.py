"""The shared SQLite plumbing: a transaction prepared on one thread and committed on another.

The event queue writes a batch on the event loop and leaves only the COMMIT (the fsync) to a
worker thread (`Database.prepare`). Between the two the database stays held; a COMMIT that
fails stores nothing and lets go of the database, so the next transaction works.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gureum.aws.sqlite import Database, DatabaseBusy

SCHEMA = """
CREATE TABLE IF NOT EXISTS parents (id INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS children (
    parent INTEGER REFERENCES parents(id) DEFERRABLE INITIALLY DEFERRED);
"""


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    opened = Database(tmp_path / "test.sqlite3", SCHEMA)
    yield opened
    opened.close()


def count(database: Database, table: str) -> int:
    with database.transaction() as db:
        return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def insert_parent(db: sqlite3.Connection) -> int:
    return int(db.execute("INSERT INTO parents DEFAULT VALUES").lastrowid or 0)


def test_a_prepared_transaction_is_committed_from_another_thread(
    database: Database, tmp_path: Path
) -> None:
    generation = database.generation
    row, prepared = database.prepare(insert_parent)
    assert row == 1
    worker = threading.Thread(target=prepared.commit)
    worker.start()
    worker.join()
    assert count(database, "parents") == 1
    assert database.generation != generation
    reopened = Database(tmp_path / "test.sqlite3", SCHEMA)  # on disk, for another connection
    try:
        assert count(reopened, "parents") == 1
    finally:
        reopened.close()


def test_the_database_stays_held_until_the_commit(database: Database) -> None:
    _, prepared = database.prepare(insert_parent, counted=False)
    generation = database.generation
    with pytest.raises(DatabaseBusy), database.transaction(wait=False):
        pass
    with pytest.raises(DatabaseBusy):
        database.prepare(insert_parent, wait=False)
    prepared.commit()
    prepared.commit()  # a second call does nothing
    assert database.generation == generation  # not counted
    with database.transaction(wait=False) as db:
        insert_parent(db)
    assert count(database, "parents") == 2


def test_a_rollback_stores_nothing_and_lets_go(database: Database) -> None:
    _, prepared = database.prepare(insert_parent)
    prepared.rollback()
    prepared.commit()  # after the rollback: nothing
    assert count(database, "parents") == 0


def test_work_that_fails_stores_nothing_and_lets_go(database: Database) -> None:
    def failing(db: sqlite3.Connection) -> None:
        insert_parent(db)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        database.prepare(failing)
    assert count(database, "parents") == 0


def test_a_failed_commit_stores_nothing_and_lets_go(database: Database) -> None:
    def orphan(db: sqlite3.Connection) -> None:
        insert_parent(db)
        db.execute("INSERT INTO children (parent) VALUES (99)")  # checked at COMMIT

    _, prepared = database.prepare(orphan)
    with pytest.raises(sqlite3.IntegrityError):
        prepared.commit()
    assert count(database, "parents") == 0
    assert count(database, "children") == 0
