"""S3's records in SQLite (`<data>/s3/s3.sqlite3`): buckets with their notification
configurations, objects (naming their blobs), multipart uploads and their parts, and the
notification outbox.

An object becomes visible, and the notifications it causes are queued in the outbox, in one
transaction: after a crash either both happened or neither did. The outbox is drained into
Lambda's event queue by `s3.services.notifier`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gureum.aws.sqlite import Database
from gureum.s3.domain.buckets import Bucket
from gureum.s3.domain.multipart import Part
from gureum.s3.domain.notifications import FunctionNotification, dump, load
from gureum.s3.domain.objects import ObjectHeaders, StoredObject

SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, created REAL NOT NULL,
    notifications TEXT NOT NULL DEFAULT '[]');
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL REFERENCES buckets(name), key TEXT NOT NULL, blob TEXT NOT NULL,
    size INTEGER NOT NULL, etag TEXT NOT NULL, modified REAL NOT NULL, headers TEXT NOT NULL,
    parts INTEGER, PRIMARY KEY (bucket, key));
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY, bucket TEXT NOT NULL REFERENCES buckets(name), key TEXT NOT NULL,
    initiated REAL NOT NULL, headers TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS uploads_by_bucket ON uploads (bucket, key);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE, number INTEGER NOT NULL,
    blob TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL, md5 BLOB NOT NULL,
    modified REAL NOT NULL, PRIMARY KEY (upload_id, number));
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, region TEXT NOT NULL,
    function_arn TEXT NOT NULL, payload BLOB NOT NULL, request_id TEXT NOT NULL,
    trace_header TEXT);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
_OBJECT = "bucket, key, blob, size, etag, modified, headers, parts"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A notification waiting in the outbox for Lambda's event queue."""

    id: int
    account: str
    region: str
    function_arn: str
    payload: bytes
    request_id: str
    trace_header: str | None = None


@dataclass(frozen=True, slots=True)
class Upload:
    id: str
    bucket: str
    key: str
    initiated: float
    headers: ObjectHeaders


def _dump_headers(headers: ObjectHeaders) -> str:
    return json.dumps(
        [
            headers.content_type,
            headers.cache_control,
            headers.content_disposition,
            headers.content_encoding,
            headers.content_language,
            headers.expires,
            dict(headers.metadata),
        ]
    )


def _load_headers(text: str) -> ObjectHeaders:
    kind, cache, disposition, encoding, language, expires, metadata = json.loads(text)
    return ObjectHeaders(kind, cache, disposition, encoding, language, expires, metadata)


def _object(row: Any) -> StoredObject:
    bucket, key, blob, size, etag, modified, headers, parts = row
    return StoredObject(bucket, key, blob, size, etag, modified, _load_headers(headers), parts)


def _bucket(row: Any) -> Bucket:
    return Bucket(*row)


class S3Transaction:
    """Reads and writes inside one transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    # --- buckets ----------------------------------------------------------------------------

    def bucket(self, name: str) -> Bucket | None:
        row = self._db.execute(
            "SELECT name, account, region, created FROM buckets WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else _bucket(row)

    def buckets(self, account: str) -> list[Bucket]:
        rows = self._db.execute(
            "SELECT name, account, region, created FROM buckets WHERE account = ? ORDER BY name",
            (account,),
        )
        return [_bucket(row) for row in rows]

    def add_bucket(self, bucket: Bucket) -> None:
        self._db.execute(
            "INSERT INTO buckets (name, account, region, created) VALUES (?, ?, ?, ?)",
            (bucket.name, bucket.account, bucket.region, bucket.created),
        )

    def remove_bucket(self, name: str) -> None:
        self._db.execute("DELETE FROM buckets WHERE name = ?", (name,))

    def bucket_in_use(self, name: str) -> bool:
        row = self._db.execute(
            "SELECT EXISTS (SELECT 1 FROM objects WHERE bucket = ?) "
            "OR EXISTS (SELECT 1 FROM uploads WHERE bucket = ?)",
            (name, name),
        ).fetchone()
        return bool(row[0])

    def notifications(self, bucket: str) -> list[FunctionNotification]:
        row = self._db.execute(
            "SELECT notifications FROM buckets WHERE name = ?", (bucket,)
        ).fetchone()
        return [] if row is None else load(row[0])

    def set_notifications(self, bucket: str, configs: list[FunctionNotification]) -> None:
        self._db.execute(
            "UPDATE buckets SET notifications = ? WHERE name = ?", (dump(configs), bucket)
        )

    # --- objects ----------------------------------------------------------------------------

    def object(self, bucket: str, key: str) -> StoredObject | None:
        row = self._db.execute(
            f"SELECT {_OBJECT} FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
        ).fetchone()
        return None if row is None else _object(row)

    def put_object(self, item: StoredObject) -> None:
        self._db.execute(
            f"INSERT OR REPLACE INTO objects ({_OBJECT}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                item.bucket,
                item.key,
                item.blob,
                item.size,
                item.etag,
                item.modified,
                _dump_headers(item.headers),
                item.parts,
            ),
        )

    def remove_object(self, bucket: str, key: str) -> None:
        self._db.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))

    def objects_from(
        self, bucket: str, prefix: str, after: str | None, limit: int
    ) -> list[StoredObject]:
        """Up to `limit` objects under `prefix`, in key order, after `after`."""
        start = after if after is not None and after >= prefix else prefix
        op = ">" if after is not None and after >= prefix else ">="
        # Keys under a prefix sort before the prefix with its last character moved one up
        # (SQLite compares UTF-8 bytes, which orders as code points do).
        upper = None
        if prefix and prefix[-1] != "\U0010ffff":
            upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        rows = self._db.execute(
            f"SELECT {_OBJECT} FROM objects WHERE bucket = ? AND key {op} ? "
            "AND (? IS NULL OR key < ?) AND substr(key, 1, ?) = ? ORDER BY key LIMIT ?",
            (bucket, start, upper, upper, len(prefix), prefix, limit),
        )
        return [_object(row) for row in rows]

    def blobs(self) -> set[str]:
        names = {row[0] for row in self._db.execute("SELECT blob FROM objects")}
        names.update(row[0] for row in self._db.execute("SELECT blob FROM parts"))
        return names

    # --- multipart --------------------------------------------------------------------------

    def add_upload(self, upload: Upload) -> None:
        self._db.execute(
            "INSERT INTO uploads (id, bucket, key, initiated, headers) VALUES (?, ?, ?, ?, ?)",
            (upload.id, upload.bucket, upload.key, upload.initiated, _dump_headers(upload.headers)),
        )

    def upload(self, upload_id: str) -> Upload | None:
        row = self._db.execute(
            "SELECT id, bucket, key, initiated, headers FROM uploads WHERE id = ?", (upload_id,)
        ).fetchone()
        if row is None:
            return None
        return Upload(row[0], row[1], row[2], row[3], _load_headers(row[4]))

    def remove_upload(self, upload_id: str) -> list[str]:
        """Removes the upload and its parts; returns the parts' blobs."""
        blobs = [
            r[0]
            for r in self._db.execute("SELECT blob FROM parts WHERE upload_id = ?", (upload_id,))
        ]
        self._db.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
        return blobs

    def put_part(self, upload_id: str, part: Part) -> str | None:
        """Records a part; returns the blob of the part it replaced, if any."""
        row = self._db.execute(
            "SELECT blob FROM parts WHERE upload_id = ? AND number = ?", (upload_id, part.number)
        ).fetchone()
        self._db.execute(
            "INSERT OR REPLACE INTO parts (upload_id, number, blob, size, etag, md5, modified) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (upload_id, part.number, part.blob, part.size, part.etag, part.md5, part.modified),
        )
        return None if row is None else str(row[0])

    def parts(self, upload_id: str) -> dict[int, Part]:
        rows = self._db.execute(
            "SELECT number, blob, size, etag, md5, modified FROM parts WHERE upload_id = ? "
            "ORDER BY number",
            (upload_id,),
        )
        return {row[0]: Part(*row) for row in rows}

    # --- notifications ----------------------------------------------------------------------

    def next_sequence(self) -> int:
        row = self._db.execute(
            "INSERT INTO counters (name, value) VALUES ('sequencer', 1) ON CONFLICT (name) "
            "DO UPDATE SET value = value + 1 RETURNING value"
        ).fetchone()
        return int(row[0])

    def queue(
        self,
        account: str,
        region: str,
        function_arn: str,
        payload: bytes,
        request_id: str,
        trace_header: str | None = None,
    ) -> None:
        self._db.execute(
            "INSERT INTO outbox (account, region, function_arn, payload, request_id, "
            "trace_header) VALUES (?, ?, ?, ?, ?, ?)",
            (account, region, function_arn, payload, request_id, trace_header),
        )

    def outgoing(self, limit: int) -> list[Outgoing]:
        rows = self._db.execute(
            "SELECT id, account, region, function_arn, payload, request_id, trace_header "
            "FROM outbox ORDER BY id LIMIT ?",
            (limit,),
        )
        return [Outgoing(*row) for row in rows]

    def sent(self, outgoing_id: int) -> None:
        self._db.execute("DELETE FROM outbox WHERE id = ?", (outgoing_id,))


class S3Records:
    """The SQLite file behind S3 (blocking: call from worker threads)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = Database(path, SCHEMA)
        with self._db.transaction() as db:  # an outbox from before trace headers were kept
            columns = {row[1] for row in db.execute("PRAGMA table_info(outbox)")}
            if "trace_header" not in columns:
                db.execute("ALTER TABLE outbox ADD COLUMN trace_header TEXT")

    @contextmanager
    def transaction(self) -> Iterator[S3Transaction]:
        with self._db.transaction() as db:
            yield S3Transaction(db)

    def close(self) -> None:
        self._db.close()
