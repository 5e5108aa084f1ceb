"""One transaction of the PostgreSQL store: the `Transaction` port in SQL (control plane).

The queue's statements are `postgres_queue.QueueStatements`, mixed in. Documents are the
SQLite store's (`records`), kept as jsonb.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from gureum.lambda_.domain.aliases import Alias
from gureum.lambda_.domain.arns import LATEST
from gureum.lambda_.domain.event_configs import EventInvokeConfig
from gureum.lambda_.domain.functions import Function, FunctionVersion
from gureum.lambda_.domain.layers import LayerVersion
from gureum.lambda_.domain.provisioned import ProvisionedConfig, ProvisionedStatus
from gureum.lambda_.store import records
from gureum.lambda_.store.ports import EnvironmentVault
from gureum.lambda_.store.postgres_queue import Claimant, QueueStatements

# NOTIFY channel: the control plane changed (other processes move their `generation`).
CHANGES = "gureum_lambda_changes"

_FUNCTION_COLUMNS = "f.id, f.account, f.region, f.name, f.doc, v.doc, f.previous"
_FUNCTION_FROM = (
    "FROM lambda_functions f JOIN lambda_versions v ON v.function_id = f.id AND v.number = 0 "
)
_FUNCTION_SELECT = f"SELECT {_FUNCTION_COLUMNS} {_FUNCTION_FROM}"


def _json(document: dict[str, Any]) -> Jsonb:
    return Jsonb(document, dumps=records.dump)


class PostgresTransaction(QueueStatements):
    def __init__(
        self,
        connection: psycopg.Connection[tuple[Any, ...]],
        vault: EnvironmentVault,
        claimant: Claimant,
    ) -> None:
        super().__init__(connection, claimant)
        self._vault = vault

    def announce(self) -> None:
        """Tells every process's listener that the control plane changed (sent at COMMIT)."""
        self._db.execute("SELECT pg_notify(%s, '')", (CHANGES,))

    # functions and versions ---------------------------------------------------------------

    def _function(self, row: Any) -> Function:
        row_id, account, region, name, doc, latest, previous = row
        return records.function_from(
            row_id, account, region, name, doc, latest, previous, self._vault
        )

    def _version(self, function: Function, document: dict[str, Any]) -> FunctionVersion:
        return records.version_from(document, self._vault, function.account, function.region)

    def _pairs(self, rows: list[Any]) -> list[tuple[Function, FunctionVersion]]:
        pairs = []
        for row in rows:
            function = self._function(row[:7])
            pairs.append((function, self._version(function, row[7])))
        return pairs

    def get_function(self, account: str, region: str, name: str) -> Function | None:
        rows = self._rows(
            _FUNCTION_SELECT + "WHERE f.account = %s AND f.region = %s AND f.name = %s",
            account,
            region,
            name,
        )
        return self._function(rows[0]) if rows else None

    def put_function(self, function: Function) -> None:
        previous = None
        if function.previous is not None:
            previous = _json(
                records.version_document(
                    function.previous, self._vault, function.account, function.region
                )
            )
        self._write(
            "INSERT INTO lambda_functions (id, account, region, name, doc, previous) "
            "VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, previous = excluded.previous",
            function.id,
            function.account,
            function.region,
            function.name,
            _json(records.function_document(function)),
            previous,
        )
        self.put_version(function, function.latest)

    def delete_function(self, function: Function) -> None:
        self._write("DELETE FROM lambda_functions WHERE id = %s", function.id)

    def list_functions(
        self, account: str, region: str, after: str | None, limit: int
    ) -> list[Function]:
        rows = self._rows(
            _FUNCTION_SELECT + 'WHERE f.account = %s AND f.region = %s AND f.name > %s COLLATE "C" '
            'ORDER BY f.name COLLATE "C" LIMIT %s',
            account,
            region,
            after or "",
            limit,
        )
        return [self._function(row) for row in rows]

    def get_version(self, function: Function, version: str) -> FunctionVersion | None:
        number = 0 if version == LATEST else int(version)
        rows = self._rows(
            "SELECT doc FROM lambda_versions WHERE function_id = %s AND number = %s",
            function.id,
            number,
        )
        return self._version(function, rows[0][0]) if rows else None

    def put_version(self, function: Function, version: FunctionVersion) -> None:
        self._write(
            "INSERT INTO lambda_versions "
            "(function_id, number, settled, blob, size, layer_blobs, doc) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (function_id, number) DO UPDATE "
            "SET settled = excluded.settled, blob = excluded.blob, size = excluded.size, "
            "layer_blobs = excluded.layer_blobs, doc = excluded.doc",
            function.id,
            version.number,
            version.lifecycle.settled,
            version.code.blob,
            version.code.size,
            " ".join(layer.blob for layer in version.settings.layers),
            _json(
                records.version_document(version, self._vault, function.account, function.region)
            ),
        )

    def delete_version(self, function: Function, version: str) -> None:
        self._write(
            "DELETE FROM lambda_versions WHERE function_id = %s AND number = %s",
            function.id,
            int(version),
        )
        self.delete_provisioned(function, version)

    def list_versions(self, function: Function, after: int, limit: int) -> list[FunctionVersion]:
        rows = self._rows(
            "SELECT doc FROM lambda_versions WHERE function_id = %s AND number > %s "
            "ORDER BY number LIMIT %s",
            function.id,
            after,
            limit,
        )
        return [self._version(function, row[0]) for row in rows]

    def unsettled(self) -> list[tuple[Function, FunctionVersion]]:
        return self._pairs(
            self._rows(
                f"SELECT {_FUNCTION_COLUMNS}, u.doc {_FUNCTION_FROM}"
                "JOIN lambda_versions u ON u.function_id = f.id WHERE NOT u.settled"
            )
        )

    def published(self) -> list[tuple[Function, FunctionVersion]]:
        return self._pairs(
            self._rows(
                f"SELECT {_FUNCTION_COLUMNS}, u.doc {_FUNCTION_FROM}"
                "JOIN lambda_versions u ON u.function_id = f.id WHERE u.number > 0"
            )
        )

    def version_slots(self) -> set[str]:
        rows = self._rows("SELECT function_id, number FROM lambda_versions")
        return {f"{function_id}:{number or LATEST}" for function_id, number in rows}

    # aliases ------------------------------------------------------------------------------

    def get_alias(self, function: Function, name: str) -> Alias | None:
        rows = self._rows(
            "SELECT doc FROM lambda_aliases WHERE function_id = %s AND name = %s",
            function.id,
            name,
        )
        return records.alias_from(name, rows[0][0]) if rows else None

    def put_alias(self, function: Function, alias: Alias) -> None:
        self._write(
            "INSERT INTO lambda_aliases (function_id, name, doc) VALUES (%s, %s, %s) "
            "ON CONFLICT (function_id, name) DO UPDATE SET doc = excluded.doc",
            function.id,
            alias.name,
            _json(records.alias_document(alias)),
        )

    def delete_alias(self, function: Function, name: str) -> None:
        self._write(
            "DELETE FROM lambda_aliases WHERE function_id = %s AND name = %s", function.id, name
        )
        self.delete_event_config(function, name)
        self.delete_provisioned(function, name)  # spec 6.3: the alias's configuration goes too

    def list_aliases(self, function: Function) -> list[Alias]:
        rows = self._rows(
            'SELECT name, doc FROM lambda_aliases WHERE function_id = %s ORDER BY name COLLATE "C"',
            function.id,
        )
        return [records.alias_from(name, doc) for name, doc in rows]

    # layers -------------------------------------------------------------------------------

    def next_layer_version(self, account: str, region: str, name: str) -> int:
        self._changed = True
        rows = self._rows(
            "INSERT INTO lambda_layers (account, region, name, next_version) "
            "VALUES (%s, %s, %s, 2) ON CONFLICT (account, region, name) "
            "DO UPDATE SET next_version = lambda_layers.next_version + 1 RETURNING next_version",
            account,
            region,
            name,
        )
        return int(rows[0][0]) - 1

    def get_layer_version(
        self, account: str, region: str, name: str, version: int
    ) -> LayerVersion | None:
        rows = self._rows(
            "SELECT doc FROM lambda_layer_versions "
            "WHERE account = %s AND region = %s AND name = %s AND version = %s",
            account,
            region,
            name,
            version,
        )
        return records.layer_from(account, region, name, version, rows[0][0]) if rows else None

    def put_layer_version(self, layer: LayerVersion) -> None:
        self._write(
            "INSERT INTO lambda_layer_versions (account, region, name, version, blob, size, doc) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            layer.account,
            layer.region,
            layer.name,
            layer.version,
            layer.code.blob,
            layer.code.size,
            _json(records.layer_document(layer)),
        )

    def delete_layer_version(self, layer: LayerVersion) -> None:
        self._write(
            "DELETE FROM lambda_layer_versions "
            "WHERE account = %s AND region = %s AND name = %s AND version = %s",
            layer.account,
            layer.region,
            layer.name,
            layer.version,
        )

    def list_layer_versions(self, account: str, region: str, name: str) -> list[LayerVersion]:
        rows = self._rows(
            "SELECT version, doc FROM lambda_layer_versions WHERE account = %s AND region = %s "
            "AND name = %s ORDER BY version DESC",
            account,
            region,
            name,
        )
        return [records.layer_from(account, region, name, v, d) for v, d in rows]

    def list_latest_layer_versions(self, account: str, region: str) -> list[LayerVersion]:
        rows = self._rows(
            'SELECT DISTINCT ON (name COLLATE "C") name, version, doc FROM lambda_layer_versions '
            'WHERE account = %s AND region = %s ORDER BY name COLLATE "C", version DESC',
            account,
            region,
        )
        return [records.layer_from(account, region, n, v, d) for n, v, d in rows]

    # usage --------------------------------------------------------------------------------

    def code_usage(self, account: str, region: str) -> tuple[int, int]:
        functions, function_bytes = self._rows(
            "SELECT COUNT(DISTINCT f.id), COALESCE(SUM(v.size), 0) FROM lambda_functions f "
            "JOIN lambda_versions v ON v.function_id = f.id "
            "WHERE f.account = %s AND f.region = %s",
            account,
            region,
        )[0]
        layer_bytes = self._rows(
            "SELECT COALESCE(SUM(size), 0) FROM lambda_layer_versions "
            "WHERE account = %s AND region = %s",
            account,
            region,
        )[0][0]
        return int(function_bytes) + int(layer_bytes), int(functions)

    def hot_blobs(self) -> list[str]:
        rows = self._rows(
            "SELECT blob FROM lambda_versions WHERE number = 0 AND blob LIKE 'hot-%%' UNION "
            "SELECT blob FROM lambda_layer_versions WHERE blob LIKE 'hot-%%'"
        )
        return [str(row[0]) for row in rows]

    def functions_with_code(self, blob: str) -> list[tuple[str, str, str]]:
        rows = self._rows(
            "SELECT f.account, f.region, f.name FROM lambda_functions f JOIN lambda_versions v "
            "ON v.function_id = f.id AND v.number = 0 WHERE v.blob = %s",
            blob,
        )
        return [(str(a), str(r), str(n)) for a, r, n in rows]

    def blob_in_use(self, blob: str) -> bool:
        rows = self._rows(
            # A layer's archive stays while a function version holds it, even once the layer
            # version itself is deleted (as on AWS); the `$LATEST` still run during an update
            # holds its package and layers' archives (blob names are SHA-256 digests, so a
            # match in its document is one of them).
            "SELECT 1 FROM lambda_versions WHERE blob = %(b)s UNION ALL "
            "SELECT 1 FROM lambda_layer_versions WHERE blob = %(b)s UNION ALL "
            "SELECT 1 FROM lambda_versions WHERE strpos(layer_blobs, %(b)s) > 0 UNION ALL "
            "SELECT 1 FROM lambda_functions WHERE strpos(previous::text, %(b)s) > 0 LIMIT 1",
            b=blob,
        )
        return bool(rows)

    # concurrency ----------------------------------------------------------------------------

    def reserved_total(self, account: str, region: str, excluding: str) -> int:
        rows = self._rows(
            "SELECT COALESCE(SUM((doc->>'reserved_concurrency')::int), 0) FROM lambda_functions "
            "WHERE account = %s AND region = %s AND id != %s",
            account,
            region,
            excluding,
        )
        return int(rows[0][0])

    def reservations(self) -> list[tuple[str, str, str, int]]:
        rows = self._rows(
            "SELECT account, region, id, (doc->>'reserved_concurrency')::int "
            "FROM lambda_functions WHERE doc->>'reserved_concurrency' IS NOT NULL"
        )
        return [(account, region, row_id, int(value)) for account, region, row_id, value in rows]

    # event invoke configs -------------------------------------------------------------------

    def get_event_config(self, function: Function, qualifier: str) -> EventInvokeConfig | None:
        rows = self._rows(
            "SELECT doc FROM lambda_event_configs WHERE function_id = %s AND qualifier = %s",
            function.id,
            qualifier,
        )
        return EventInvokeConfig(**rows[0][0]) if rows else None

    def put_event_config(
        self, function: Function, qualifier: str, config: EventInvokeConfig
    ) -> None:
        self._write(
            "INSERT INTO lambda_event_configs (function_id, qualifier, doc) VALUES (%s, %s, %s) "
            "ON CONFLICT (function_id, qualifier) DO UPDATE SET doc = excluded.doc",
            function.id,
            qualifier,
            _json(asdict(config)),
        )

    def delete_event_config(self, function: Function, qualifier: str) -> None:
        self._write(
            "DELETE FROM lambda_event_configs WHERE function_id = %s AND qualifier = %s",
            function.id,
            qualifier,
        )

    def list_event_configs(self, function: Function) -> list[tuple[str, EventInvokeConfig]]:
        rows = self._rows(
            "SELECT qualifier, doc FROM lambda_event_configs WHERE function_id = %s "
            'ORDER BY qualifier COLLATE "C"',
            function.id,
        )
        return [(q, EventInvokeConfig(**doc)) for q, doc in rows]

    # provisioned concurrency ----------------------------------------------------------------

    def get_provisioned(self, function: Function, qualifier: str) -> ProvisionedConfig | None:
        rows = self._rows(
            "SELECT doc FROM lambda_provisioned_configs WHERE function_id = %s AND qualifier = %s",
            function.id,
            qualifier,
        )
        return _provisioned(rows[0][0]) if rows else None

    def put_provisioned(self, function: Function, config: ProvisionedConfig) -> None:
        self._write(
            "INSERT INTO lambda_provisioned_configs (function_id, qualifier, requested, doc) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (function_id, qualifier) DO UPDATE "
            "SET requested = excluded.requested, doc = excluded.doc",
            function.id,
            config.qualifier,
            config.requested,
            _json(asdict(config)),
        )

    def delete_provisioned(self, function: Function, qualifier: str) -> None:
        self._write(
            "DELETE FROM lambda_provisioned_configs WHERE function_id = %s AND qualifier = %s",
            function.id,
            qualifier,
        )

    def list_provisioned(self, function: Function) -> list[ProvisionedConfig]:
        rows = self._rows(
            "SELECT doc FROM lambda_provisioned_configs WHERE function_id = %s "
            'ORDER BY qualifier COLLATE "C"',
            function.id,
        )
        return [_provisioned(row[0]) for row in rows]

    def all_provisioned(self) -> list[tuple[Function, ProvisionedConfig]]:
        rows = self._rows(
            f"SELECT {_FUNCTION_COLUMNS}, p.doc {_FUNCTION_FROM}"
            "JOIN lambda_provisioned_configs p ON p.function_id = f.id "
            'ORDER BY f.id COLLATE "C", p.qualifier COLLATE "C"'
        )
        return [(self._function(row[:7]), _provisioned(row[7])) for row in rows]

    def provisioned_totals(self) -> list[tuple[str, str, str, int]]:
        rows = self._rows(
            "SELECT f.account, f.region, f.id, SUM(p.requested) FROM lambda_provisioned_configs p "
            "JOIN lambda_functions f ON f.id = p.function_id GROUP BY f.id"
        )
        return [(account, region, row_id, int(total)) for account, region, row_id, total in rows]

    def unreserved_provisioned(self, account: str, region: str, excluding: str) -> int:
        rows = self._rows(
            "SELECT COALESCE(SUM(p.requested), 0) FROM lambda_provisioned_configs p "
            "JOIN lambda_functions f ON f.id = p.function_id WHERE f.account = %s "
            "AND f.region = %s AND f.id != %s AND f.doc->>'reserved_concurrency' IS NULL",
            account,
            region,
            excluding,
        )
        return int(rows[0][0])


def _provisioned(document: dict[str, Any]) -> ProvisionedConfig:
    values = dict(document)
    values["status"] = ProvisionedStatus(values["status"])
    return ProvisionedConfig(**values)
