"""The metrics' store: one SQLite file of series (a metric in an account and Region) and their
one-minute points, and of alarms.

A batch of points merges into the rows already there in one transaction (a point written twice
adds up), so what the service buffers in memory reaches the disk whole or not at all. Retention
is bounded twice: points older than the retention go, and past `max_points` rows the oldest go
first; a series with no point left is forgotten, so ListMetrics stops listing it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gureum.aws.sqlite import Database
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


class MetricStore:
    """Series, points and alarms in SQLite; thread-safe (one writer at a time)."""

    def __init__(self, path: Path) -> None:
        self._db = Database(path, SCHEMA)

    def write(self, batch: Mapping[PointKey, Aggregate]) -> None:
        """Merges `batch` into the stored points, in one transaction."""
        with self._db.transaction(counted=False) as db:
            for key, aggregate in batch.items():
                metric = key.metric
                identity = (key.account, key.region, metric.namespace, metric.name)
                dimensions = _dimensions(metric)
                db.execute(
                    "INSERT INTO series (account, region, namespace, name, dimensions, last_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                    "last_at = max(last_at, excluded.last_at)",
                    (*identity, dimensions, key.start),
                )
                (series,) = db.execute(
                    "SELECT id FROM series WHERE account = ? AND region = ? AND namespace = ? "
                    "AND name = ? AND dimensions = ?",
                    (*identity, dimensions),
                ).fetchone()
                row = db.execute(
                    "SELECT sum, count, minimum, maximum, histogram, exact FROM points "
                    "WHERE series = ? AND start = ? AND unit = ?",
                    (series, key.start, key.unit),
                ).fetchone()
                total = Aggregate()
                if row is not None:
                    total = _aggregate(*row)
                total.merge(aggregate)
                db.execute(
                    "INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        series,
                        key.start,
                        key.unit,
                        total.sum,
                        total.count,
                        total.minimum,
                        total.maximum,
                        json.dumps(total.histogram, separators=(",", ":")),
                        None if total.values is None else json.dumps(list(total.values.items())),
                    ),
                )

    def points(self, account: str, region: str, metric: MetricKey, since: float) -> list[Point]:
        with self._db.transaction(counted=False) as db:
            rows = db.execute(
                "SELECT p.start, p.unit, p.sum, p.count, p.minimum, p.maximum, p.histogram, "
                "p.exact "
                "FROM points p JOIN series s ON s.id = p.series WHERE s.account = ? "
                "AND s.region = ? AND s.namespace = ? AND s.name = ? AND s.dimensions = ? "
                "AND p.start >= ? ORDER BY p.start",
                (account, region, metric.namespace, metric.name, _dimensions(metric), since),
            ).fetchall()
        return [Point(start, unit, _aggregate(*row)) for start, unit, *row in rows]

    def metrics(
        self, account: str, region: str, namespace: str | None, name: str | None, since: float
    ) -> list[MetricKey]:
        """The metrics with a point at or after `since`, in (namespace, name, dimensions)
        order."""
        with self._db.transaction(counted=False) as db:
            rows = db.execute(
                "SELECT namespace, name, dimensions FROM series WHERE account = ? AND region = ? "
                "AND (? IS NULL OR namespace = ?) AND (? IS NULL OR name = ?) AND last_at >= ?",
                (account, region, namespace, namespace, name, name, since),
            ).fetchall()
        keys = [
            MetricKey(ns, metric, tuple((n, v) for n, v in json.loads(dimensions)))
            for ns, metric, dimensions in rows
        ]
        return sorted(keys)

    def expire(self, before: float, max_points: int) -> None:
        """Drops points older than `before`, then the oldest past `max_points`."""
        with self._db.transaction(counted=False) as db:
            db.execute("DELETE FROM points WHERE start < ?", (before,))
            (count,) = db.execute("SELECT count(*) FROM points").fetchone()
            if count > max_points:
                db.execute(
                    "DELETE FROM points WHERE rowid IN "
                    "(SELECT rowid FROM points ORDER BY start LIMIT ?)",
                    (count - max_points,),
                )
            db.execute(
                "DELETE FROM series WHERE NOT EXISTS "
                "(SELECT 1 FROM points WHERE points.series = series.id)"
            )

    def alarms(self, account: str, region: str) -> list[dict[str, Any]]:
        with self._db.transaction(counted=False) as db:
            rows = db.execute(
                "SELECT document FROM alarms WHERE account = ? AND region = ? ORDER BY name",
                (account, region),
            ).fetchall()
        return [json.loads(document) for (document,) in rows]

    def put_alarm(self, account: str, region: str, name: str, document: Mapping[str, Any]) -> None:
        with self._db.transaction(counted=False) as db:
            db.execute(
                "INSERT OR REPLACE INTO alarms VALUES (?, ?, ?, ?)",
                (account, region, name, json.dumps(document)),
            )

    def delete_alarms(self, account: str, region: str, names: Sequence[str]) -> None:
        with self._db.transaction(counted=False) as db:
            db.executemany(
                "DELETE FROM alarms WHERE account = ? AND region = ? AND name = ?",
                [(account, region, name) for name in names],
            )

    def close(self) -> None:
        self._db.close()
