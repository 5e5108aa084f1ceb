"""The outbox and its notifier over real stores and the shipped `RecordingTarget`: an upload's
notification is queued with the object and drained until the destination has it, and two
processes draining one outbox send each notification once. Every test runs on SQLite and on
PostgreSQL (the `stores` fixture): the outbox's contract suite (issue #24)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from gureum.aws.sql import Backend
from gureum.clock import ManualClock, SystemClock
from gureum.s3.domain.errors import NoSuchBucket
from gureum.s3.domain.objects import ObjectHeaders
from gureum.s3.services.buckets import BucketService
from gureum.s3.services.fakes import RecordingTarget
from gureum.s3.services.notifier import CLAIM_LEASE, Notifier
from gureum.s3.services.objects import ObjectService
from gureum.s3.services.ports import Requester
from gureum.s3.store.blobs import BlobStore
from gureum.s3.store.records import S3Records

ARN = "arn:aws:lambda:us-east-1:000000000000:function:f"
EVENTS = ["s3:ObjectCreated:*"]
WHO = Requester("000000000000", "us-east-1", "req-1")


def notifier_of(records: S3Records, target: RecordingTarget, clock: ManualClock) -> Notifier:
    return Notifier(records, target, None, clock)  # type: ignore[arg-type]  # the loop's default


def build(
    stores: Callable[[], Backend], tmp_path: Path, target: RecordingTarget
) -> tuple[ObjectService, Notifier, S3Records]:
    records = S3Records(stores())
    blobs = BlobStore(tmp_path / "blobs")
    notifier = notifier_of(records, target, ManualClock())
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


def test_a_notification_waits_in_the_outbox_until_delivered(
    stores: Callable[[], Backend], tmp_path: Path
) -> None:
    target = RecordingTarget({ARN}, failures=2)
    objects, notifier, records = build(stores, tmp_path, target)
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


def test_a_notification_for_a_deleted_function_is_dropped(
    stores: Callable[[], Backend], tmp_path: Path
) -> None:
    target = RecordingTarget({ARN})
    objects, notifier, records = build(stores, tmp_path, target)
    target.functions.clear()
    objects.put(WHO, "bkt", "k", BlobStore(tmp_path / "blobs").spool_bytes(b"x"), ObjectHeaders())
    assert asyncio.run(notifier.drain())
    assert (outbox(records), target.delivered) == (0, [])


def test_a_failed_write_queues_nothing(stores: Callable[[], Backend], tmp_path: Path) -> None:
    objects, _, records = build(stores, tmp_path, RecordingTarget({ARN}))
    body = BlobStore(tmp_path / "blobs").spool_bytes(b"x")
    with pytest.raises(NoSuchBucket):
        objects.put(WHO, "no-such-bucket", "k", body, ObjectHeaders())
    assert outbox(records) == 0


def queue(records: S3Records, count: int) -> None:
    with records.transaction() as tx:
        for n in range(count):
            tx.queue(WHO.account, WHO.region, ARN, b"{}", f"request-{n}")


def test_two_processes_draining_one_outbox_send_each_notification_once(
    stores: Callable[[], Backend],
) -> None:
    target = RecordingTarget({ARN})
    clock = ManualClock()
    # Two servers on the same databases, as in a cluster: each its own store and notifier.
    first, second = S3Records(stores()), S3Records(stores())
    queue(first, 350)

    async def drain_both() -> None:
        ends = await asyncio.gather(
            notifier_of(first, target, clock).drain(), notifier_of(second, target, clock).drain()
        )
        assert list(ends) == [True, True]

    asyncio.run(drain_both())
    sent = sorted(request_id for _, _, request_id in target.delivered)
    assert sent == sorted(f"request-{n}" for n in range(350))
    assert outbox(first) == 0


def test_the_claim_of_a_process_that_died_ends_with_its_lease(
    stores: Callable[[], Backend],
) -> None:
    target = RecordingTarget({ARN})
    clock = ManualClock()
    dead = S3Records(stores())
    queue(dead, 3)
    now = clock.now().timestamp()
    with dead.transaction() as tx:  # claimed by a process killed before it sent any
        assert len(tx.claim(now, now + CLAIM_LEASE, 2)) == 2
    records = S3Records(stores())
    notifier = notifier_of(records, target, clock)
    assert asyncio.run(notifier.drain())
    assert [request_id for _, _, request_id in target.delivered] == ["request-2"]
    clock.advance(CLAIM_LEASE)
    assert asyncio.run(notifier.drain())
    sent = [request_id for _, _, request_id in target.delivered]
    assert sent == ["request-2", "request-0", "request-1"]
    assert outbox(records) == 0


def test_a_sole_sender_ends_every_claim_at_once(stores: Callable[[], Backend]) -> None:
    target = RecordingTarget({ARN})
    clock = ManualClock()
    killed = S3Records(stores())
    queue(killed, 2)
    now = clock.now().timestamp()
    with killed.transaction() as tx:
        tx.claim(now, now + CLAIM_LEASE, 2)
    restarted = S3Records(stores())
    with restarted.transaction() as tx:  # what the embedded default's S3 does as it starts
        tx.release_all()
    assert asyncio.run(notifier_of(restarted, target, clock).drain())
    assert [request_id for _, _, request_id in target.delivered] == ["request-0", "request-1"]
