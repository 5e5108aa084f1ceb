"""EFS's records: a row per file system, mount target and access point, each a JSON document
beside the columns it is looked up by, through the SQL port (`gureum.aws.sql`): `efs.sqlite3` in
the data directory, or PostgreSQL (`migrations/`).

Each change is durable before the request that made it is answered. Uniqueness rules that must
hold under concurrent requests (one creation token per account and region, one client token per
account and region, one mount target per AZ) are checked inside the writing transaction by the
service, which runs its check-then-insert through `write()`: writers take turns (SQLite's
`BEGIN IMMEDIATE`, PostgreSQL's advisory lock of the store), whichever processes they run in.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from gureum.aws.sql import Backend, Sql, StoreSpec
from gureum.efs.domain.access_points import (
    AccessPoint,
    AccessPointSpec,
    CreationInfo,
    PosixUser,
    RootDirectory,
)
from gureum.efs.domain.file_systems import (
    FileSystem,
    FileSystemSpec,
    PerformanceMode,
    ThroughputMode,
)
from gureum.efs.domain.mount_targets import MountTarget, Subnet

SCHEMA = """
CREATE TABLE IF NOT EXISTS file_systems (
    id TEXT PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, token TEXT NOT NULL,
    document TEXT NOT NULL, UNIQUE (account, region, token));
