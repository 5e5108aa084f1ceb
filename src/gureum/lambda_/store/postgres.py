"""The scale-out store: Lambda's control plane and event queue on PostgreSQL.

The same `Store` as `gureum.lambda_.store.sqlite`, with the same guarantees:
- Every control-plane transaction takes one advisory lock first, so writers run one at a time
  across every process on the database, as SQLite's `BEGIN IMMEDIATE` makes them in one: a
  read-modify-write (a RevisionId check, a layer's next number) never races another writer.
  The control plane's rate is low; the queue does not take that lock.
- A COMMIT is durable when it returns (PostgreSQL's `synchronous_commit=on`).
- The queue's events are claimed with `FOR UPDATE SKIP LOCKED` (`postgres_queue`), and each commit
  that enqueues NOTIFYs the delivery loops of every process (`follow`).

The event queue never makes the event loop wait on the network: `queue_transaction(wait=False)`
and `prepare_queue(wait=False)` always answer `StoreBusy` (one round trip per statement would
stall the loop): the queue's group commits and the delivery loop's claims and reads go through
`loop_queue()` instead, which awaits them on the loop (`postgres_queue.QueueSession`).

`snapshot()` does read on the loop, as SQLite's does: the invoker's and the function
service's caches use it on a miss (after a change). It reads outside a transaction
(`Database.reading`), one round trip a statement: its readers look up a function, then a
version or alias of it by the function's id, and a record changed between the two is one a
read a moment later would have seen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import psycopg

from gureum.aws.postgres import (
    Database,
    PreparedCommit,
    SchemaTooNew,
    follow,
    migrations_in,
    redacted,
)
from gureum.lambda_.store import records
from gureum.lambda_.store.ports import EnvironmentVault, StoreBusy
from gureum.lambda_.store.postgres_queue import EVENTS, Claimant, QueueSession
from gureum.lambda_.store.postgres_tx import CHANGES, PostgresTransaction

T = TypeVar("T")

# The advisory lock of control-plane transactions (see the module docstring).
CONTROL_PLANE_LOCK = 0x6C616D626461  # "lambda"
COMPONENT = "lambda"


class PostgresStore:
    """`Store` and `QueueStore` on a PostgreSQL database (migrated when opened)."""

    def __init__(self, url: str, vault: EnvironmentVault) -> None:
        self._vault = vault
        self._database = Database(url)
        self._claimant = Claimant(url)  # connects at its first claim
        try:
            self._database.migrate(COMPONENT, migrations_in("gureum.lambda_.store"))
        except BaseException:
            self.close()
            raise
        self.url = url

    def describe(self) -> str:
        return redacted(self.url)

    @property
    def generation(self) -> int:
        # Both only ever grow, so their sum moves whenever either does.
        return self._database.generation + self._vault.generation

    @contextmanager
    def transaction(self) -> Iterator[PostgresTransaction]:
        with self._database.transaction(lock=CONTROL_PLANE_LOCK) as connection:
            tx = PostgresTransaction(connection, self._vault, self._claimant)
            yield tx
            if tx.changed:
                tx.announce()
        if tx.changed:
            self._database.bump()

    @contextmanager
    def snapshot(self) -> Iterator[PostgresTransaction]:
        with self._database.reading() as connection:
            yield PostgresTransaction(connection, records.SEALED_ON_LOOP, self._claimant)

    @contextmanager
    def queue_transaction(self, *, wait: bool = True) -> Iterator[PostgresTransaction]:
        if not wait:
            raise StoreBusy  # not on the event loop (see the module docstring)
        with self._database.transaction() as connection:
            yield PostgresTransaction(connection, self._vault, self._claimant)

    def loop_queue(self) -> QueueSession:
        """The event queue from the event loop: its group commits, claims and reads."""
        return QueueSession(self.url)

    def prepare_queue(
        self, work: Callable[[PostgresTransaction], T], *, wait: bool = True
    ) -> tuple[T, PreparedCommit]:
        if not wait:
            raise StoreBusy
        return self._database.prepare(
            lambda connection: work(PostgresTransaction(connection, self._vault, self._claimant))
        )

    async def follow(
        self, events_committed: Callable[[], None], changed: Callable[[], None]
    ) -> None:
        """Until cancelled: wakes the delivery loop when any process enqueues events, and
        moves `generation` when another process changes the control plane. Owned by the
        assembly's task group."""

        def heard(channel: str) -> None:
            if channel in (CHANGES, ""):
                self._database.bump()
                changed()
            if channel in (EVENTS, ""):
                events_committed()

        await follow(self.url, (EVENTS, CHANGES), heard)

    def close(self) -> None:
        self._database.close()
        self._claimant.close()


def open_store(url: str, vault: EnvironmentVault) -> PostgresStore:
    """Opens (and migrates) the store, or exits with what went wrong, without the password."""
    try:
        return PostgresStore(url, vault)
    except (psycopg.Error, SchemaTooNew) as exc:
        raise SystemExit(f"gureum: cannot use the store {redacted(url)}: {exc}") from None
