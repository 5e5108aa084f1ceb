"""Objects: put, get (ranges, conditions), head, delete, copy, delete in bulk, list.

An object is visible once the transaction naming its blob commits, with the notifications it
causes queued in that same transaction; the blob is written, fsynced and renamed into place
before (`s3.store.blobs`), and the blob of the object it replaced is removed after. Every method
blocks on SQLite and the disk: call it from worker threads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import unquote

from gureum.aws.http import BodyFile
from gureum.aws.payloads import check_trailers
from gureum.clock import Clock
from gureum.s3.domain.errors import (
    BadDigest,
    EntityTooLarge,
    InvalidArgument,
    InvalidRequest,
    NoSuchKey,
    NotImplementedFeature,
)
from gureum.s3.domain.listing import Page, page, start_of
from gureum.s3.domain.notifications import EventName
from gureum.s3.domain.objects import (
    ByteRange,
    Conditions,
    ObjectHeaders,
    StoredObject,
    byte_range,
    check_conditions,
    check_content_md5,
    check_key,
    etag_of,
)
from gureum.s3.services.buckets import owned_bucket
from gureum.s3.services.events import Wake, queue_events
from gureum.s3.services.ports import Requester
from gureum.s3.store.blobs import BlobStore
from gureum.s3.store.records import S3Records

MAX_OBJECT_SIZE = 5 * 1024**3  # a single PUT's limit
MAX_DELETE_KEYS = 1000
NO_CONDITIONS = Conditions()
_LIST_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Opened:
    """An object to read: its record, the part asked for, and its blob opened (None for HEAD)."""

    item: StoredObject
    range: ByteRange | None
    file: BinaryIO | None


@dataclass(frozen=True, slots=True)
class Deleted:
    deleted: list[str]
    errors: list[tuple[str, str, str]]  # key, code, message


def copy_source(text: str) -> tuple[str, str]:
    """(bucket, key) of an `x-amz-copy-source` (`bucket/key`, URL-encoded, maybe with a leading
    slash); a versionId other than `null` is refused: gureum keeps no versions."""
    path, _, query = text.partition("?")
    if query and query != "versionId=null":
        raise NotImplementedFeature("object versions (x-amz-copy-source with a versionId)")
    bucket, sep, key = unquote(path).lstrip("/").partition("/")
    if not sep or not bucket or not key:
        raise InvalidArgument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey"
        )
    return bucket, key


class ObjectService:
    def __init__(self, records: S3Records, blobs: BlobStore, clock: Clock, wake: Wake) -> None:
        self._records = records
        self._blobs = blobs
        self._clock = clock
        self._wake = wake

    def put(
        self,
        requester: Requester,
        bucket: str,
        key: str,
        body: BodyFile,
        headers: ObjectHeaders,
        content_md5: str | None = None,
        checksums: Mapping[str, str] | None = None,
    ) -> StoredObject:
        check_key(key)
        if not check_content_md5(content_md5, body.md5):
            raise BadDigest()
        check_trailers(dict(checksums or {}), body)
        if body.size > MAX_OBJECT_SIZE:
            raise EntityTooLarge()
        with self._records.transaction() as tx:
            owned_bucket(tx, requester.account, bucket)  # before the disk work, for a clear 404
        blob = self._blobs.adopt(body)
        now = self._clock.now().timestamp()
        item = StoredObject(bucket, key, blob, body.size, etag_of(body.md5), now, headers)
        return self._commit(requester, item, EventName.PUT)

    def _commit(self, requester: Requester, item: StoredObject, event: EventName) -> StoredObject:
        """Makes `item` (its blob in place) the bucket's object at its key."""
        try:
            with self._records.transaction() as tx:
                bucket = owned_bucket(tx, requester.account, item.bucket)
                old = tx.object(item.bucket, item.key)
                tx.put_object(item)
                queued = queue_events(tx, bucket, event, item.key, requester, item.modified, item)
        except BaseException:
            self._blobs.remove([item.blob])
            raise
        if old is not None:
            self._blobs.remove([old.blob])
        if queued:
            self._wake()
        return item

    def open(
        self,
        account: str,
        bucket: str,
        key: str,
        range_header: str | None = None,
        conditions: Conditions = NO_CONDITIONS,
        read: bool = True,
    ) -> Opened:
        """The object, with its blob opened when `read` (GET) so that a concurrent overwrite or
        delete cannot change what this answer sends."""
        with self._records.transaction() as tx:
            owned_bucket(tx, account, bucket)
            item = tx.object(bucket, key)
            if item is None:
                raise NoSuchKey(key)
            check_conditions(conditions, item.etag, item.modified, read=True)
            wanted = byte_range(range_header, item.size)
            file = self._blobs.open(item.blob) if read else None
        return Opened(item, wanted, file)

    def delete(self, requester: Requester, bucket: str, key: str) -> None:
        """Deletes the object if there is one (S3 answers 204 either way)."""
        with self._records.transaction() as tx:
            found = owned_bucket(tx, requester.account, bucket)
            old = tx.object(bucket, key)
            queued = 0
            if old is not None:
                tx.remove_object(bucket, key)
                now = self._clock.now().timestamp()
                queued = queue_events(tx, found, EventName.DELETE, key, requester, now)
        if old is not None:
            self._blobs.remove([old.blob])
        if queued:
            self._wake()

    def delete_many(self, requester: Requester, bucket: str, keys: Sequence[str]) -> Deleted:
        if len(keys) > MAX_DELETE_KEYS:
            raise InvalidArgument(
                f"You have attempted to delete more objects than allowed: {MAX_DELETE_KEYS}"
            )
        with self._records.transaction() as tx:
            owned_bucket(tx, requester.account, bucket)
        deleted, errors = [], []
        for key in keys:
            try:
                check_key(key)
                self.delete(requester, bucket, key)
            except InvalidArgument as error:
                errors.append((key, error.code, error.message))
                continue
            deleted.append(key)
        return Deleted(deleted, errors)

    def copy(
        self,
        requester: Requester,
        source: str,
        bucket: str,
        key: str,
        headers: ObjectHeaders | None,
        conditions: Conditions = NO_CONDITIONS,
    ) -> StoredObject:
        """Copies `source` (an `x-amz-copy-source`) to `bucket`/`key`; `headers` None keeps the
        source's (MetadataDirective COPY), else replaces them (REPLACE)."""
        check_key(key)
        source_bucket, source_key = copy_source(source)
        with self._records.transaction() as tx:
            owned_bucket(tx, requester.account, source_bucket)
            owned_bucket(tx, requester.account, bucket)
            original = tx.object(source_bucket, source_key)
            if original is None:
                raise NoSuchKey(source_key)
            check_conditions(conditions, original.etag, original.modified, read=False)
            if (source_bucket, source_key) == (bucket, key) and headers is None:
                raise InvalidRequest(
                    "This copy request is illegal because it is trying to copy an object to "
                    "itself without changing the object's metadata, storage class, website "
                    "redirect location or encryption attributes."
                )
            blob = self._blobs.link(original.blob)
        now = self._clock.now().timestamp()
        item = StoredObject(
            bucket,
            key,
            blob,
            original.size,
            original.etag,
            now,
            original.headers if headers is None else headers,
            original.parts,
        )
        return self._commit(requester, item, EventName.COPY)

    def list_objects(
        self,
        account: str,
        bucket: str,
        prefix: str,
        delimiter: str | None,
        max_keys: int,
        token: str | None,
        start_after: str | None,
    ) -> Page:
        with self._records.transaction() as tx:
            owned_bucket(tx, account, bucket)
        resume = start_of(token, start_after)
        return page(
            self._scan(bucket, prefix, resume.after if resume else None),
            prefix,
            delimiter,
            max_keys,
            resume,
        )

    def _scan(self, bucket: str, prefix: str, after: str | None) -> Iterator[StoredObject]:
        """The bucket's objects under `prefix` after `after`, in key order, read in batches."""
        while True:
            with self._records.transaction() as tx:
                batch = tx.objects_from(bucket, prefix, after, _LIST_BATCH)
            yield from batch
            if len(batch) < _LIST_BATCH:
                return
            after = batch[-1].key
