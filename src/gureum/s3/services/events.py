"""The notifications one change to an object causes, queued in the outbox in the transaction
that makes the change visible (so a crash can lose neither without the other)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from gureum.s3.domain.buckets import Bucket
from gureum.s3.domain.notifications import EventName, ObjectEvent, payload, sequencer
from gureum.s3.domain.objects import StoredObject
from gureum.s3.services.ports import Requester
from gureum.s3.store.records import S3Transaction

# Called after a commit that queued notifications: the notifier drains them now.
Wake = Callable[[], None]


def queue_events(
    tx: S3Transaction,
    bucket: Bucket,
    event: EventName,
    key: str,
    requester: Requester,
    now: float,
    item: StoredObject | None = None,
) -> int:
    """Queues one notification per configuration of `bucket` that `event` on `key` matches;
    returns how many."""
    configs = [c for c in tx.notifications(bucket.name) if c.matches(event, key)]
    if not configs:
        return 0
    happened = ObjectEvent(
        event,
        bucket.name,
        key,
        bucket.region,
        now,
        sequencer(tx.next_sequence()),
        requester.request_id,
        requester.principal or requester.account,
        requester.source_ip,
        item.size if item is not None else None,
        item.etag.strip('"') if item is not None else None,
    )
    for config in configs:
        tx.queue(
            bucket.account,
            bucket.region,
            config.function_arn,
            payload(happened, config.id),
            # The invocation's request id, the same however often the outbox is drained.
            str(uuid.uuid5(uuid.NAMESPACE_URL, f"s3:{happened.sequencer}:{config.id}")),
            requester.trace_header,
        )
    return len(configs)
