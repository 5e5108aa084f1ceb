"""Multipart uploads: create, upload parts, complete (the parts joined into one blob), abort,
list parts. Every method blocks on SQLite and the disk: call it from worker threads."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from gureum.aws.http import BodyFile
from gureum.clock import Clock
from gureum.s3.domain.errors import BadDigest, EntityTooLarge, NoSuchUpload
from gureum.s3.domain.multipart import Part, assemble, check_part_number
from gureum.s3.domain.notifications import EventName
from gureum.s3.domain.objects import (
    ObjectHeaders,
    StoredObject,
    check_content_md5,
    check_key,
    etag_of,
    multipart_etag,
)
from gureum.s3.services.buckets import owned_bucket
from gureum.s3.services.events import Wake, queue_events
from gureum.s3.services.ports import Requester
from gureum.s3.store.blobs import BlobStore
from gureum.s3.store.records import S3Records, S3Transaction, Upload

MAX_PART_SIZE = 5 * 1024**3


@dataclass(frozen=True, slots=True)
class PartPage:
    upload: Upload
    parts: list[Part]
    truncated: bool
    next_marker: int | None


def new_upload_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes).decode().rstrip("=")


class MultipartService:
    def __init__(self, records: S3Records, blobs: BlobStore, clock: Clock, wake: Wake) -> None:
        self._records = records
        self._blobs = blobs
        self._clock = clock
        self._wake = wake

    @staticmethod
    def _upload(tx: S3Transaction, account: str, bucket: str, key: str, upload_id: str) -> Upload:
        owned_bucket(tx, account, bucket)
        upload = tx.upload(upload_id)
        if upload is None or upload.bucket != bucket or upload.key != key:
            raise NoSuchUpload(upload_id)
        return upload

    def create(self, account: str, bucket: str, key: str, headers: ObjectHeaders) -> Upload:
        check_key(key)
        upload = Upload(new_upload_id(), bucket, key, self._clock.now().timestamp(), headers)
        with self._records.transaction() as tx:
            owned_bucket(tx, account, bucket)
            tx.add_upload(upload)
        return upload

    def upload_part(
        self,
        account: str,
        bucket: str,
        key: str,
        upload_id: str,
        number: int,
        body: BodyFile,
        content_md5: str | None = None,
    ) -> Part:
        check_part_number(number)
        if not check_content_md5(content_md5, body.md5):
            raise BadDigest()
        if body.size > MAX_PART_SIZE:
            raise EntityTooLarge()
        with self._records.transaction() as tx:
            self._upload(tx, account, bucket, key, upload_id)
        blob = self._blobs.adopt(body)
        part = Part(
            number, blob, body.size, etag_of(body.md5), body.md5, self._clock.now().timestamp()
        )
        try:
            with self._records.transaction() as tx:
                self._upload(tx, account, bucket, key, upload_id)
                replaced = tx.put_part(upload_id, part)
        except BaseException:
            self._blobs.remove([blob])
            raise
        if replaced is not None:
            self._blobs.remove([replaced])
        return part

    def complete(
        self,
        requester: Requester,
        bucket: str,
        key: str,
        upload_id: str,
        requested: Sequence[tuple[int, str]],
    ) -> StoredObject:
        with self._records.transaction() as tx:
            upload = self._upload(tx, requester.account, bucket, key, upload_id)
            parts = assemble(requested, tx.parts(upload_id))
        blob = self._blobs.concatenate(p.blob for p in parts)
        now = self._clock.now().timestamp()
        size = sum(p.size for p in parts)
        etag = multipart_etag([p.md5 for p in parts])
        item = StoredObject(bucket, key, blob, size, etag, now, upload.headers, len(parts))
        try:
            with self._records.transaction() as tx:
                self._upload(tx, requester.account, bucket, key, upload_id)
                # The parts may have changed since they were joined (a part uploaded again).
                if [p.blob for p in assemble(requested, tx.parts(upload_id))] != [
                    p.blob for p in parts
                ]:
                    raise NoSuchUpload(upload_id)
                found = owned_bucket(tx, requester.account, bucket)
                old = tx.object(bucket, key)
                tx.put_object(item)
                part_blobs = tx.remove_upload(upload_id)
                queued = queue_events(
                    tx, found, EventName.COMPLETE_MULTIPART, key, requester, now, item
                )
        except BaseException:
            self._blobs.remove([blob])
            raise
        self._blobs.remove([*part_blobs, *([old.blob] if old is not None else [])])
        if queued:
            self._wake()
        return item

    def abort(self, account: str, bucket: str, key: str, upload_id: str) -> None:
        with self._records.transaction() as tx:
            self._upload(tx, account, bucket, key, upload_id)
            blobs = tx.remove_upload(upload_id)
        self._blobs.remove(blobs)

    def list_parts(
        self, account: str, bucket: str, key: str, upload_id: str, marker: int, max_parts: int
    ) -> PartPage:
        with self._records.transaction() as tx:
            upload = self._upload(tx, account, bucket, key, upload_id)
            parts = [p for n, p in tx.parts(upload_id).items() if n > marker]
        shown = parts[:max_parts]
        truncated = len(parts) > max_parts
        return PartPage(upload, shown, truncated, shown[-1].number if truncated and shown else None)
