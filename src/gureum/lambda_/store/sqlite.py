"""The embedded store: SQLite in WAL mode, one document per row, one writer at a time.

Durability: `synchronous=FULL` makes every commit reach the disk before `transaction()` returns, so
what a client saw acknowledged survives `kill -9`. All transactions start with `BEGIN IMMEDIATE`,
so a read-modify-write never races another writer. The connection is shared by the worker threads
behind a lock; control-plane calls are short, and the invoke path reads from memory, not from here.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from gureum.aws.sqlite import Database, DatabaseBusy, PreparedCommit
from gureum.lambda_.domain.aliases import Alias
from gureum.lambda_.domain.arns import LATEST
from gureum.lambda_.domain.event_configs import EventInvokeConfig
from gureum.lambda_.domain.functions import Function, FunctionVersion
from gureum.lambda_.domain.layers import LayerVersion
from gureum.lambda_.domain.provisioned import ProvisionedConfig, ProvisionedStatus
from gureum.lambda_.domain.retries import Progress, QueuedEvent
from gureum.lambda_.store import records
from gureum.lambda_.store.ports import EnvironmentVault, StoreBusy

SCHEMA = """
CREATE TABLE IF NOT EXISTS functions (
    id TEXT PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
    doc TEXT NOT NULL, previous TEXT, UNIQUE (account, region, name));
CREATE TABLE IF NOT EXISTS versions (
    function_id TEXT NOT NULL REFERENCES functions(id) ON DELETE CASCADE,
    number INTEGER NOT NULL, settled INTEGER NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL,
    layer_blobs TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (function_id, number));
CREATE TABLE IF NOT EXISTS aliases (
    function_id TEXT NOT NULL REFERENCES functions(id) ON DELETE CASCADE,
    name TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (function_id, name));
CREATE TABLE IF NOT EXISTS event_configs (
    function_id TEXT NOT NULL REFERENCES functions(id) ON DELETE CASCADE,
    qualifier TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (function_id, qualifier));
CREATE TABLE IF NOT EXISTS provisioned_configs (
    function_id TEXT NOT NULL REFERENCES functions(id) ON DELETE CASCADE,
    qualifier TEXT NOT NULL, requested INTEGER NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (function_id, qualifier));
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT NOT NULL, account TEXT NOT NULL,
    region TEXT NOT NULL, function_name TEXT NOT NULL, qualifier TEXT, payload BLOB NOT NULL,
    accepted_at REAL NOT NULL, invocations INTEGER NOT NULL, backoffs INTEGER NOT NULL,
    due_at REAL NOT NULL, trace_header TEXT);
CREATE INDEX IF NOT EXISTS events_due ON events (due_at);
CREATE TABLE IF NOT EXISTS layers (
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
    next_version INTEGER NOT NULL, PRIMARY KEY (account, region, name));
CREATE TABLE IF NOT EXISTS layer_versions (
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL,
    blob TEXT NOT NULL, size INTEGER NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (account, region, name, version));
