"""Where KMS keys live: their own SQLite file (WAL, `synchronous=FULL`), one writer at a time.

Key material is stored only wrapped under the root key (`gureum.kms.domain.envelope.wrap`); this
module never sees it in the clear. Every call happens inside `transaction()`, which holds a lock and
an `IMMEDIATE` SQLite transaction, so a read-modify-write (a rotation, a state change) cannot race
another thread, and nothing is half-applied after a crash: what a caller saw acknowledged is on
disk. Deleting a key takes its material and aliases with it (foreign keys, `ON DELETE CASCADE`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from gureum.aws.sqlite import Database
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


class SqliteKeyStore:
    """`KeyStore` on its own SQLite file, shared by worker threads behind a lock."""

    def __init__(self, path: Path) -> None:
        # Freed pages are zeroed, so a deleted key's wrapped material does not linger in the file.
        self._database = Database(path, SCHEMA, "secure_delete=ON")

    @property
    def generation(self) -> int:
        return self._database.generation

    @contextmanager
    def transaction(self) -> Iterator[SqliteKeyTransaction]:
        with self._database.transaction() as db:
            yield SqliteKeyTransaction(db)

    def close(self) -> None:
        self._database.close()


class SqliteKeyTransaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def key(self, account: str, region: str, key_id: str) -> Key | None:
        row = self._db.execute(
            "SELECT doc FROM keys WHERE account = ? AND region = ? AND key_id = ?",
            (account, region, key_id),
        ).fetchone()
        return None if row is None else _key(account, region, key_id, row[0])

    def keys(self, account: str, region: str) -> list[Key]:
        rows = self._db.execute(
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
            "INSERT OR REPLACE INTO key_settings (name, value) VALUES (?, ?)", (name, value)
        )
