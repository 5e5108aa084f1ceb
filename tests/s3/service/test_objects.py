"""Buckets, objects and multipart uploads over the real records and blobs: listings in byte
order under a prefix and after a key, objects and parts written again, names no key can hold,
and everything read back by a restarted server. Every test runs on SQLite and on PostgreSQL
(the `stores` fixture): the records' contract suite (issue #24)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gureum.aws.sql import Backend, SqliteBackend
from gureum.clock import ManualClock
from gureum.s3.domain.errors import BucketNotEmpty, NoSuchBucket, NoSuchKey, NoSuchUpload
from gureum.s3.domain.listing import Page
from gureum.s3.domain.objects import ObjectHeaders
from gureum.s3.services.buckets import BucketService
from gureum.s3.services.fakes import RecordingTarget
from gureum.s3.services.multipart import MultipartService
from gureum.s3.services.objects import ObjectService
from gureum.s3.services.ports import Requester
from gureum.s3.store.blobs import BlobStore
from gureum.s3.store.records import S3Records

WHO = Requester("000000000000", "us-east-1", "req-1")
BUCKET = "bkt"
# Keys whose byte order (code point order) differs from a locale's: capitals, a space, a
# slash, accented and astral letters, and the last code point.
KEYS = ["a", "B", "a/b", "a b", "ab", "é", "~", "ÿ", "\U0001f600", "x\U0010ffff", "x\U0010ffffy"]


@dataclass
class S3:
    records: S3Records
    blobs: BlobStore
    buckets: BucketService
    objects: ObjectService
    uploads: MultipartService

    def put(self, key: str, data: bytes = b"x") -> None:
        self.objects.put(WHO, BUCKET, key, self.blobs.spool_bytes(data), ObjectHeaders())

    def read(self, key: str) -> bytes:
        opened = self.objects.open(WHO.account, BUCKET, key)
        assert opened.file is not None
        with opened.file:
            return opened.file.read()

    def listing(
        self, prefix: str = "", delimiter: str | None = None, start_after: str | None = None
    ) -> Page:
        return self.objects.list_objects(
            WHO.account, BUCKET, prefix, delimiter, 1000, None, start_after
        )

    def keys(self, prefix: str = "", start_after: str | None = None) -> list[str]:
        return [item.key for item in self.listing(prefix, start_after=start_after).contents]


def build(backend: Backend, blobs_dir: Path) -> S3:
    records = S3Records(backend)
    blobs = BlobStore(blobs_dir)
    clock = ManualClock()
    return S3(
        records,
        blobs,
        BucketService(records, clock, RecordingTarget()),
        ObjectService(records, blobs, clock, lambda: None),
        MultipartService(records, blobs, clock, lambda: None),
    )


@pytest.fixture
def s3(stores: Callable[[], Backend], tmp_path: Path) -> Iterator[S3]:
    built = build(stores(), tmp_path / "blobs")
    built.buckets.create(WHO.account, WHO.region, BUCKET, None)
    yield built
    built.records.close()


def blob_files(root: Path) -> int:
    return sum(1 for path in root.rglob("*") if path.is_file() and path.parent.name != "tmp")


def test_keys_are_listed_in_byte_order(s3: S3) -> None:
    for key in KEYS:
        s3.put(key)
    in_order = ["B", "a", "a b", "a/b", "ab", "x\U0010ffff", "x\U0010ffffy", "~", "é", "ÿ"]
    assert s3.keys() == [*in_order, "\U0001f600"]
    assert s3.keys("a") == ["a", "a b", "a/b", "ab"]
    assert s3.keys("x\U0010ffff") == ["x\U0010ffff", "x\U0010ffffy"]  # no upper bound to use
    assert s3.keys(start_after="a/b") == [*in_order[4:], "\U0001f600"]
    page = s3.listing("a", delimiter="/")
    assert ([i.key for i in page.contents], page.common_prefixes) == (["a", "a b", "ab"], ["a/"])


def test_a_prefix_or_start_no_key_can_hold_lists_as_on_either_backend(s3: S3) -> None:
    for key in ("a", "ab", "b"):
        s3.put(key)
    # No key holds U+0000 (it is refused on the way in), which PostgreSQL's text cannot carry.
    assert s3.keys("a\0") == []
    assert s3.keys(start_after="a\0z") == ["ab", "b"]
    with pytest.raises(NoSuchKey):
        s3.objects.open(WHO.account, BUCKET, "a\0")
    with pytest.raises(NoSuchBucket):
        s3.objects.open(WHO.account, "bkt\0", "a")
    with pytest.raises(NoSuchUpload):
        s3.uploads.abort(WHO.account, BUCKET, "a", "upload\0")


def test_an_object_written_again_replaces_the_first(s3: S3, tmp_path: Path) -> None:
    s3.put("k", b"first")
    s3.put("k", b"second")
    assert s3.read("k") == b"second"
    assert s3.keys() == ["k"]
    assert blob_files(tmp_path / "blobs") == 1  # the first one's bytes are gone
    s3.objects.delete(WHO, BUCKET, "k")
    assert s3.keys() == []
    assert blob_files(tmp_path / "blobs") == 0


def test_a_part_uploaded_again_replaces_the_first(s3: S3, tmp_path: Path) -> None:
    upload = s3.uploads.create(WHO.account, BUCKET, "big", ObjectHeaders())
    body = s3.blobs.spool_bytes
    s3.uploads.upload_part(WHO.account, BUCKET, "big", upload.id, 1, body(b"old"))
    part = s3.uploads.upload_part(WHO.account, BUCKET, "big", upload.id, 1, body(b"one"))
    two = s3.uploads.upload_part(WHO.account, BUCKET, "big", upload.id, 2, body(b"two"))
    listed = s3.uploads.list_parts(WHO.account, BUCKET, "big", upload.id, 0, 10)
    assert listed.parts == [part, two]  # md5 (bytes) and times read back as written
    assert blob_files(tmp_path / "blobs") == 2
    with pytest.raises(BucketNotEmpty):
        s3.buckets.delete(WHO.account, BUCKET)  # an upload in progress holds the bucket
    # Only the last part may be under 5 MiB: this object is made of part 1 alone.
    item = s3.uploads.complete(WHO, BUCKET, "big", upload.id, [(1, part.etag)])
    assert (s3.read("big"), item.parts) == (b"one", 1)
    assert blob_files(tmp_path / "blobs") == 1  # the parts' bytes are gone, part 2's too
    with pytest.raises(NoSuchUpload):
        s3.uploads.list_parts(WHO.account, BUCKET, "big", upload.id, 0, 10)


def test_everything_is_read_back_after_a_restart(
    s3: S3, stores: Callable[[], Backend], tmp_path: Path
) -> None:
    s3.put("k", b"kept")
    upload = s3.uploads.create(WHO.account, BUCKET, "big", ObjectHeaders(content_type="a/b"))
    s3.uploads.upload_part(WHO.account, BUCKET, "big", upload.id, 1, s3.blobs.spool_bytes(b"p"))
    before = s3.objects.open(WHO.account, BUCKET, "k", read=False).item
    again = build(stores(), tmp_path / "blobs")
    try:
        assert again.read("k") == b"kept"
        assert again.objects.open(WHO.account, BUCKET, "k", read=False).item == before
        parts = again.uploads.list_parts(WHO.account, BUCKET, "big", upload.id, 0, 10)
        assert (parts.upload, [p.number for p in parts.parts]) == (upload, [1])
        assert [b.name for b in again.buckets.list_buckets(WHO.account)] == [BUCKET]
        s3.objects.delete(WHO, BUCKET, "k")
        s3.uploads.abort(WHO.account, BUCKET, "big", upload.id)
        again.buckets.delete(WHO.account, BUCKET)
        assert again.buckets.list_buckets(WHO.account) == []
    finally:
        again.records.close()


def test_an_outbox_from_an_older_gureum_is_upgraded(tmp_path: Path) -> None:
    """SQLite only: PostgreSQL's tables are made by their migrations, never by an older
    gureum's schema."""
    path = tmp_path / "data" / "s3" / "s3.sqlite3"
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, "
            "region TEXT NOT NULL, function_arn TEXT NOT NULL, payload BLOB NOT NULL, "
            "request_id TEXT NOT NULL)"
        )
        old.execute("INSERT INTO outbox VALUES (1, 'a', 'r', 'arn', x'7b7d', 'req')")
    old.close()
    records = S3Records(SqliteBackend(tmp_path / "data"))
    try:
        with records.transaction() as tx:
            (claimed,) = tx.claim(0.0, 30.0, 10)
        assert (claimed.payload, claimed.request_id, claimed.trace_header) == (b"{}", "req", None)
    finally:
        records.close()
