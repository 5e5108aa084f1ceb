"""SQS-compatible queues: durable in their store (SQLite or PostgreSQL), timed by the clock port.

`QueueService` is the control plane (create, list, attributes, tags, purge, delete) and owns the
store; its `messages` (`MessageService`) send, receive and delete messages on the same store.
Every delay SQS applies on its own, the purge interval included, runs on the clock port and is
multiplied by `time_scale` (DESIGN.md "Time").

`send` and `exists` are the port Lambda's asynchronous invocation uses for dead-letter queues and
destinations. Every method blocks on the store (a commit per call): call them from worker threads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from gureum.aws.errors import ClientError
from gureum.aws.sql import Backend
from gureum.clock import Clock
from gureum.sqs.domain.errors import PurgeQueueInProgress, QueueDoesNotExist, invalid_parameter
from gureum.sqs.domain.messages import Message, MessageAttribute
from gureum.sqs.domain.queues import (
    DEFAULTS,
    Queue,
    QueueKey,
    attribute_view,
    canonical_attributes,
    check_queue_name,
    check_same_attributes,
    key_from_arn,
    list_page,
    parse_redrive_policy,
    with_changes,
)
from gureum.sqs.services.messages import MessageService, OutgoingMessage, Timeline
from gureum.sqs.services.waiters import Waiters
from gureum.sqs.store.queues import QueueStore, QueueTransaction

PURGE_INTERVAL = 60  # seconds between two PurgeQueue calls on one queue


class QueueService:
    """SQS's queues and messages for every account and region, on one store."""

    def __init__(self, stores: Backend, clock: Clock, time_scale: float, endpoint: str) -> None:
        self._store = QueueStore(stores)
        self._timeline = Timeline(clock, time_scale)
        self._endpoint = endpoint
        self._waiters = Waiters()
        self._purged: dict[int, float] = {}  # queue id -> last purge; used under the store lock
        self.messages = MessageService(self._store, self._timeline, self._waiters)

    def url(self, key: QueueKey, endpoint: str | None = None) -> str:
        """The queue's URL at `endpoint`, by default the endpoint gureum serves on."""
        return key.url(endpoint or self._endpoint)

    def close(self) -> None:
        self._store.close()

    # queues -------------------------------------------------------------------------------

    def create_queue(
        self, key: QueueKey, attributes: Mapping[str, str], tags: Mapping[str, str]
    ) -> Queue:
        """Creates the queue, or returns the existing one if every given attribute agrees."""
        check_queue_name(key.name)
        requested = canonical_attributes(attributes)
        with self._store.transaction() as tx:
            existing = tx.queue(key)
            if existing is not None:
                check_same_attributes(existing.attributes, requested)
                return existing
            self._check_redrive(tx, attributes)
            merged = with_changes(DEFAULTS, requested)
            return tx.add_queue(key, self._timeline.now(), merged, tags)

    @staticmethod
    def _check_redrive(tx: QueueTransaction, requested: Mapping[str, str]) -> None:
        """A redrive policy must name an existing queue (`requested` as the caller sent it)."""
        document = requested.get("RedrivePolicy")
        if document:
            target = key_from_arn(parse_redrive_policy(document).target_arn)
            if target is None or tx.queue(target) is None:
                raise invalid_parameter(
                    "RedrivePolicy", document, "Dead letter target does not exist."
                )

    def get_queue(self, key: QueueKey) -> Queue:
        with self._store.transaction() as tx:
            return tx.require(key)

    def list_queues(
        self,
        account: str,
        region: str,
        prefix: str = "",
        token: str | None = None,
        max_results: int | None = None,
    ) -> tuple[list[QueueKey], str | None]:
        """One page of the account's queues in the region, by name; and the next page's token."""
        with self._store.transaction() as tx:
            queues = tx.queues(account, region)
        names = [q.key.name for q in queues if q.key.name.startswith(prefix)]
        page, next_token = list_page(names, token, max_results)
        return [QueueKey(account, region, name) for name in page], next_token

    def dead_letter_sources(self, key: QueueKey) -> list[QueueKey]:
        """The queues whose RedrivePolicy targets `key`."""
        with self._store.transaction() as tx:
            tx.require(key)
            queues = tx.queues(key.account, key.region)
        return [q.key for q in queues if (p := q.redrive_policy) and p.target_arn == key.arn]

    def get_attributes(self, key: QueueKey, names: Iterable[str]) -> dict[str, str]:
        now = self._timeline.now()
        with self._store.transaction() as tx:
            queue = tx.require(key)
            tx.expire(queue.id, self._timeline.after(now, -queue.retention_period))
            return attribute_view(queue, tx.counts(queue.id, now), names)

    def set_attributes(self, key: QueueKey, attributes: Mapping[str, str]) -> None:
        changes = canonical_attributes(attributes)
        with self._store.transaction() as tx:
            queue = tx.require(key)
            self._check_redrive(tx, attributes)
            merged = with_changes(queue.attributes, changes)
            tx.save_queue(replace(queue, attributes=merged, modified=self._timeline.now()))

    def tag_queue(self, key: QueueKey, tags: Mapping[str, str]) -> None:
        with self._store.transaction() as tx:
            queue = tx.require(key)
            tx.save_queue(replace(queue, tags={**queue.tags, **tags}))

    def untag_queue(self, key: QueueKey, tag_keys: Iterable[str]) -> None:
        removed = set(tag_keys)
        with self._store.transaction() as tx:
            queue = tx.require(key)
            kept = {k: v for k, v in queue.tags.items() if k not in removed}
            tx.save_queue(replace(queue, tags=kept))

    def delete_queue(self, key: QueueKey) -> None:
        with self._store.transaction() as tx:
            tx.delete_queue(tx.require(key))
        self._waiters.wake(key)

    def purge_queue(self, key: QueueKey) -> None:
        """Deletes every message; SQS allows one purge per queue every 60 seconds."""
        now = self._timeline.now()
        with self._store.transaction() as tx:
            queue = tx.require(key)
            last = self._purged.get(queue.id)
            if last is not None and now < self._timeline.after(last, PURGE_INTERVAL):
                raise PurgeQueueInProgress(
                    f"Only one PurgeQueue operation on {key.name} is allowed every "
                    f"{PURGE_INTERVAL} seconds."
                )
            self._purged[queue.id] = now
            tx.purge(queue.id)

    # browsing and redriving (the console) ------------------------------------------------

    def browse(self, key: QueueKey, limit: int = 50) -> list[Message]:
        """Up to `limit` of the queue's messages, oldest first, in flight or not, without
        receiving them: nothing about them changes (no receive count, no visibility)."""
        now = self._timeline.now()
        with self._store.transaction() as tx:
            queue = tx.require(key)
            tx.expire(queue.id, self._timeline.after(now, -queue.retention_period))
            return [stored.message for stored in tx.browse(queue.id, limit)]

    def redrive(self, key: QueueKey) -> int:
        """Moves the visible messages of dead-letter queue `key` back to the queues they
        dead-lettered from (as StartMessageMoveTask without a destination); returns how many
        moved. A message whose source queue is gone stays. Refused, as SQS refuses it, for a
        queue no RedrivePolicy names."""
        now = self._timeline.now()
        moved: set[QueueKey] = set()
        count = 0
        with self._store.transaction() as tx:
            queue = tx.require(key)
            sources = [
                q
                for q in tx.queues(key.account, key.region)
                if (p := q.redrive_policy) and p.target_arn == key.arn
            ]
            if not sources:
                raise invalid_parameter(
                    "SourceArn", key.arn, "Source queue must be configured as a Dead Letter Queue."
                )
            by_arn = {q.key.arn: q for q in sources}
            for stored in tx.due(queue.id, now, 1 << 30):
                source = by_arn.get(stored.message.dead_letter_source or "")
                if source is not None:
                    tx.move_back(stored.seq, source.id, now)
                    moved.add(source.key)
                    count += 1
        for source_key in moved:
            self._waiters.wake(source_key)
        return count

    # the port Lambda's asynchronous invocation uses ---------------------------------------

    def send(
        self,
        account: str,
        region: str,
        queue_arn: str,
        body: str,
        attributes: Mapping[str, tuple[str, str]],
        sender: str | None = None,
        trace_header: str | None = None,
    ) -> str:
        """Sends a message to the queue named by its ARN; attributes map name -> (type, value).

        `sender` is the message's `SenderId` (a role's session when a service sends as a role);
        None: the account. Returns the message id; raises QueueDoesNotExist when the ARN names
        no queue, and SQS's error for a message it would refuse (too large, bad characters).
        `trace_header`: the sender's X-Ray trace header, kept as the message's AWSTraceHeader.
        """
        key = key_from_arn(queue_arn)
        if key is None:
            raise QueueDoesNotExist()
        outgoing = OutgoingMessage(
            body,
            {
                name: MessageAttribute(kind, None, value.encode())
                if kind.startswith("Binary")
                else MessageAttribute(kind, value)
                for name, (kind, value) in attributes.items()
            },
            system=_trace_attribute(trace_header),
        )
        result = self.messages.send_messages(key, [outgoing], sender=sender or account)[0]
        if isinstance(result, ClientError):
            raise result
        return result.message_id

    def exists(self, account: str, region: str, queue_arn: str) -> bool:
        """Whether `queue_arn` names an existing queue (checked when a destination is set)."""
        key = key_from_arn(queue_arn)
        if key is None:
            return False
        with self._store.transaction() as tx:
            return tx.queue(key) is not None


def _trace_attribute(trace_header: str | None) -> dict[str, MessageAttribute]:
    """The AWSTraceHeader system attribute of a message sent with `trace_header`."""
    if not trace_header:
        return {}
    return {"AWSTraceHeader": MessageAttribute("String", trace_header)}
