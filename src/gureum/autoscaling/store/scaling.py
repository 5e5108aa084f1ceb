"""Application Auto Scaling's store: targets, policies, scheduled actions, activities and the
scaler's memory, through the SQL port (`gureum.aws.sql`): their own SQLite file (WAL,
synchronous commits: `aws.sqlite`), or PostgreSQL (`migrations/`), so everything survives a
restart or `kill -9`.

Each row keeps its value as a JSON document beside the columns it is found by. Deregistering a
target deletes its policies, scheduled actions and scaler memory with it, in one transaction;
its activities stay, as AWS keeps them for six weeks. Activities are capped per target
(`ACTIVITY_CAP`, the oldest dropped) so a long-running scaler cannot grow the file forever.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from gureum.autoscaling.domain.actions import ScheduledAction
from gureum.autoscaling.domain.activities import Activity, Status
from gureum.autoscaling.domain.policies import ScalingPolicy, TargetTracking
from gureum.autoscaling.domain.scaling import Cooldowns
from gureum.autoscaling.domain.targets import ScalableTarget, TargetKey
from gureum.aws.sql import Backend, Sql, StoreSpec

ACTIVITY_CAP = 1000
SCHEMA = """
CREATE TABLE IF NOT EXISTS targets (
    account TEXT NOT NULL, region TEXT NOT NULL, resource_id TEXT NOT NULL, document TEXT NOT NULL,
    PRIMARY KEY (account, region, resource_id));
CREATE TABLE IF NOT EXISTS policies (
    account TEXT NOT NULL, region TEXT NOT NULL, resource_id TEXT NOT NULL, name TEXT NOT NULL,
    document TEXT NOT NULL, PRIMARY KEY (account, region, resource_id, name));
CREATE TABLE IF NOT EXISTS actions (
    account TEXT NOT NULL, region TEXT NOT NULL, resource_id TEXT NOT NULL, name TEXT NOT NULL,
    document TEXT NOT NULL, PRIMARY KEY (account, region, resource_id, name));
