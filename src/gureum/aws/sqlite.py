"""One SQLite file, shared by threads: WAL, synchronous commits, one writer at a time.

The control-plane store, the key store and the queue store each keep their own file and wrap
this. Durability: `synchronous=FULL` makes each commit reach the disk before `transaction()`
returns, and every transaction starts with `BEGIN IMMEDIATE`, so a read-modify-write never races
another writer. A failed COMMIT is rolled back, so the connection stays usable.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class DatabaseBusy(Exception):
    """Another thread holds the database, and the caller asked not to wait for it."""


class Database:
    def __init__(self, path: Path, schema: str, *pragmas: str) -> None:
        self.connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=FULL")
        self.connection.execute("PRAGMA foreign_keys=ON")
        for pragma in pragmas:
            self.connection.execute(f"PRAGMA {pragma}")
        self.connection.executescript(schema)
        # Moves on every commit that changed something (for readers that cache).
        self.generation = 0

    @contextmanager
    def transaction(
        self, *, counted: bool = True, wait: bool = True
    ) -> Iterator[sqlite3.Connection]:
        """`counted=False`: what this transaction changes does not move `generation` (for
        changes no cache depends on, such as a queue's rows). `wait=False`: raises
        `DatabaseBusy` at once if another thread holds the database (for an event loop, which
        must not stop behind another thread's transaction)."""
        db = self.connection
        if not self._lock.acquire(blocking=wait):
            raise DatabaseBusy
        try:
            changes = db.total_changes
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
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

    def close(self) -> None:
        with self._lock:
            self.connection.close()
