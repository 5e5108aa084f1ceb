"""EFS end to end on a server whose stores are in PostgreSQL (`--store`, issue #24): a file
system made once per creation token, described, and given an access point, with its rows in the
database and its data in the shared directory (the data directory, as no --shared-dir is set)."""

from __future__ import annotations

import time
from typing import Any

import psycopg

from tests.support.aws import aws_error
from tests.support.server import GureumProcess

TOKEN = "pg-e2e"  # the server is shared: this test's file system is the one of its token


def store_url(server: GureumProcess) -> str:
    return server.extra[server.extra.index("--store") + 1]


def available(efs: Any, fs_id: str) -> None:
    # The server runs at time scale 1: a file system is "creating" for a second.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        (found,) = efs.describe_file_systems(FileSystemId=fs_id)["FileSystems"]
        if found["LifeCycleState"] == "available":
            return
        time.sleep(0.05)
    raise AssertionError(f"{fs_id} never became available")


def test_file_systems_and_access_points_live_in_postgresql(postgres_server: GureumProcess) -> None:
    efs = postgres_server.client("efs")
    fs_id = efs.create_file_system(CreationToken=TOKEN)["FileSystemId"]
    with aws_error("FileSystemAlreadyExists", 409) as caught:
        efs.create_file_system(CreationToken=TOKEN)  # a retry: AWS names the one it made
    assert caught.value.response["FileSystemId"] == fs_id
    described = efs.describe_file_systems(CreationToken=TOKEN)["FileSystems"]
    assert [fs["FileSystemId"] for fs in described] == [fs_id]
    available(efs, fs_id)
    point = efs.create_access_point(
        ClientToken=TOKEN,
        FileSystemId=fs_id,
        RootDirectory={
            "Path": "/app",
            "CreationInfo": {"OwnerUid": 1000, "OwnerGid": 1000, "Permissions": "750"},
        },
    )
    points = efs.describe_access_points(FileSystemId=fs_id)["AccessPoints"]
    assert [p["AccessPointId"] for p in points] == [point["AccessPointId"]]
    assert points[0]["RootDirectory"]["Path"] == "/app"
    with psycopg.connect(store_url(postgres_server)) as connection:
        rows = connection.execute(
            "SELECT f.token, a.id FROM file_systems f JOIN access_points a"
            " ON a.file_system = f.id WHERE f.id = %s",
            (fs_id,),
        ).fetchall()
    assert rows == [(TOKEN, point["AccessPointId"])]
    assert (postgres_server.data_dir / "efs" / fs_id).is_dir()
    assert not (postgres_server.data_dir / "efs.sqlite3").exists()
