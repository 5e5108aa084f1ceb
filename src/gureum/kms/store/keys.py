"""Where KMS keys live, through the SQL port (`gureum.aws.sql`): an SQLite file in the data
directory (WAL, `synchronous=FULL`, `secure_delete`), or PostgreSQL (`migrations/`).

Key material is stored only wrapped under the root key (`gureum.kms.domain.envelope.wrap`); this
module never sees it in the clear. Every call happens inside `transaction()`, which holds the store
alone (SQLite's `BEGIN IMMEDIATE` in one process, PostgreSQL's advisory lock of the store across
every process), so a read-modify-write (a rotation, a state change, the root key's check at
start-up) cannot race another thread or process, and nothing is half-applied after a crash: what
a caller saw acknowledged is committed. Deleting a key takes its material and aliases with it
(foreign keys, `ON DELETE CASCADE`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

from gureum.aws.sql import Backend, Sql, StoreSpec
from gureum.kms.domain.keys import Key, KeyAlias, KeyManager, KeyState

SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    account TEXT NOT NULL, region TEXT NOT NULL, key_id TEXT NOT NULL,
    deletion_due REAL, doc TEXT NOT NULL, PRIMARY KEY (account, region, key_id));
CREATE INDEX IF NOT EXISTS keys_deletion_due ON keys (deletion_due)
    WHERE deletion_due IS NOT NULL;
CREATE TABLE IF NOT EXISTS key_materials (
    account TEXT NOT NULL, region TEXT NOT NULL, key_id TEXT NOT NULL, version INTEGER NOT NULL,
    wrapped BLOB NOT NULL, PRIMARY KEY (account, region, key_id, version),
    FOREIGN KEY (account, region, key_id) REFERENCES keys ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS key_aliases (
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, key_id TEXT NOT NULL,
    created REAL NOT NULL, updated REAL NOT NULL, PRIMARY KEY (account, region, name),
    FOREIGN KEY (account, region, key_id) REFERENCES keys ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS key_settings (name TEXT PRIMARY KEY, value BLOB NOT NULL);
"""
# Freed pages are zeroed, so a deleted key's wrapped material does not linger in the file.
SPEC = StoreSpec("kms", "keys.sqlite3", SCHEMA, "gureum.kms.store", pragmas=("secure_delete=ON",))


class KeyTransaction(Protocol):
    """One atomic unit of work over keys, their wrapped material and their aliases."""

    def key(self, account: str, region: str, key_id: str) -> Key | None: ...
    def keys(self, account: str, region: str) -> list[Key]: ...
    def put_key(self, key: Key) -> None: ...
    def delete_due(self, now: datetime) -> int: ...
    def material(self, account: str, region: str, key_id: str, version: int) -> bytes | None: ...
    def add_material(
        self, account: str, region: str, key_id: str, version: int, wrapped: bytes
    ) -> None: ...
    def alias(self, account: str, region: str, name: str) -> KeyAlias | None: ...
    def aliases(self, account: str, region: str) -> list[KeyAlias]: ...
    def put_alias(self, alias: KeyAlias) -> None: ...
    def delete_alias(self, account: str, region: str, name: str) -> None: ...
    def setting(self, name: str) -> bytes | None: ...
    def put_setting(self, name: str, value: bytes) -> None: ...


