"""The metrics' store: series (a metric in an account and Region), their one-minute points, and
alarms, through the SQL port (`gureum.aws.sql`): an SQLite file in the data directory, or
PostgreSQL (`migrations/`).

A batch of points merges into the rows already there in one transaction (a point written twice
adds up), so what the service buffers in memory reaches the disk whole or not at all. Retention
is bounded twice: points older than the retention go, and past `max_points` rows the oldest go
first; a series with no point left is forgotten, so ListMetrics stops listing it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gureum.aws.sql import Backend, Sql, StoreSpec
from gureum.cloudwatch.domain.aggregates import Aggregate
from gureum.cloudwatch.domain.metrics import MetricKey
from gureum.cloudwatch.domain.queries import Point

SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL, region TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    dimensions TEXT NOT NULL, last_at REAL NOT NULL,
    UNIQUE (account, region, namespace, name, dimensions));
CREATE TABLE IF NOT EXISTS points (
    series INTEGER NOT NULL REFERENCES series(id) ON DELETE CASCADE,
    start REAL NOT NULL, unit TEXT NOT NULL,
    sum REAL NOT NULL, count REAL NOT NULL, minimum REAL NOT NULL, maximum REAL NOT NULL,
    histogram TEXT NOT NULL, exact TEXT,
    PRIMARY KEY (series, start, unit));
CREATE INDEX IF NOT EXISTS points_by_age ON points (start);
CREATE TABLE IF NOT EXISTS alarms (
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, document TEXT NOT NULL,
    PRIMARY KEY (account, region, name));
"""
SPEC = StoreSpec("cloudwatch", "metrics.sqlite3", SCHEMA, "gureum.cloudwatch.store")
# Points a statement writes: 9 parameters each, well under SQLite's 32,766 and PostgreSQL's
# 65,535 a statement.
_CHUNK = 500
# A series: (account, region, namespace, name, dimensions as JSON).
Identity = tuple[str, str, str, str, str]


@dataclass(frozen=True, slots=True)
class PointKey:
    """Where one buffered point goes."""

    account: str
    region: str
    metric: MetricKey
    unit: str
    start: float


def _aggregate(
    total: float, count: float, low: float, high: float, histogram: str, exact: str | None
) -> Aggregate:
    values = None if exact is None else {float(v): float(c) for v, c in json.loads(exact)}
    return Aggregate(total, count, low, high, json.loads(histogram), values)


def _dimensions(metric: MetricKey) -> str:
    return json.dumps(metric.dimensions, separators=(",", ":"))


def _identity(key: PointKey) -> Identity:
    metric = key.metric
    return (key.account, key.region, metric.namespace, metric.name, _dimensions(metric))


def _marks(rows: int, columns: int) -> str:
    """`(?, ?), (?, ?), ...`: a VALUES list of `rows` rows."""
    row = f"({', '.join('?' * columns)})"
    return ", ".join([row] * rows)


def _series(sql: Sql, keys: Mapping[PointKey, Identity]) -> dict[Identity, int]:
    """The ids of `keys`' series, made if new; each series' last point's start moves up to
    its newest key's (never back: a point put for an earlier minute does not age it)."""
    latest: dict[Identity, float] = {}
    for key, identity in keys.items():
        latest[identity] = max(latest.get(identity, key.start), key.start)
    rows = sql.execute(
        "INSERT INTO series (account, region, namespace, name, dimensions, last_at) "
        f"VALUES {_marks(len(latest), 6)} "
        "ON CONFLICT (account, region, namespace, name, dimensions) DO UPDATE SET last_at = "
        "CASE WHEN excluded.last_at > series.last_at THEN excluded.last_at "
        "ELSE series.last_at END RETURNING id, account, region, namespace, name, dimensions",
        [value for identity, at in latest.items() for value in (*identity, at)],
    ).fetchall()
    return {
        (account, region, ns, name, dims): int(id_) for id_, account, region, ns, name, dims in rows
    }


def _stored(
    sql: Sql, keys: Mapping[PointKey, Identity], ids: Mapping[Identity, int]
) -> dict[PointKey, Aggregate]:
    """The points already stored under `keys`, read in one query (those of the same series at
    the batch's other starts are read too, and left out)."""
    wanted = {(ids[identity], key.start, key.unit): key for key, identity in keys.items()}
    series = sorted({id_ for id_, _, _ in wanted})
    starts = sorted({start for _, start, _ in wanted})
    rows = sql.execute(
        "SELECT series, start, unit, sum, count, minimum, maximum, histogram, exact FROM points "
        f"WHERE series IN ({', '.join('?' * len(series))}) "
        f"AND start IN ({', '.join('?' * len(starts))})",
        [*series, *starts],
    ).fetchall()
    found = {}
    for id_, start, unit, *aggregate in rows:
        key = wanted.get((id_, start, unit))
        if key is not None:
            found[key] = _aggregate(*aggregate)
    return found


