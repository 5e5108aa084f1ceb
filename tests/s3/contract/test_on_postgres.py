"""S3 on a server whose stores are in PostgreSQL (`--store`): the everyday calls answer as on
the embedded default, and the records are PostgreSQL's rows, listed in byte order."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from botocore.exceptions import ClientError

from tests.support.server import GureumProcess


def store_url(server: GureumProcess) -> str:
    return server.extra[server.extra.index("--store") + 1]


def test_objects_are_put_listed_read_and_deleted(postgres_server: GureumProcess) -> None:
    s3: Any = postgres_server.client("s3")
    s3.create_bucket(Bucket="on-postgres")
    for key in ("photos/b.jpg", "photos/A.jpg", "photos/2026/x.jpg", "photos/é.jpg", "notes"):
        s3.put_object(Bucket="on-postgres", Key=key, Body=key.encode())
    listed = s3.list_objects_v2(Bucket="on-postgres", Prefix="photos/", Delimiter="/")
    # Byte order, as S3 lists: capitals before small letters, accented letters last.
    assert [o["Key"] for o in listed["Contents"]] == [
        "photos/A.jpg",
        "photos/b.jpg",
        "photos/é.jpg",
    ]
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["photos/2026/"]
    got = s3.get_object(Bucket="on-postgres", Key="photos/é.jpg")
    assert got["Body"].read() == "photos/é.jpg".encode()
    with pytest.raises(ClientError) as caught:  # no key holds U+0000: none to find, no 500
        s3.get_object(Bucket="on-postgres", Key="notes\0")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with psycopg.connect(store_url(postgres_server)) as connection:
        rows = connection.execute(
            "SELECT key FROM objects WHERE bucket = 'on-postgres' ORDER BY key"
        ).fetchall()
        # Byte order whatever the database's locale (this test cluster's may be C.UTF-8 already).
        (collation,) = connection.execute(
            "SELECT collation_name FROM information_schema.columns "
            "WHERE table_name = 'objects' AND column_name = 'key'"
        ).fetchone() or (None,)
    assert collation == "C"
    assert [key for (key,) in rows] == [
        "notes",
        "photos/2026/x.jpg",
        "photos/A.jpg",
        "photos/b.jpg",
        "photos/é.jpg",
    ]
    for key in [key for (key,) in rows]:
        s3.delete_object(Bucket="on-postgres", Key=key)
    assert s3.list_objects_v2(Bucket="on-postgres")["KeyCount"] == 0
    s3.delete_bucket(Bucket="on-postgres")
    assert "on-postgres" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
