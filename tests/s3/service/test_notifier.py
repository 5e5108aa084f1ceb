"""The outbox and its notifier over real stores and the shipped `RecordingTarget`: an upload's
notification is queued with the object and drained until the destination has it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from gureum.clock import SystemClock
from gureum.s3.domain.errors import NoSuchBucket
from gureum.s3.domain.objects import ObjectHeaders
from gureum.s3.services.buckets import BucketService
from gureum.s3.services.fakes import RecordingTarget
from gureum.s3.services.notifier import Notifier
from gureum.s3.services.objects import ObjectService
from gureum.s3.services.ports import Requester
from gureum.s3.store.blobs import BlobStore
from gureum.s3.store.records import S3Records

ARN = "arn:aws:lambda:us-east-1:000000000000:function:f"
EVENTS = ["s3:ObjectCreated:*"]
WHO = Requester("000000000000", "us-east-1", "req-1")


def build(tmp_path: Path, target: RecordingTarget) -> tuple[ObjectService, Notifier, S3Records]:
    records = S3Records(tmp_path / "s3.sqlite3")
    blobs = BlobStore(tmp_path / "blobs")
    notifier = Notifier(records, target, None)  # type: ignore[arg-type]  # the loop's default
    buckets = BucketService(records, SystemClock(), target)
    buckets.create(WHO.account, WHO.region, "bkt", None)
    buckets.put_notifications(
        WHO.account,
        "bkt",
        {
            "LambdaFunctionConfigurations": [
                {"LambdaFunctionArn": ARN, "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    return ObjectService(records, blobs, SystemClock(), notifier.wake), notifier, records


def outbox(records: S3Records) -> int:
    with records.transaction() as tx:
        return len(tx.outgoing(100))


def test_a_notification_waits_in_the_outbox_until_delivered(tmp_path: Path) -> None:
    target = RecordingTarget({ARN}, failures=2)
    objects, notifier, records = build(tmp_path, target)
    blobs = BlobStore(tmp_path / "blobs")
    objects.put(WHO, "bkt", "k", blobs.spool_bytes(b"x"), ObjectHeaders())
    assert outbox(records) == 1  # committed with the object, before any delivery

    async def drain() -> None:
        assert not await notifier.drain()  # the destination failed: kept
        assert outbox(records) == 1
        assert not await notifier.drain()
        assert await notifier.drain()

    asyncio.run(drain())
    assert outbox(records) == 0
    ((arn, payload, request_id),) = target.delivered
    assert arn == ARN
    assert json.loads(payload)["Records"][0]["s3"]["object"]["key"] == "k"
    assert len(request_id) == 36  # a UUID, the same on every attempt


def test_a_notification_for_a_deleted_function_is_dropped(tmp_path: Path) -> None:
    target = RecordingTarget({ARN})
    objects, notifier, records = build(tmp_path, target)
    target.functions.clear()
    objects.put(WHO, "bkt", "k", BlobStore(tmp_path / "blobs").spool_bytes(b"x"), ObjectHeaders())
    assert asyncio.run(notifier.drain())
    assert (outbox(records), target.delivered) == (0, [])


def test_a_failed_write_queues_nothing(tmp_path: Path) -> None:
    objects, _, records = build(tmp_path, RecordingTarget({ARN}))
    body = BlobStore(tmp_path / "blobs").spool_bytes(b"x")
    with pytest.raises(NoSuchBucket):
        objects.put(WHO, "no-such-bucket", "k", body, ObjectHeaders())
    assert outbox(records) == 0