class MetricStore:
    """Series, points and alarms; thread-safe (one writer at a time)."""

    def __init__(self, stores: Backend) -> None:
        self._db = stores.open(SPEC)

    def write(self, batch: Mapping[PointKey, Aggregate]) -> None:
        """Merges `batch` into the stored points, in one transaction. Three statements a
        `_CHUNK` of points, not three a point: on PostgreSQL each statement is a round trip, and
        a flush every half second carries every series Lambda published to."""
        keys = list(batch)
        with self._db.transaction() as sql:
            for first in range(0, len(keys), _CHUNK):
                chunk = {key: _identity(key) for key in keys[first : first + _CHUNK]}
                ids = _series(sql, chunk)
                totals = _stored(sql, chunk, ids)
                values: list[object] = []
                for key, identity in chunk.items():
                    total = totals.get(key, Aggregate())
                    total.merge(batch[key])
                    exact = None if total.values is None else list(total.values.items())
                    values += (
                        ids[identity],
                        key.start,
                        key.unit,
                        total.sum,
                        total.count,
                        total.minimum,
                        total.maximum,
                        json.dumps(total.histogram, separators=(",", ":")),
                        None if exact is None else json.dumps(exact),
                    )
                sql.execute(
                    "INSERT INTO points (series, start, unit, sum, count, minimum, maximum, "
                    f"histogram, exact) VALUES {_marks(len(chunk), 9)} "
                    "ON CONFLICT (series, start, unit) DO UPDATE SET sum = excluded.sum, "
                    "count = excluded.count, minimum = excluded.minimum, "
                    "maximum = excluded.maximum, histogram = excluded.histogram, "
                    "exact = excluded.exact",
                    values,
                )

    def points(self, account: str, region: str, metric: MetricKey, since: float) -> list[Point]:
        with self._db.transaction() as sql:
            rows = sql.execute(
                "SELECT p.start, p.unit, p.sum, p.count, p.minimum, p.maximum, p.histogram, "
                "p.exact "
                "FROM points p JOIN series s ON s.id = p.series WHERE s.account = ? "
                "AND s.region = ? AND s.namespace = ? AND s.name = ? AND s.dimensions = ? "
                "AND p.start >= ? ORDER BY p.start, p.unit",
                (account, region, metric.namespace, metric.name, _dimensions(metric), since),
            ).fetchall()
        return [Point(start, unit, _aggregate(*row)) for start, unit, *row in rows]

    def metrics(
        self, account: str, region: str, namespace: str | None, name: str | None, since: float
    ) -> list[MetricKey]:
        """The metrics with a point at or after `since`, in (namespace, name, dimensions)
        order."""
        # Each filter given narrows the query (not `? IS NULL OR ...`: PostgreSQL cannot type
        # a parameter that only meets IS NULL).
        clauses, args = ["account = ?", "region = ?", "last_at >= ?"], [account, region, since]
        for column, value in (("namespace", namespace), ("name", name)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        with self._db.transaction() as sql:
            rows = sql.execute(
                f"SELECT namespace, name, dimensions FROM series WHERE {' AND '.join(clauses)}",
                args,
            ).fetchall()
        keys = [
            MetricKey(ns, metric, tuple((n, v) for n, v in json.loads(dimensions)))
            for ns, metric, dimensions in rows
        ]
        return sorted(keys)

    def expire(self, before: float, max_points: int) -> None:
        """Drops points older than `before`, then the oldest past `max_points`."""
        with self._db.transaction() as sql:
            sql.execute("DELETE FROM points WHERE start < ?", (before,))
            (count,) = sql.execute("SELECT count(*) FROM points").fetchone()
            if count > max_points:
                # By key, not SQLite's rowid; ties at one start broken the same on both backends.
                sql.execute(
                    "DELETE FROM points WHERE (series, start, unit) IN "
                    "(SELECT series, start, unit FROM points ORDER BY start, series, unit "
                    "LIMIT ?)",
                    (count - max_points,),
                )
            sql.execute(
                "DELETE FROM series WHERE NOT EXISTS "
                "(SELECT 1 FROM points WHERE points.series = series.id)"
            )

    def alarms(self, account: str, region: str) -> list[dict[str, Any]]:
        with self._db.transaction() as sql:
            rows = sql.execute(
                "SELECT document FROM alarms WHERE account = ? AND region = ? ORDER BY name",
                (account, region),
            ).fetchall()
        return [json.loads(document) for (document,) in rows]

    def put_alarm(self, account: str, region: str, name: str, document: Mapping[str, Any]) -> None:
        with self._db.transaction() as sql:
            sql.execute(
                "INSERT INTO alarms (account, region, name, document) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (account, region, name) DO UPDATE SET document = excluded.document",
                (account, region, name, json.dumps(document)),
            )

    def delete_alarms(self, account: str, region: str, names: Sequence[str]) -> None:
        with self._db.transaction() as sql:
            for name in names:
                sql.execute(
                    "DELETE FROM alarms WHERE account = ? AND region = ? AND name = ?",
                    (account, region, name),
                )

    def close(self) -> None:
        self._db.close()