CREATE TABLE IF NOT EXISTS activities (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL, region TEXT NOT NULL, resource_id TEXT NOT NULL, id TEXT NOT NULL,
    document TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS activities_by_target ON activities (account, region, resource_id, seq);
CREATE UNIQUE INDEX IF NOT EXISTS activities_by_id ON activities (id);
CREATE TABLE IF NOT EXISTS scaler (
    account TEXT NOT NULL, region TEXT NOT NULL, resource_id TEXT NOT NULL,
    last_out REAL, last_in REAL, changed_at REAL,
    PRIMARY KEY (account, region, resource_id));
"""
SPEC = StoreSpec("autoscaling", "autoscaling.sqlite3", SCHEMA, "gureum.autoscaling.store")
_KEY = "account = ? AND region = ? AND resource_id = ?"
_KEY_COLUMNS = "account, region, resource_id"


def _key(key: TargetKey) -> tuple[str, str, str]:
    return (key.account, key.region, key.resource_id)


def _dump(value: Any) -> str:
    document = asdict(value)
    document.pop("key")
    return json.dumps(document)


def _target(key: TargetKey, text: str) -> ScalableTarget:
    return ScalableTarget(key, **json.loads(text))


def _policy(key: TargetKey, text: str) -> ScalingPolicy:
    document = json.loads(text)
    document["config"] = TargetTracking(**document["config"])
    return ScalingPolicy(key, **document)


def _action(key: TargetKey, text: str) -> ScheduledAction:
    return ScheduledAction(key, **json.loads(text))


def _activity(key: TargetKey, text: str) -> Activity:
    document = json.loads(text)
    document["status"] = Status(document["status"])
    return Activity(key, **document)


class ScalingStore:
    """Thread-safe (the database serialises its writers); every method is one transaction."""

    def __init__(self, stores: Backend) -> None:
        self._db = stores.open(SPEC)

    def close(self) -> None:
        self._db.close()

    # --- targets ------------------------------------------------------------------------------

    def target(self, key: TargetKey) -> ScalableTarget | None:
        with self._db.transaction() as db:
            row = db.execute(f"SELECT document FROM targets WHERE {_KEY}", _key(key)).fetchone()
        return None if row is None else _target(key, row[0])

    def targets(
        self, account: str | None = None, region: str | None = None
    ) -> list[ScalableTarget]:
        """Of one account and Region, or every target (the scaler's view), by resource id."""
        query = "SELECT account, region, resource_id, document FROM targets"
        args: tuple[str, ...] = ()
        if account is not None and region is not None:
            query, args = query + " WHERE account = ? AND region = ?", (account, region)
        with self._db.transaction() as db:
            rows = db.execute(query + " ORDER BY account, region, resource_id", args).fetchall()
        return [_target(TargetKey(a, r, i), d) for a, r, i, d in rows]

    def put_target(self, target: ScalableTarget) -> None:
        with self._db.transaction() as db:
            db.execute(
                f"INSERT INTO targets ({_KEY_COLUMNS}, document) VALUES (?, ?, ?, ?) "
                f"ON CONFLICT ({_KEY_COLUMNS}) DO UPDATE SET document = excluded.document",
                (*_key(target.key), _dump(target)),
            )

    def delete_target(self, key: TargetKey) -> list[ScalingPolicy]:
        """Deletes the target with its policies and actions; returns the policies (whose alarms
        the caller deletes)."""
        with self._db.transaction() as db:
            policies = self._policies(db, key)
            for table in ("targets", "policies", "actions", "scaler"):
                db.execute(f"DELETE FROM {table} WHERE {_KEY}", _key(key))
        return policies

    # --- policies -----------------------------------------------------------------------------

    @staticmethod
    def _policies(db: Sql, key: TargetKey) -> list[ScalingPolicy]:
        rows = db.execute(
            f"SELECT document FROM policies WHERE {_KEY} ORDER BY name", _key(key)
        ).fetchall()
        return [_policy(key, text) for (text,) in rows]

    def policies(self, key: TargetKey) -> list[ScalingPolicy]:
        with self._db.transaction() as db:
            return self._policies(db, key)

    def put_policy(self, policy: ScalingPolicy) -> None:
        with self._db.transaction() as db:
            db.execute(
                f"INSERT INTO policies ({_KEY_COLUMNS}, name, document) VALUES (?, ?, ?, ?, ?) "
                f"ON CONFLICT ({_KEY_COLUMNS}, name) DO UPDATE SET document = excluded.document",
                (*_key(policy.key), policy.name, _dump(policy)),
            )

    def delete_policy(self, key: TargetKey, name: str) -> None:
        with self._db.transaction() as db:
            db.execute(f"DELETE FROM policies WHERE {_KEY} AND name = ?", (*_key(key), name))

    # --- scheduled actions --------------------------------------------------------------------

    def actions(self, key: TargetKey) -> list[ScheduledAction]:
        with self._db.transaction() as db:
            rows = db.execute(
                f"SELECT document FROM actions WHERE {_KEY} ORDER BY name", _key(key)
            ).fetchall()
        return [_action(key, text) for (text,) in rows]

    def put_action(self, action: ScheduledAction) -> None:
        with self._db.transaction() as db:
            db.execute(
                f"INSERT INTO actions ({_KEY_COLUMNS}, name, document) VALUES (?, ?, ?, ?, ?) "
                f"ON CONFLICT ({_KEY_COLUMNS}, name) DO UPDATE SET document = excluded.document",
                (*_key(action.key), action.name, _dump(action)),
            )

    def delete_action(self, key: TargetKey, name: str) -> None:
        with self._db.transaction() as db:
            db.execute(f"DELETE FROM actions WHERE {_KEY} AND name = ?", (*_key(key), name))

    # --- activities ---------------------------------------------------------------------------

    def put_activity(self, activity: Activity) -> None:
        """Records an activity, or its new status (same ActivityId)."""
        key = _key(activity.key)
        with self._db.transaction() as db:
            done = db.execute(
                "UPDATE activities SET document = ? WHERE id = ?",
                (_dump(activity), activity.activity_id),
            ).rowcount
            if done:
                return
            db.execute(
                "INSERT INTO activities (account, region, resource_id, id, document) "
                "VALUES (?, ?, ?, ?, ?)",
                (*key, activity.activity_id, _dump(activity)),
            )
            db.execute(
                f"DELETE FROM activities WHERE {_KEY} AND seq <= (SELECT seq FROM activities "
                f"WHERE {_KEY} ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                (*key, *key, ACTIVITY_CAP),
            )

    def activities(self, account: str, region: str, resource_id: str | None) -> list[Activity]:
        """Newest first, as AWS lists them."""
        query = "SELECT resource_id, document FROM activities WHERE account = ? AND region = ?"
        args: tuple[str, ...] = (account, region)
        if resource_id is not None:
            query, args = query + " AND resource_id = ?", (*args, resource_id)
        with self._db.transaction() as db:
            rows = db.execute(query + " ORDER BY seq DESC", args).fetchall()
        return [_activity(TargetKey(account, region, i), d) for i, d in rows]

    # --- the scaler's memory ------------------------------------------------------------------

    def cooldowns(self, key: TargetKey, time_scale: float) -> tuple[Cooldowns, float | None]:
        """When the target last scaled out and in, and when its capacity last changed."""
        with self._db.transaction() as db:
            row = db.execute(
                f"SELECT last_out, last_in, changed_at FROM scaler WHERE {_KEY}", _key(key)
            ).fetchone()
        if row is None:
            return Cooldowns(time_scale=time_scale), None
        return Cooldowns(row[0], row[1], time_scale), row[2]

    def moved(self, key: TargetKey, at: float, direction: str | None) -> None:
        """The target's capacity changed at `at` (by a scale-out, a scale-in, or neither)."""
        column = {"out": "last_out", "in": "last_in"}.get(direction or "")
        # The target's row is made on its first move, the scaling direction's time with it.
        columns = f"{_KEY_COLUMNS}, changed_at" + (f", {column}" if column else "")
        marks = "?, ?, ?, ?" + (", ?" if column else "")
        updates = "changed_at = excluded.changed_at" + (
            f", {column} = excluded.{column}" if column else ""
        )
        with self._db.transaction() as db:
            db.execute(
                f"INSERT INTO scaler ({columns}) VALUES ({marks}) "
                f"ON CONFLICT ({_KEY_COLUMNS}) DO UPDATE SET {updates}",
                (*_key(key), at, *((at,) if column else ())),
            )
