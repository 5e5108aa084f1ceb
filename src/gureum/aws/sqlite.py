"""One SQLite file, shared by threads: WAL, synchronous commits, one writer at a time.

The control-plane store, the key store and the queue store each keep their own file and wrap
this. Durability: `synchronous=FULL` makes each commit reach the disk before `transaction()`
(or `PreparedCommit.commit()`) returns, and every transaction starts with `BEGIN IMMEDIATE`, so
a read-modify-write never races another writer. A failed COMMIT is rolled back, so the
connection stays usable.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class DatabaseBusy(Exception):
    """Another thread holds the database, and the caller asked not to wait for it."""


class PreparedCommit:
    """A transaction whose writes are done and whose COMMIT is still to run. It holds the
    database until `commit` or `rollback`, either of which may run on another thread; the
    first call ends it, a second does nothing."""

    def __init__(self, database: Database, counted: bool, changes: int) -> None:
        self._database = database
        self._counted = counted
        self._changes = changes
        self._ended = False

    def commit(self) -> None:
        if not self._ended:
            self._ended = True
            self._database._end(True, self._counted, self._changes)

    def rollback(self) -> None:
        if not self._ended:
            self._ended = True
            self._database._end(False, self._counted, self._changes)


class Database:
    def __init__(self, path: Path, schema: str, *pragmas: str) -> None:
        self.connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._path = path
        self._reader: sqlite3.Connection | None = None  # `snapshot`'s, made on first use
        self._reader_thread = 0  # the one thread that uses it
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=FULL")
        self.connection.execute("PRAGMA foreign_keys=ON")
        for pragma in pragmas:
            self.connection.execute(f"PRAGMA {pragma}")
        self.connection.executescript(schema)
        # Moves on every commit that changed something (for readers that cache).
        self.generation = 0

    def _begin(self, wait: bool) -> int:
        """Takes the database (or raises `DatabaseBusy`) and begins; returns the change count."""
        if not self._lock.acquire(blocking=wait):
            raise DatabaseBusy
        try:
            changes = self.connection.total_changes
            self.connection.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        return changes

    def _end(self, commit: bool, counted: bool, changes: int) -> None:
        """COMMIT (or ROLLBACK), then lets go of the database whatever happens."""
        db = self.connection
        try:
            if not commit:
                db.execute("ROLLBACK")
                return
            try:
                db.execute("COMMIT")
            except BaseException:
                # A failed COMMIT (disk full, I/O error) leaves the transaction open: end it,
                # or every later BEGIN fails until restart.
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            if counted and db.total_changes != changes:
                self.generation += 1
        finally:
            self._lock.release()

    @contextmanager
    def transaction(
        self, *, counted: bool = True, wait: bool = True
    ) -> Iterator[sqlite3.Connection]:
        """`counted=False`: what this transaction changes does not move `generation` (for
        changes no cache depends on, such as a queue's rows). `wait=False`: raises
        `DatabaseBusy` at once if another thread holds the database (for an event loop, which
        must not stop behind another thread's transaction)."""
        changes = self._begin(wait)
        try:
            yield self.connection
        except BaseException:
            self._end(False, counted, changes)
            raise
        self._end(True, counted, changes)

    def prepare(
        self, work: Callable[[sqlite3.Connection], T], *, counted: bool = True, wait: bool = True
    ) -> tuple[T, PreparedCommit]:
        """Begins, runs `work`, and returns its result with the COMMIT still to run: a caller
        on an event loop writes there (no I/O before COMMIT in WAL mode) and leaves only the
        COMMIT, the fsync, to a worker thread. The database stays held until then."""
        changes = self._begin(wait)
        try:
            result = work(self.connection)
        except BaseException:
            self._end(False, counted, changes)
            raise
        return result, PreparedCommit(self, counted, changes)

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read-only view of what is committed now, on a connection of its own that only the
        first thread to ask (the event loop) ever uses: in WAL mode it reads without the
        database's lock, so it never waits for a writer, nor a writer for it. Writes through
        it are refused by SQLite (`query_only`). Another thread gets an ordinary transaction."""
        if self._reader is None:
            self._reader = sqlite3.connect(self._path, isolation_level=None)
            self._reader.execute("PRAGMA query_only=ON")
            self._reader_thread = threading.get_ident()
        if threading.get_ident() != self._reader_thread:
            with self.transaction(counted=False) as connection:
                yield connection
            return
        reader = self._reader
        reader.execute("BEGIN")
        try:
            yield reader
        finally:
            reader.execute("ROLLBACK")

    def close(self) -> None:
        with self._lock:
            self.connection.close()
            if self._reader is not None:
                self._reader.close()
                self._reader = None