CREATE TABLE IF NOT EXISTS mount_targets (
    id TEXT PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL,
    file_system TEXT NOT NULL REFERENCES file_systems(id), document TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS mount_targets_of ON mount_targets (file_system);
CREATE TABLE IF NOT EXISTS access_points (
    id TEXT PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL,
    file_system TEXT NOT NULL REFERENCES file_systems(id), token TEXT NOT NULL,
    document TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS access_points_of ON access_points (file_system);
CREATE INDEX IF NOT EXISTS access_points_by_token ON access_points (account, region, token);
"""
SPEC = StoreSpec("efs", "efs.sqlite3", SCHEMA, "gureum.efs.store")


def _time(value: datetime) -> str:
    return value.isoformat()


def _file_system_document(fs: FileSystem) -> str:
    spec = fs.spec
    return json.dumps(
        {
            "created": _time(fs.created),
            "ready": _time(fs.ready),
            "policy": fs.policy,
            "token": spec.creation_token,
            "performance": spec.performance_mode.value,
            "throughput": spec.throughput_mode.value,
            "provisioned": spec.provisioned_throughput,
            "encrypted": spec.encrypted,
            "kms": spec.kms_key_id,
            "az": spec.availability_zone,
            "tags": list(spec.tags.items()),
        }
    )


def _file_system(row: tuple[Any, ...]) -> FileSystem:
    file_system_id, account, region, text = row
    doc = json.loads(text)
    spec = FileSystemSpec(
        doc["token"],
        PerformanceMode(doc["performance"]),
        ThroughputMode(doc["throughput"]),
        doc["provisioned"],
        doc["encrypted"],
        doc["kms"],
        doc["az"],
        dict(doc["tags"]),
    )
    return FileSystem(
        account,
        region,
        file_system_id,
        datetime.fromisoformat(doc["created"]),
        datetime.fromisoformat(doc["ready"]),
        spec,
        doc["policy"],
    )


def _mount_target_document(target: MountTarget) -> str:
    subnet = target.subnet
    return json.dumps(
        {
            "subnet": [
                subnet.subnet_id,
                subnet.vpc_id,
                subnet.availability_zone,
                subnet.availability_zone_id,
                subnet.cidr,
            ],
            "ip": target.ip_address,
            "eni": target.network_interface_id,
            "groups": list(target.security_groups),
            "created": _time(target.created),
            "ready": _time(target.ready),
        }
    )


def _mount_target(row: tuple[Any, ...]) -> MountTarget:
    mount_target_id, account, region, file_system_id, text = row
    doc = json.loads(text)
    return MountTarget(
        account,
        region,
        mount_target_id,
        file_system_id,
        Subnet(*doc["subnet"]),
        doc["ip"],
        doc["eni"],
        tuple(doc["groups"]),
        datetime.fromisoformat(doc["created"]),
        datetime.fromisoformat(doc["ready"]),
    )


def _access_point_document(point: AccessPoint) -> str:
    spec = point.spec
    user = spec.posix_user
    info = spec.root_directory.creation_info
    return json.dumps(
        {
            "user": None if user is None else [user.uid, user.gid, list(user.secondary_gids)],
            "path": spec.root_directory.path,
            "creation": None
            if info is None
            else [info.owner_uid, info.owner_gid, info.permissions],
            "tags": list(spec.tags.items()),
        }
    )


def _access_point(row: tuple[Any, ...]) -> AccessPoint:
    access_point_id, account, region, file_system_id, token, text = row
    doc = json.loads(text)
    user = doc["user"]
    creation = doc["creation"]
    spec = AccessPointSpec(
        token,
        file_system_id,
        None if user is None else PosixUser(user[0], user[1], tuple(user[2])),
        RootDirectory(doc["path"], None if creation is None else CreationInfo(*creation)),
        dict(doc["tags"]),
    )
    return AccessPoint(account, region, access_point_id, spec)


_FS = "SELECT id, account, region, document FROM file_systems"
_MT = "SELECT id, account, region, file_system, document FROM mount_targets"
_AP = "SELECT id, account, region, file_system, token, document FROM access_points"


class Records:
    """One transaction's view of the records: reads and writes on its connection."""

    def __init__(self, db: Sql) -> None:
        self._db = db

    # file systems ---------------------------------------------------------------------------

    def file_system(self, account: str, region: str, file_system_id: str) -> FileSystem | None:
        row = self._db.execute(
            f"{_FS} WHERE id = ? AND account = ? AND region = ?",
            (file_system_id, account, region),
        ).fetchone()
        return None if row is None else _file_system(row)

    def file_system_by_token(self, account: str, region: str, token: str) -> FileSystem | None:
        row = self._db.execute(
            f"{_FS} WHERE account = ? AND region = ? AND token = ?", (account, region, token)
        ).fetchone()
        return None if row is None else _file_system(row)

    def file_systems(self, account: str, region: str) -> list[FileSystem]:
        rows = self._db.execute(
            f"{_FS} WHERE account = ? AND region = ? ORDER BY id", (account, region)
        ).fetchall()
        return [_file_system(row) for row in rows]

    def file_system_ids(self) -> set[str]:
        """Every file system's id, in every account and region."""
        return {row[0] for row in self._db.execute("SELECT id FROM file_systems")}

    def count_file_systems(self, account: str, region: str) -> int:
        row = self._db.execute(
            "SELECT count(*) FROM file_systems WHERE account = ? AND region = ?", (account, region)
        ).fetchone()
        return int(row[0])

    def put_file_system(self, fs: FileSystem) -> None:
        self._db.execute(
            "INSERT INTO file_systems (id, account, region, token, document) VALUES (?,?,?,?,?)"
            " ON CONFLICT (id) DO UPDATE SET document = excluded.document",
            (
                fs.file_system_id,
                fs.account,
                fs.region,
                fs.spec.creation_token,
                _file_system_document(fs),
            ),
        )

    def delete_file_system(self, file_system_id: str) -> None:
        self._db.execute("DELETE FROM access_points WHERE file_system = ?", (file_system_id,))
        self._db.execute("DELETE FROM file_systems WHERE id = ?", (file_system_id,))

    # mount targets --------------------------------------------------------------------------

    def mount_target(self, account: str, region: str, mount_target_id: str) -> MountTarget | None:
        row = self._db.execute(
            f"{_MT} WHERE id = ? AND account = ? AND region = ?",
            (mount_target_id, account, region),
        ).fetchone()
        return None if row is None else _mount_target(row)

    def mount_targets_of(self, file_system_id: str) -> list[MountTarget]:
        rows = self._db.execute(
            f"{_MT} WHERE file_system = ? ORDER BY id", (file_system_id,)
        ).fetchall()
        return [_mount_target(row) for row in rows]

    def mount_targets_in(self, account: str, region: str) -> list[MountTarget]:
        rows = self._db.execute(
            f"{_MT} WHERE account = ? AND region = ? ORDER BY id", (account, region)
        ).fetchall()
        return [_mount_target(row) for row in rows]

    def put_mount_target(self, target: MountTarget) -> None:
        self._db.execute(
            "INSERT INTO mount_targets (id, account, region, file_system, document)"
            " VALUES (?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET document = excluded.document",
            (
                target.mount_target_id,
                target.account,
                target.region,
                target.file_system_id,
                _mount_target_document(target),
            ),
        )

    def delete_mount_target(self, mount_target_id: str) -> None:
        self._db.execute("DELETE FROM mount_targets WHERE id = ?", (mount_target_id,))

    # access points --------------------------------------------------------------------------

    def access_point(self, account: str, region: str, access_point_id: str) -> AccessPoint | None:
        row = self._db.execute(
            f"{_AP} WHERE id = ? AND account = ? AND region = ?",
            (access_point_id, account, region),
        ).fetchone()
        return None if row is None else _access_point(row)

    def access_point_by_token(self, account: str, region: str, token: str) -> AccessPoint | None:
        row = self._db.execute(
            f"{_AP} WHERE account = ? AND region = ? AND token = ?", (account, region, token)
        ).fetchone()
        return None if row is None else _access_point(row)

    def access_points(
        self, account: str, region: str, file_system_id: str | None = None
    ) -> list[AccessPoint]:
        query = f"{_AP} WHERE account = ? AND region = ?"
        args: tuple[str, ...] = (account, region)
        if file_system_id is not None:
            query += " AND file_system = ?"
            args += (file_system_id,)
        rows = self._db.execute(query + " ORDER BY id", args).fetchall()
        return [_access_point(row) for row in rows]

    def count_access_points(self, file_system_id: str) -> int:
        row = self._db.execute(
            "SELECT count(*) FROM access_points WHERE file_system = ?", (file_system_id,)
        ).fetchone()
        return int(row[0])

    def put_access_point(self, point: AccessPoint) -> None:
        self._db.execute(
            "INSERT INTO access_points (id, account, region, file_system, token, document)"
            " VALUES (?,?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET document = excluded.document",
            (
                point.access_point_id,
                point.account,
                point.region,
                point.file_system_id,
                point.spec.client_token,
                _access_point_document(point),
            ),
        )

    def delete_access_point(self, access_point_id: str) -> None:
        self._db.execute("DELETE FROM access_points WHERE id = ?", (access_point_id,))


class EfsStore:
    """The database behind EFS; `read()` and `write()` hand out a `Records` view."""

    def __init__(self, stores: Backend) -> None:
        self._db = stores.open(SPEC)

    @contextmanager
    def write(self) -> Iterator[Records]:
        with self._db.transaction() as sql:
            yield Records(sql)

    @contextmanager
    def read(self) -> Iterator[Records]:
        # A transaction too: a read sees no other writer's change half made. Nothing caches
        # what EFS reads, so its generation is not followed.
        with self._db.transaction() as sql:
            yield Records(sql)

    def close(self) -> None:
        self._db.close()
