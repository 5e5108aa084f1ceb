"""The SQL port every service's store is written against, and where its database is opened.

A store (SQS's queues, KMS's keys, IAM's records, ...) writes its queries once, in the SQL that
SQLite and PostgreSQL both speak, with `?` placeholders, and runs them through `SqlDatabase`:
- on SQLite (the embedded default), `gureum.aws.sqlite.Database`: one file in the data
  directory per store, its `SCHEMA` run at open;
- on PostgreSQL (`--store postgresql://...`), `gureum.aws.postgres.SqlOnPostgres`: one database
  for every store, each store's numbered migrations (`<package>/migrations/NNNN_name.sql`) run at
  open, writers of one store one at a time across every process (an advisory lock per store).

The portable subset, which each store keeps to: `INSERT ... ON CONFLICT (...) DO UPDATE/NOTHING`
instead of `INSERT OR REPLACE/IGNORE`; `RETURNING` instead of `lastrowid`; `COALESCE` instead of
`IFNULL`; no `?` or `%` inside string literals; integers for booleans. The PostgreSQL schemas use
`BIGINT` for SQLite's `INTEGER`, `DOUBLE PRECISION` for `REAL`, `BYTEA` for `BLOB`, and
`COLLATE "C"` on the text that lists sort by, so both order names byte by byte, as AWS does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from gureum.aws.sqlite import Database


class Rows(Protocol):
    """What a statement answers: sqlite3's and psycopg's cursors both are."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Sql(Protocol):
    """A connection inside a transaction."""

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Rows: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> object:
        """One statement over many rows (on PostgreSQL: pipelined, one round trip)."""
        ...


class SqlDatabase(Protocol):
    """One store's database: transactions, and a count of the commits that changed it.

    `generation` moves after every commit that wrote something, here or (on PostgreSQL) in any
    other process, so a store may cache what it read at one generation.
    """

    @property
    def generation(self) -> int: ...

    def transaction(self) -> AbstractContextManager[Sql]: ...

    def close(self) -> None: ...


class Backend(Protocol):
    """Where the stores' databases are: the data directory, or one PostgreSQL database."""

    # "sqlite" or "postgresql": a store may write a hot path in its database's own SQL (the
    # portable subset stays the rule, and the contract suites run both).
    dialect: str

    def open(self, spec: StoreSpec) -> SqlDatabase: ...

    def opened(self) -> dict[str, str]:
        """Each store opened so far, by component: where it is (for the health page)."""
        ...

    async def follow(self) -> None:
        """Until cancelled: moves each opened database's generation when another process
        commits to it (nothing to do on SQLite, where this process is the only writer)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class StoreSpec:
    """How one store's database is made on either backend.

    `component` names the store in PostgreSQL's migration ledger (and its lock and channel);
    `package` holds its `migrations` directory (`directory` names another one, for a package
    with two stores). `upgrade` brings an SQLite file made by an older gureum up to `schema`
    (an ALTER TABLE that `CREATE TABLE IF NOT EXISTS` cannot do); PostgreSQL has migrations.
    """

    component: str
    file: str
    schema: str
    package: str
    directory: str = "migrations"
    pragmas: tuple[str, ...] = ()
    upgrade: Callable[[Sql], None] | None = field(default=None, compare=False)


class SqliteBackend:
    """The embedded default: each store its own SQLite file in the data directory."""

    dialect = "sqlite"

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._opened: dict[str, str] = {}

    def open(self, spec: StoreSpec) -> SqlDatabase:
        path = self._data_dir / spec.file
        self._opened[spec.component] = f"sqlite:{path}"
        path.parent.mkdir(parents=True, exist_ok=True)
        database = Database(path, spec.schema, *spec.pragmas)
        if spec.upgrade is not None:
            with database.transaction() as sql:
                spec.upgrade(sql)
        return database

    def opened(self) -> dict[str, str]:
        return dict(self._opened)

    async def follow(self) -> None:
        return

    def close(self) -> None:
        return