"""

# Columns added after the first release, with their definitions: added to older databases when
# they are opened (`_migrate`).
ADDED_COLUMNS = (("functions", "previous", "TEXT"), ("events", "trace_header", "TEXT"))

_FUNCTION_COLUMNS = "f.id, f.account, f.region, f.name, f.doc, v.doc, f.previous"
_FUNCTION_FROM = "FROM functions f JOIN versions v ON v.function_id = f.id AND v.number = 0 "
_FUNCTION_SELECT = f"SELECT {_FUNCTION_COLUMNS} {_FUNCTION_FROM}"
T = TypeVar("T")


def _migrate(db: sqlite3.Connection) -> None:
    """Brings a database written by an older gureum up to `SCHEMA` (each step idempotent)."""
    for table, column, definition in ADDED_COLUMNS:
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column not in present:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")


class SqliteStore:
    """`Store` on one SQLite file (see `gureum.aws.sqlite` for the guarantees)."""

    def __init__(self, path: Path, vault: EnvironmentVault) -> None:
        self._vault = vault
        self._database = Database(path, SCHEMA)
        with self._database.transaction() as db:
            _migrate(db)

    @property
    def generation(self) -> int:
        # Both only ever grow, so their sum moves whenever either does.
        return self._database.generation + self._vault.generation

    @contextmanager
    def transaction(self) -> Iterator[SqliteTransaction]:
        with self._database.transaction() as db:
            yield SqliteTransaction(db, self._vault)

    @contextmanager
    def snapshot(self) -> Iterator[SqliteTransaction]:
        with self._database.snapshot() as db:
            yield SqliteTransaction(db, records.SEALED_ON_LOOP)

    @contextmanager
    def queue_transaction(self, *, wait: bool = True) -> Iterator[SqliteTransaction]:
        with ExitStack() as stack:
            try:
                db = stack.enter_context(self._database.transaction(counted=False, wait=wait))
            except DatabaseBusy:
                raise StoreBusy from None
            yield SqliteTransaction(db, self._vault)

    def prepare_queue(
        self, work: Callable[[SqliteTransaction], T], *, wait: bool = True
    ) -> tuple[T, PreparedCommit]:
        try:
            return self._database.prepare(
                lambda db: work(SqliteTransaction(db, self._vault)), counted=False, wait=wait
            )
        except DatabaseBusy:
            raise StoreBusy from None

    def close(self) -> None:
        self._database.close()


class SqliteTransaction:
    def __init__(self, db: sqlite3.Connection, vault: EnvironmentVault) -> None:
        self._db = db
        self._vault = vault

    def _rows(self, sql: str, *args: Any) -> list[Any]:
        return self._db.execute(sql, args).fetchall()

    # functions and versions ---------------------------------------------------------------

    def _function(self, row: Any) -> Function:
        row_id, account, region, name, doc, latest, previous = row
        return records.function_from(
            row_id,
            account,
            region,
            name,
            json.loads(doc),
            json.loads(latest),
            json.loads(previous) if previous is not None else None,
            self._vault,
        )

    def _version(self, function: Function, document: str) -> FunctionVersion:
        return records.version_from(
            json.loads(document), self._vault, function.account, function.region
        )

    def get_function(self, account: str, region: str, name: str) -> Function | None:
        rows = self._rows(
            _FUNCTION_SELECT + "WHERE f.account = ? AND f.region = ? AND f.name = ?",
            account,
            region,
            name,
        )
        return self._function(rows[0]) if rows else None

    def put_function(self, function: Function) -> None:
        previous = None
        if function.previous is not None:
            previous = records.dump(
                records.version_document(
                    function.previous, self._vault, function.account, function.region
                )
            )
        self._db.execute(
            "INSERT INTO functions (id, account, region, name, doc, previous) "
            "VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, previous = excluded.previous",
            (
                function.id,
                function.account,
                function.region,
                function.name,
                records.dump(records.function_document(function)),
                previous,
            ),
        )
        self.put_version(function, function.latest)

    def delete_function(self, function: Function) -> None:
        self._db.execute("DELETE FROM functions WHERE id = ?", (function.id,))

    def list_functions(
        self, account: str, region: str, after: str | None, limit: int
    ) -> list[Function]:
        rows = self._rows(
            _FUNCTION_SELECT
            + "WHERE f.account = ? AND f.region = ? AND f.name > ? ORDER BY f.name LIMIT ?",
            account,
            region,
            after or "",
            limit,
        )
        return [self._function(row) for row in rows]

    def get_version(self, function: Function, version: str) -> FunctionVersion | None:
        number = 0 if version == LATEST else int(version)
        rows = self._rows(
            "SELECT doc FROM versions WHERE function_id = ? AND number = ?", function.id, number
        )
        return self._version(function, rows[0][0]) if rows else None

    def put_version(self, function: Function, version: FunctionVersion) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO versions "
            "(function_id, number, settled, blob, size, layer_blobs, doc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                function.id,
                version.number,
                int(version.lifecycle.settled),
                version.code.blob,
                version.code.size,
                " ".join(layer.blob for layer in version.settings.layers),
                records.dump(
                    records.version_document(
                        version, self._vault, function.account, function.region
                    )
                ),
            ),
        )

    def delete_version(self, function: Function, version: str) -> None:
        self._db.execute(
            "DELETE FROM versions WHERE function_id = ? AND number = ?", (function.id, int(version))
        )
        self.delete_provisioned(function, version)

    def list_versions(self, function: Function, after: int, limit: int) -> list[FunctionVersion]:
        rows = self._rows(
            "SELECT doc FROM versions WHERE function_id = ? AND number > ? ORDER BY number LIMIT ?",
            function.id,
            after,
            limit,
        )
        return [self._version(function, row[0]) for row in rows]

    def unsettled(self) -> list[tuple[Function, FunctionVersion]]:
        rows = self._rows(
            f"SELECT {_FUNCTION_COLUMNS}, u.doc {_FUNCTION_FROM}"
            "JOIN versions u ON u.function_id = f.id WHERE u.settled = 0"
        )
        pairs = []
        for row in rows:
            function = self._function(row[:7])
            pairs.append((function, self._version(function, row[7])))
        return pairs

    def published(self) -> list[tuple[Function, FunctionVersion]]:
        rows = self._rows(
            f"SELECT {_FUNCTION_COLUMNS}, u.doc {_FUNCTION_FROM}"
            "JOIN versions u ON u.function_id = f.id WHERE u.number > 0"
        )
        pairs = []
        for row in rows:
            function = self._function(row[:7])
            pairs.append((function, self._version(function, row[7])))
        return pairs

    def version_slots(self) -> set[str]:
        rows = self._rows("SELECT function_id, number FROM versions")
        return {f"{function_id}:{number or LATEST}" for function_id, number in rows}

    # aliases ------------------------------------------------------------------------------

    def get_alias(self, function: Function, name: str) -> Alias | None:
        rows = self._rows(
            "SELECT doc FROM aliases WHERE function_id = ? AND name = ?", function.id, name
        )
        return records.alias_from(name, json.loads(rows[0][0])) if rows else None

    def put_alias(self, function: Function, alias: Alias) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO aliases (function_id, name, doc) VALUES (?, ?, ?)",
            (function.id, alias.name, records.dump(records.alias_document(alias))),
        )

    def delete_alias(self, function: Function, name: str) -> None:
        self._db.execute(
            "DELETE FROM aliases WHERE function_id = ? AND name = ?", (function.id, name)
        )
        self.delete_event_config(function, name)
        self.delete_provisioned(function, name)  # spec 6.3: the alias's configuration goes too

    def list_aliases(self, function: Function) -> list[Alias]:
        rows = self._rows(
            "SELECT name, doc FROM aliases WHERE function_id = ? ORDER BY name", function.id
        )
        return [records.alias_from(name, json.loads(doc)) for name, doc in rows]

    # layers -------------------------------------------------------------------------------

    def next_layer_version(self, account: str, region: str, name: str) -> int:
        self._db.execute(
            "INSERT INTO layers (account, region, name, next_version) VALUES (?, ?, ?, 2) "
            "ON CONFLICT DO UPDATE SET next_version = next_version + 1",
            (account, region, name),
        )
        rows = self._rows(
            "SELECT next_version FROM layers WHERE account = ? AND region = ? AND name = ?",
            account,
            region,
            name,
        )
        return int(rows[0][0]) - 1

    def get_layer_version(
        self, account: str, region: str, name: str, version: int
    ) -> LayerVersion | None:
        rows = self._rows(
            "SELECT doc FROM layer_versions "
            "WHERE account = ? AND region = ? AND name = ? AND version = ?",
            account,
            region,
            name,
            version,
        )
        if not rows:
            return None
        return records.layer_from(account, region, name, version, json.loads(rows[0][0]))

    def put_layer_version(self, layer: LayerVersion) -> None:
        self._db.execute(
            "INSERT INTO layer_versions (account, region, name, version, blob, size, doc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                layer.account,
                layer.region,
                layer.name,
                layer.version,
                layer.code.blob,
                layer.code.size,
                records.dump(records.layer_document(layer)),
            ),
        )

    def delete_layer_version(self, layer: LayerVersion) -> None:
        self._db.execute(
            "DELETE FROM layer_versions "
            "WHERE account = ? AND region = ? AND name = ? AND version = ?",
            (layer.account, layer.region, layer.name, layer.version),
        )

    def list_layer_versions(self, account: str, region: str, name: str) -> list[LayerVersion]:
        rows = self._rows(
            "SELECT version, doc FROM layer_versions WHERE account = ? AND region = ? "
            "AND name = ? ORDER BY version DESC",
            account,
            region,
            name,
        )
        return [records.layer_from(account, region, name, v, json.loads(d)) for v, d in rows]

    def list_latest_layer_versions(self, account: str, region: str) -> list[LayerVersion]:
        rows = self._rows(
            "SELECT name, MAX(version) FROM layer_versions WHERE account = ? AND region = ? "
            "GROUP BY name ORDER BY name",
            account,
            region,
        )
        found = (self.get_layer_version(account, region, n, v) for n, v in rows)
        return [layer for layer in found if layer is not None]

    # usage --------------------------------------------------------------------------------

    def code_usage(self, account: str, region: str) -> tuple[int, int]:
        functions, function_bytes = self._rows(
            "SELECT COUNT(DISTINCT f.id), COALESCE(SUM(v.size), 0) FROM functions f "
            "JOIN versions v ON v.function_id = f.id WHERE f.account = ? AND f.region = ?",
            account,
            region,
        )[0]
        layer_bytes = self._rows(
            "SELECT COALESCE(SUM(size), 0) FROM layer_versions WHERE account = ? AND region = ?",
            account,
            region,
        )[0][0]
        return int(function_bytes) + int(layer_bytes), int(functions)

    def hot_blobs(self) -> list[str]:
        rows = self._rows(
            "SELECT blob FROM versions WHERE number = 0 AND blob LIKE 'hot-%' UNION "
            "SELECT blob FROM layer_versions WHERE blob LIKE 'hot-%'"
        )
        return [str(row[0]) for row in rows]

    def functions_with_code(self, blob: str) -> list[tuple[str, str, str]]:
        rows = self._rows(
            "SELECT f.account, f.region, f.name FROM functions f JOIN versions v "
            "ON v.function_id = f.id AND v.number = 0 WHERE v.blob = ?",
            blob,
        )
        return [(str(a), str(r), str(n)) for a, r, n in rows]

    def blob_in_use(self, blob: str) -> bool:
        rows = self._rows(
            # A layer's archive stays while a function version holds it, even once the layer
            # version itself is deleted (as on AWS).
            "SELECT 1 FROM versions WHERE blob = ? UNION ALL "
            "SELECT 1 FROM layer_versions WHERE blob = ? UNION ALL "
            "SELECT 1 FROM versions WHERE instr(layer_blobs, ?) > 0 UNION ALL "
            # The `$LATEST` still run during an update holds its package and layers' archives
            # (blob names are SHA-256 digests, so a match in its document is one of them).
            "SELECT 1 FROM functions WHERE instr(previous, ?) > 0 LIMIT 1",
            blob,
            blob,
            blob,
            blob,
        )
        return bool(rows)

    # concurrency ----------------------------------------------------------------------------

    def reserved_total(self, account: str, region: str, excluding: str) -> int:
        rows = self._rows(
            "SELECT COALESCE(SUM(json_extract(doc, '$.reserved_concurrency')), 0) FROM functions "
            "WHERE account = ? AND region = ? AND id != ?",
            account,
            region,
            excluding,
        )
        return int(rows[0][0])

    def reservations(self) -> list[tuple[str, str, str, int]]:
        rows = self._rows(
            "SELECT account, region, id, json_extract(doc, '$.reserved_concurrency') "
            "FROM functions WHERE json_extract(doc, '$.reserved_concurrency') IS NOT NULL"
        )
        return [(account, region, row_id, int(value)) for account, region, row_id, value in rows]

    # event invoke configs -------------------------------------------------------------------

    def get_event_config(self, function: Function, qualifier: str) -> EventInvokeConfig | None:
        rows = self._rows(
            "SELECT doc FROM event_configs WHERE function_id = ? AND qualifier = ?",
            function.id,
            qualifier,
        )
        return EventInvokeConfig(**json.loads(rows[0][0])) if rows else None

    def put_event_config(
        self, function: Function, qualifier: str, config: EventInvokeConfig
    ) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO event_configs (function_id, qualifier, doc) VALUES (?, ?, ?)",
            (function.id, qualifier, records.dump(asdict(config))),
        )

    def delete_event_config(self, function: Function, qualifier: str) -> None:
        self._db.execute(
            "DELETE FROM event_configs WHERE function_id = ? AND qualifier = ?",
            (function.id, qualifier),
        )

    def list_event_configs(self, function: Function) -> list[tuple[str, EventInvokeConfig]]:
        rows = self._rows(
            "SELECT qualifier, doc FROM event_configs WHERE function_id = ? ORDER BY qualifier",
            function.id,
        )
        return [(q, EventInvokeConfig(**json.loads(doc))) for q, doc in rows]

    # provisioned concurrency ----------------------------------------------------------------

    def get_provisioned(self, function: Function, qualifier: str) -> ProvisionedConfig | None:
        rows = self._rows(
            "SELECT doc FROM provisioned_configs WHERE function_id = ? AND qualifier = ?",
            function.id,
            qualifier,
        )
        return _provisioned(rows[0][0]) if rows else None

    def put_provisioned(self, function: Function, config: ProvisionedConfig) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO provisioned_configs (function_id, qualifier, requested, doc) "
            "VALUES (?, ?, ?, ?)",
            (function.id, config.qualifier, config.requested, records.dump(asdict(config))),
        )

    def delete_provisioned(self, function: Function, qualifier: str) -> None:
        self._db.execute(
            "DELETE FROM provisioned_configs WHERE function_id = ? AND qualifier = ?",
            (function.id, qualifier),
        )

    def list_provisioned(self, function: Function) -> list[ProvisionedConfig]:
        rows = self._rows(
            "SELECT doc FROM provisioned_configs WHERE function_id = ? ORDER BY qualifier",
            function.id,
        )
        return [_provisioned(row[0]) for row in rows]

    def all_provisioned(self) -> list[tuple[Function, ProvisionedConfig]]:
        rows = self._rows(
            f"SELECT {_FUNCTION_COLUMNS}, p.doc {_FUNCTION_FROM}"
            "JOIN provisioned_configs p ON p.function_id = f.id ORDER BY f.id, p.qualifier"
        )
        return [(self._function(row[:7]), _provisioned(row[7])) for row in rows]

    def provisioned_totals(self) -> list[tuple[str, str, str, int]]:
        rows = self._rows(
            "SELECT f.account, f.region, f.id, SUM(p.requested) FROM provisioned_configs p "
            "JOIN functions f ON f.id = p.function_id GROUP BY f.id"
        )
        return [(account, region, row_id, int(total)) for account, region, row_id, total in rows]

    def unreserved_provisioned(self, account: str, region: str, excluding: str) -> int:
        rows = self._rows(
            "SELECT COALESCE(SUM(p.requested), 0) FROM provisioned_configs p "
            "JOIN functions f ON f.id = p.function_id WHERE f.account = ? AND f.region = ? "
            "AND f.id != ? AND json_extract(f.doc, '$.reserved_concurrency') IS NULL",
            account,
            region,
            excluding,
        )
        return int(rows[0][0])

    # the asynchronous event queue -------------------------------------------------------------

    def enqueue(self, events: list[QueuedEvent]) -> None:
        self._db.executemany(
            "INSERT INTO events (request_id, account, region, function_name, qualifier, payload, "
            "accepted_at, invocations, backoffs, due_at, trace_header) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    e.request_id,
                    e.account,
                    e.region,
                    e.function_name,
                    e.qualifier,
                    e.payload,
                    e.progress.accepted_at,
                    e.progress.invocations,
                    e.progress.backoffs,
                    e.due_at,
                    e.trace_header,
                )
                for e in events
            ],
        )

    def due_events(self, now: float, limit: int, busy: set[int]) -> list[QueuedEvent]:
        rows = self._rows(
            "SELECT id, request_id, account, region, function_name, qualifier, payload, "
            "accepted_at, invocations, backoffs, due_at, trace_header FROM events "
            "WHERE due_at <= ? "
            "ORDER BY due_at LIMIT ?",
            now,
            limit + len(busy),
        )
        found = [_event(row) for row in rows if row[0] not in busy]
        return found[:limit]

    def next_due(self) -> float | None:
        value = self._rows("SELECT MIN(due_at) FROM events")[0][0]
        return None if value is None else float(value)

    def reschedule(self, event_id: int, due_at: float, progress: Progress) -> None:
        self._db.execute(
            "UPDATE events SET due_at = ?, invocations = ?, backoffs = ? WHERE id = ?",
            (due_at, progress.invocations, progress.backoffs, event_id),
        )

    def finish_event(self, event_id: int) -> None:
        self._db.execute("DELETE FROM events WHERE id = ?", (event_id,))

    def queue_depth(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM events")[0][0])

    def queue_depths(self) -> dict[tuple[str, str], int]:
        rows = self._rows("SELECT account, region, COUNT(*) FROM events GROUP BY account, region")
        return {(str(a), str(r)): int(n) for a, r, n in rows}


def _event(row: Any) -> QueuedEvent:
    row_id, request_id, account, region, name, qualifier, payload = row[:7]
    accepted, invocations, backoffs, due, trace = row[7:]
    progress = Progress(accepted, invocations, backoffs)
    return QueuedEvent(
        request_id, account, region, name, qualifier, bytes(payload), progress, due, row_id, trace
    )


def _provisioned(document: str) -> ProvisionedConfig:
    values = json.loads(document)
    values["status"] = ProvisionedStatus(values["status"])
    return ProvisionedConfig(**values)