class KeyStore(Protocol):
    """Keys, material and aliases behind transactions; `close()` at shutdown."""

    @property
    def generation(self) -> int:
        """Moves whenever a committed transaction changed anything (for callers that cache
        what a key allows)."""
        ...

    def transaction(self) -> AbstractContextManager[KeyTransaction]: ...
    def close(self) -> None: ...


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _moment(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def _document(key: Key) -> str:
    return json.dumps(
        {
            "created": key.created.timestamp(),
            "description": key.description,
            "manager": key.manager.value,
            "state": key.state.value,
            "deletion_date": _epoch(key.deletion_date),
            "pending_window_days": key.pending_window_days,
            "rotation_period_days": key.rotation_period_days,
            "next_rotation": _epoch(key.next_rotation),
            "material_version": key.material_version,
            "tags": [list(tag) for tag in key.tags],
        },
        separators=(",", ":"),
    )


def _key(account: str, region: str, key_id: str, doc: str) -> Key:
    data: dict[str, Any] = json.loads(doc)
    return Key(
        account=account,
        region=region,
        key_id=key_id,
        created=datetime.fromtimestamp(data["created"], UTC),
        description=data["description"],
        manager=KeyManager(data["manager"]),
        state=KeyState(data["state"]),
        deletion_date=_moment(data["deletion_date"]),
        pending_window_days=data["pending_window_days"],
        rotation_period_days=data["rotation_period_days"],
        next_rotation=_moment(data["next_rotation"]),
        material_version=data["material_version"],
        tags=tuple((str(k), str(v)) for k, v in data["tags"]),
    )


def _alias(row: tuple[str, str, str, str, float, float]) -> KeyAlias:
    account, region, name, key_id, created, updated = row
    return KeyAlias(
        account,
        region,
        name,
        key_id,
        datetime.fromtimestamp(created, UTC),
        datetime.fromtimestamp(updated, UTC),
    )


class SqlKeyStore:
    """`KeyStore` on the SQL port (SQLite or PostgreSQL), shared by worker threads."""

    def __init__(self, stores: Backend) -> None:
        self._database = stores.open(SPEC)

    @property
    def generation(self) -> int:
        return self._database.generation

    @contextmanager
    def transaction(self) -> Iterator[SqlKeyTransaction]:
        with self._database.transaction() as sql:
            yield SqlKeyTransaction(sql)

    def close(self) -> None:
        self._database.close()


class SqlKeyTransaction:
    def __init__(self, sql: Sql) -> None:
        self._db = sql

    def key(self, account: str, region: str, key_id: str) -> Key | None:
        row = self._db.execute(
            "SELECT doc FROM keys WHERE account = ? AND region = ? AND key_id = ?",
            (account, region, key_id),
        ).fetchone()
        return None if row is None else _key(account, region, key_id, row[0])

    def keys(self, account: str, region: str) -> list[Key]:
        rows = self._db.execute(
            # In the order they were made: SQLite's rowid, a column of that name on PostgreSQL.
            "SELECT key_id, doc FROM keys WHERE account = ? AND region = ? ORDER BY rowid",
            (account, region),
        )
        return [_key(account, region, key_id, doc) for key_id, doc in rows]

    def put_key(self, key: Key) -> None:
        due = _epoch(key.deletion_date) if key.state is KeyState.PENDING_DELETION else None
        self._db.execute(
            "INSERT INTO keys (account, region, key_id, deletion_due, doc) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (account, region, key_id) DO UPDATE SET "
            "deletion_due = excluded.deletion_due, doc = excluded.doc",
            (key.account, key.region, key.key_id, due, _document(key)),
        )

    def delete_due(self, now: datetime) -> int:
        """Deletes every key whose deletion window has passed; returns how many."""
        cursor = self._db.execute("DELETE FROM keys WHERE deletion_due <= ?", (now.timestamp(),))
        return cursor.rowcount

    def material(self, account: str, region: str, key_id: str, version: int) -> bytes | None:
        row = self._db.execute(
            "SELECT wrapped FROM key_materials "
            "WHERE account = ? AND region = ? AND key_id = ? AND version = ?",
            (account, region, key_id, version),
        ).fetchone()
        return None if row is None else bytes(row[0])

    def add_material(
        self, account: str, region: str, key_id: str, version: int, wrapped: bytes
    ) -> None:
        self._db.execute(
            "INSERT INTO key_materials (account, region, key_id, version, wrapped) "
            "VALUES (?, ?, ?, ?, ?)",
            (account, region, key_id, version, wrapped),
        )

    def alias(self, account: str, region: str, name: str) -> KeyAlias | None:
        row = self._db.execute(
            "SELECT account, region, name, key_id, created, updated FROM key_aliases "
            "WHERE account = ? AND region = ? AND name = ?",
            (account, region, name),
        ).fetchone()
        return None if row is None else _alias(row)

    def aliases(self, account: str, region: str) -> list[KeyAlias]:
        rows = self._db.execute(
            "SELECT account, region, name, key_id, created, updated FROM key_aliases "
            "WHERE account = ? AND region = ? ORDER BY name",
            (account, region),
        )
        return [_alias(row) for row in rows]

    def put_alias(self, alias: KeyAlias) -> None:
        self._db.execute(
            "INSERT INTO key_aliases (account, region, name, key_id, created, updated) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, region, name) DO UPDATE SET "
            "key_id = excluded.key_id, updated = excluded.updated",
            (
                alias.account,
                alias.region,
                alias.name,
                alias.key_id,
                alias.created.timestamp(),
                alias.updated.timestamp(),
            ),
        )

    def delete_alias(self, account: str, region: str, name: str) -> None:
        self._db.execute(
            "DELETE FROM key_aliases WHERE account = ? AND region = ? AND name = ?",
            (account, region, name),
        )

    def setting(self, name: str) -> bytes | None:
        row = self._db.execute("SELECT value FROM key_settings WHERE name = ?", (name,)).fetchone()
        return None if row is None else bytes(row[0])

    def put_setting(self, name: str, value: bytes) -> None:
        self._db.execute(
            "INSERT INTO key_settings (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )
