"""S3's records: buckets with their notification configurations, objects (naming their blobs),
multipart uploads and their parts, and the notification outbox, through the SQL port
(`gureum.aws.sql`): an SQLite file (`<data>/s3/s3.sqlite3`), or PostgreSQL (`migrations/`).

An object becomes visible, and the notifications it causes are queued in the outbox, in one
transaction: after a crash either both happened or neither did, on either backend. The outbox
is drained into Lambda's event queue by `s3.services.notifier`, which claims the rows it sends
(`claim`) so that two processes draining one outbox never send the same row both.

The store's transactions run one at a time across every process (SQLite's `BEGIN IMMEDIATE`,
PostgreSQL's advisory lock of the store), so a read and the write that depends on it never
interleave with another request's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import takewhile
from typing import Any

from gureum.aws.sql import Backend, Sql, StoreSpec
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
    trace_header TEXT, claimed_until REAL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def _upgrade(sql: Sql) -> None:
    """An SQLite outbox made by an older gureum: before trace headers were kept, and before
    rows were claimed by the process sending them."""
    columns = {row[1] for row in sql.execute("PRAGMA table_info(outbox)")}
    if "trace_header" not in columns:
        sql.execute("ALTER TABLE outbox ADD COLUMN trace_header TEXT")
    if "claimed_until" not in columns:
        sql.execute("ALTER TABLE outbox ADD COLUMN claimed_until REAL")


SPEC = StoreSpec("s3", "s3/s3.sqlite3", SCHEMA, "gureum.s3.store", upgrade=_upgrade)
_OBJECT = "bucket, key, blob, size, etag, modified, headers, parts"
_OUTGOING = "id, account, region, function_arn, payload, request_id, trace_header"


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


def _storable(*texts: str) -> bool:
    """Whether every one of `texts` can be a stored name: no stored bucket name, key or upload
    id holds U+0000 (refused before they are written), and PostgreSQL's text cannot hold it at
    all, so a lookup by such a name finds nothing on both backends instead of failing on one."""
    return not any("\0" in text for text in texts)


class S3Transaction:
    """Reads and writes inside one transaction."""

    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    # --- buckets ----------------------------------------------------------------------------

    def bucket(self, name: str) -> Bucket | None:
        if not _storable(name):
            return None
        row = self._sql.execute(
            "SELECT name, account, region, created FROM buckets WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else _bucket(row)

    def buckets(self, account: str) -> list[Bucket]:
        rows = self._sql.execute(
            "SELECT name, account, region, created FROM buckets WHERE account = ? ORDER BY name",
            (account,),
        )
        return [_bucket(row) for row in rows]

    def add_bucket(self, bucket: Bucket) -> None:
        self._sql.execute(
            "INSERT INTO buckets (name, account, region, created) VALUES (?, ?, ?, ?)",
            (bucket.name, bucket.account, bucket.region, bucket.created),
        )

    def remove_bucket(self, name: str) -> None:
        self._sql.execute("DELETE FROM buckets WHERE name = ?", (name,))

    def bucket_in_use(self, name: str) -> bool:
        row = self._sql.execute(
            "SELECT EXISTS (SELECT 1 FROM objects WHERE bucket = ?) "
            "OR EXISTS (SELECT 1 FROM uploads WHERE bucket = ?)",
            (name, name),
        ).fetchone()
        return bool(row[0])

    def notifications(self, bucket: str) -> list[FunctionNotification]:
        if not _storable(bucket):
            return []
        row = self._sql.execute(
            "SELECT notifications FROM buckets WHERE name = ?", (bucket,)
        ).fetchone()
        return [] if row is None else load(row[0])

    def set_notifications(self, bucket: str, configs: list[FunctionNotification]) -> None:
        self._sql.execute(
            "UPDATE buckets SET notifications = ? WHERE name = ?", (dump(configs), bucket)
        )

    # --- objects ----------------------------------------------------------------------------

    def object(self, bucket: str, key: str) -> StoredObject | None:
        if not _storable(bucket, key):
            return None
        row = self._sql.execute(
            f"SELECT {_OBJECT} FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
        ).fetchone()
        return None if row is None else _object(row)

    def put_object(self, item: StoredObject) -> None:
        self._sql.execute(
            f"INSERT INTO objects ({_OBJECT}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (bucket, key) DO UPDATE SET blob = excluded.blob, "
            "size = excluded.size, etag = excluded.etag, modified = excluded.modified, "
            "headers = excluded.headers, parts = excluded.parts",
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
        self._sql.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))

    def objects_from(
        self, bucket: str, prefix: str, after: str | None, limit: int
    ) -> list[StoredObject]:
        """Up to `limit` objects under `prefix`, in key order, after `after`.

        Key order is code point order, which is UTF-8's byte order: SQLite compares text
        byte by byte, and PostgreSQL's key column is `COLLATE "C"`, as S3 lists."""
        if not _storable(prefix):
            return []  # no key holds U+0000, so none is under this prefix
        start = after if after is not None and after >= prefix else prefix
        op = ">" if after is not None and after >= prefix else ">="
        if not _storable(start):
            # No key holds U+0000, so the keys after `start` are the keys after its part
            # before the first U+0000 (which PostgreSQL's text cannot carry).
            start, op = start[: start.index("\0")], ">"
        query = f"SELECT {_OBJECT} FROM objects WHERE bucket = ? AND key {op} ?"
        arguments: list[Any] = [bucket, start]
        # The keys under a prefix sort together, first from the prefix itself and before the
        # prefix with its last character moved one up: that bound ends the scan early.
        if prefix and prefix[-1] != "\U0010ffff":
            query += " AND key < ?"
            arguments.append(prefix[:-1] + chr(ord(prefix[-1]) + 1))
        rows = self._sql.execute(f"{query} ORDER BY key LIMIT ?", (*arguments, limit))
        found = (_object(row) for row in rows)
        return list(takewhile(lambda item: item.key.startswith(prefix), found))

    def blobs(self) -> set[str]:
        names = {row[0] for row in self._sql.execute("SELECT blob FROM objects")}
        names.update(row[0] for row in self._sql.execute("SELECT blob FROM parts"))
        return names

    # --- multipart --------------------------------------------------------------------------

    def add_upload(self, upload: Upload) -> None:
        self._sql.execute(
            "INSERT INTO uploads (id, bucket, key, initiated, headers) VALUES (?, ?, ?, ?, ?)",
            (upload.id, upload.bucket, upload.key, upload.initiated, _dump_headers(upload.headers)),
        )

    def upload(self, upload_id: str) -> Upload | None:
        if not _storable(upload_id):
            return None
        row = self._sql.execute(
            "SELECT id, bucket, key, initiated, headers FROM uploads WHERE id = ?", (upload_id,)
        ).fetchone()
        if row is None:
            return None
        return Upload(row[0], row[1], row[2], row[3], _load_headers(row[4]))

    def remove_upload(self, upload_id: str) -> list[str]:
        """Removes the upload and its parts; returns the parts' blobs."""
        blobs = [
            r[0]
            for r in self._sql.execute("SELECT blob FROM parts WHERE upload_id = ?", (upload_id,))
        ]
        self._sql.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
        return blobs

    def put_part(self, upload_id: str, part: Part) -> str | None:
        """Records a part; returns the blob of the part it replaced, if any."""
        row = self._sql.execute(
            "SELECT blob FROM parts WHERE upload_id = ? AND number = ?", (upload_id, part.number)
        ).fetchone()
        self._sql.execute(
            "INSERT INTO parts (upload_id, number, blob, size, etag, md5, modified) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (upload_id, number) DO UPDATE SET "
            "blob = excluded.blob, size = excluded.size, etag = excluded.etag, "
            "md5 = excluded.md5, modified = excluded.modified",
            (upload_id, part.number, part.blob, part.size, part.etag, part.md5, part.modified),
        )
        return None if row is None else str(row[0])

    def parts(self, upload_id: str) -> dict[int, Part]:
        rows = self._sql.execute(
            "SELECT number, blob, size, etag, md5, modified FROM parts WHERE upload_id = ? "
            "ORDER BY number",
            (upload_id,),
        )
        return {row[0]: Part(*row) for row in rows}

    # --- notifications ----------------------------------------------------------------------

    def next_sequence(self) -> int:
        row = self._sql.execute(
            "INSERT INTO counters (name, value) VALUES ('sequencer', 1) ON CONFLICT (name) "
            "DO UPDATE SET value = counters.value + 1 RETURNING value"
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
        self._sql.execute(
            "INSERT INTO outbox (account, region, function_arn, payload, request_id, "
            "trace_header) VALUES (?, ?, ?, ?, ?, ?)",
            (account, region, function_arn, payload, request_id, trace_header),
        )

    def outgoing(self, limit: int) -> list[Outgoing]:
        """What the outbox holds, claimed or not, oldest first."""
        rows = self._sql.execute(f"SELECT {_OUTGOING} FROM outbox ORDER BY id LIMIT ?", (limit,))
        return [Outgoing(*row) for row in rows]

    def claim(self, now: float, until: float, limit: int) -> list[Outgoing]:
        """Up to `limit` rows, oldest first, that no one has claimed or whose claim ended by
        `now`, claimed until `until`. The store's transactions run one at a time across every
        process, so a row claimed here is in no other process's claim while this one lasts;
        a process that dies holding a claim leaves its rows to whoever claims after `until`."""
        rows = self._sql.execute(
            f"SELECT {_OUTGOING} FROM outbox WHERE claimed_until IS NULL OR claimed_until <= ? "
            "ORDER BY id LIMIT ?",
            (now, limit),
        ).fetchall()
        claimed = [Outgoing(*row) for row in rows]
        self._set_claims([item.id for item in claimed], until)
        return claimed

    def release(self, outgoing_ids: list[int]) -> None:
        """Ends the claims on rows that were not sent: the next drain, here or anywhere, tries
        them again."""
        self._set_claims(outgoing_ids, None)

    def release_all(self) -> None:
        """Ends every claim: for a process that knows itself the outbox's only sender (the
        embedded default's, at start), so what a killed run held is sent again at once."""
        self._sql.execute("UPDATE outbox SET claimed_until = NULL WHERE claimed_until IS NOT NULL")

    def _set_claims(self, outgoing_ids: list[int], until: float | None) -> None:
        if outgoing_ids:
            marks = ", ".join("?" * len(outgoing_ids))
            self._sql.execute(
                f"UPDATE outbox SET claimed_until = ? WHERE id IN ({marks})",
                (until, *outgoing_ids),
            )

    def sent(self, outgoing_id: int) -> None:
        self._sql.execute("DELETE FROM outbox WHERE id = ?", (outgoing_id,))


class S3Records:
    """The database behind S3 (blocking: call from worker threads)."""

    def __init__(self, stores: Backend) -> None:
        self._db = stores.open(SPEC)

    @contextmanager
    def transaction(self) -> Iterator[S3Transaction]:
        with self._db.transaction() as sql:
            yield S3Transaction(sql)

    def close(self) -> None:
        self._db.close()
