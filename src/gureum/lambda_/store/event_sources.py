"""Event source mappings, function URL configs and functions' resource policies, in a store of
their own beside the control plane's, through the SQL port (`gureum.aws.sql`): an SQLite file in
the data directory, or PostgreSQL (`triggers_migrations/`).

Kept apart from `gureum.sqlite3` so these records never widen the function store's port; a
mapping names its function by (account, region, name), as AWS's does, and outlives it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from gureum.aws.sql import Backend, Sql, StoreSpec
from gureum.lambda_.domain.event_sources import (
    EventSourceMapping,
    MappingSettings,
    MappingState,
)
from gureum.lambda_.domain.function_urls import Cors, FunctionUrlConfig
from gureum.lambda_.domain.permissions import FunctionPolicy

SCHEMA = """
CREATE TABLE IF NOT EXISTS event_source_mappings (
    uuid TEXT PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL,
    function_name TEXT NOT NULL, source_arn TEXT NOT NULL, created INTEGER NOT NULL,
    doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS mappings_by_function
    ON event_source_mappings (account, region, function_name);
CREATE TABLE IF NOT EXISTS function_urls (
    account TEXT NOT NULL, region TEXT NOT NULL, function_name TEXT NOT NULL,
    qualifier TEXT NOT NULL, url_id TEXT NOT NULL UNIQUE, doc TEXT NOT NULL,
    PRIMARY KEY (account, region, function_name, qualifier));
CREATE TABLE IF NOT EXISTS function_policies (
    account TEXT NOT NULL, region TEXT NOT NULL, function_name TEXT NOT NULL,
    qualifier TEXT NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (account, region, function_name, qualifier));
"""
# A database written before function policies existed gains their table when opened
# (`CREATE TABLE IF NOT EXISTS`); a policy document's own shape is versioned by its "v".
POLICY_FORMAT = 1
# The control plane's migrations are `migrations/`: these are the triggers' own.
SPEC = StoreSpec(
    "lambda_triggers",
    "triggers.sqlite3",
    SCHEMA,
    "gureum.lambda_.store",
    directory="triggers_migrations",
)


def _mapping_doc(mapping: EventSourceMapping) -> str:
    document = asdict(mapping)
    document["settings"]["filters"] = list(mapping.settings.filters)
    return json.dumps(document)


def _mapping(doc: str) -> EventSourceMapping:
    values: dict[str, Any] = json.loads(doc)
    settings = values.pop("settings")
    settings["filters"] = tuple(settings["filters"])
    return EventSourceMapping(
        **{
            **values,
            "settings": MappingSettings(**settings),
            "state": MappingState(values["state"]),
        }
    )


def _url_doc(config: FunctionUrlConfig) -> str:
    return json.dumps(asdict(config))


def _url(doc: str) -> FunctionUrlConfig:
    values: dict[str, Any] = json.loads(doc)
    found: dict[str, Any] | None = values.pop("cors")
    cors = None
    if found is not None:
        lists = {k: tuple(v) for k, v in found.items() if isinstance(v, list)}
        cors = Cors(**{**found, **lists})
    return FunctionUrlConfig(**values, cors=cors)


def _policy_doc(policy: FunctionPolicy) -> str:
    document = asdict(policy)
    document["statements"] = list(policy.statements)
    return json.dumps({"v": POLICY_FORMAT, **document})


def _policy(doc: str) -> FunctionPolicy:
    values: dict[str, Any] = json.loads(doc)
    values.pop("v", None)
    values["statements"] = tuple(values["statements"])
    return FunctionPolicy(**values)


class TriggerTransaction:
    """One transaction over mappings and URL configs."""

    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    # mappings -----------------------------------------------------------------------------

    def mapping(self, uuid: str) -> EventSourceMapping | None:
        row = self._sql.execute(
            "SELECT doc FROM event_source_mappings WHERE uuid = ?", (uuid,)
        ).fetchone()
        return None if row is None else _mapping(row[0])

    def mappings(
        self,
        account: str | None = None,
        region: str | None = None,
        function_name: str | None = None,
        source_arn: str | None = None,
    ) -> list[EventSourceMapping]:
        """In creation order; each filter given narrows the list."""
        clauses, args = [], []
        for column, value in (
            ("account", account),
            ("region", region),
            ("function_name", function_name),
            ("source_arn", source_arn),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._sql.execute(
            f"SELECT doc FROM event_source_mappings{where} ORDER BY created, uuid",
            args,
        ).fetchall()
        return [_mapping(doc) for (doc,) in rows]

    def add_mapping(self, mapping: EventSourceMapping) -> None:
        """Adds the mapping after every other (lists follow creation order)."""
        self._sql.execute(
            "INSERT INTO event_source_mappings "
            "(uuid, account, region, function_name, source_arn, created, doc) "
            "SELECT ?, ?, ?, ?, ?, COALESCE(MAX(created), 0) + 1, ? FROM event_source_mappings",
            (
                mapping.uuid,
                mapping.account,
                mapping.region,
                mapping.function_name,
                mapping.source_arn,
                _mapping_doc(mapping),
            ),
        )

    def save_mapping(self, mapping: EventSourceMapping) -> None:
        self._sql.execute(
            "UPDATE event_source_mappings SET doc = ?, function_name = ? WHERE uuid = ?",
            (_mapping_doc(mapping), mapping.function_name, mapping.uuid),
        )

    def delete_mapping(self, uuid: str) -> None:
        self._sql.execute("DELETE FROM event_source_mappings WHERE uuid = ?", (uuid,))

    # function URLs ------------------------------------------------------------------------

    def url_config(
        self, account: str, region: str, function_name: str, qualifier: str
    ) -> FunctionUrlConfig | None:
        row = self._sql.execute(
            "SELECT doc FROM function_urls WHERE account = ? AND region = ? "
            "AND function_name = ? AND qualifier = ?",
            (account, region, function_name, qualifier),
        ).fetchone()
        return None if row is None else _url(row[0])

    def url_configs(self, account: str, region: str, function_name: str) -> list[FunctionUrlConfig]:
        rows = self._sql.execute(
            "SELECT doc FROM function_urls WHERE account = ? AND region = ? "
            "AND function_name = ? ORDER BY qualifier",
            (account, region, function_name),
        ).fetchall()
        return [_url(doc) for (doc,) in rows]

    def url_by_id(self, url_id: str) -> FunctionUrlConfig | None:
        row = self._sql.execute(
            "SELECT doc FROM function_urls WHERE url_id = ?", (url_id,)
        ).fetchone()
        return None if row is None else _url(row[0])

    def put_url_config(self, config: FunctionUrlConfig) -> None:
        """Saves the config in place of its qualifier's, and of any holding its URL id (what
        SQLite's INSERT OR REPLACE did, for either unique key)."""
        key = (config.account, config.region, config.function_name, config.qualifier)
        self._sql.execute(
            "DELETE FROM function_urls WHERE url_id = ? OR (account = ? AND region = ? "
            "AND function_name = ? AND qualifier = ?)",
            (config.url_id, *key),
        )
        self._sql.execute(
            "INSERT INTO function_urls "
            "(account, region, function_name, qualifier, url_id, doc) VALUES (?, ?, ?, ?, ?, ?)",
            (*key, config.url_id, _url_doc(config)),
        )

    def delete_url_config(self, config: FunctionUrlConfig) -> None:
        self._sql.execute("DELETE FROM function_urls WHERE url_id = ?", (config.url_id,))

    # function policies ------------------------------------------------------------------

    def function_policy(
        self, account: str, region: str, function_name: str, qualifier: str
    ) -> FunctionPolicy | None:
        row = self._sql.execute(
            "SELECT doc FROM function_policies WHERE account = ? AND region = ? "
            "AND function_name = ? AND qualifier = ?",
            (account, region, function_name, qualifier),
        ).fetchone()
        return None if row is None else _policy(row[0])

    def put_function_policy(self, policy: FunctionPolicy) -> None:
        """Saves the policy; one without statements is no policy at all (AWS drops it)."""
        key = (policy.account, policy.region, policy.function_name, policy.qualifier)
        if not policy.statements:
            self._sql.execute(
                "DELETE FROM function_policies WHERE account = ? AND region = ? "
                "AND function_name = ? AND qualifier = ?",
                key,
            )
            return
        self._sql.execute(
            "INSERT INTO function_policies (account, region, function_name, qualifier, doc) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (account, region, function_name, qualifier) "
            "DO UPDATE SET doc = excluded.doc",
            (*key, _policy_doc(policy)),
        )


class TriggerStore:
    """The store of mappings and URL configs. Every method blocks: call it from worker threads."""

    def __init__(self, stores: Backend) -> None:
        self._database = stores.open(SPEC)

    @property
    def generation(self) -> int:
        """Moves on every commit that changed something (for readers that cache)."""
        return self._database.generation

    @contextmanager
    def transaction(self) -> Iterator[TriggerTransaction]:
        with self._database.transaction() as sql:
            yield TriggerTransaction(sql)

    def close(self) -> None:
        self._database.close()
