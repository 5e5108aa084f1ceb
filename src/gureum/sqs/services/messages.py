"""Messages on SQS queues: sending, receiving (with long polling), deleting, re-hiding.

Invariants:
- A send is acknowledged only after its commit (`QueueStore`'s commits are durable).
- Delays SQS applies on its own (DelaySeconds, visibility timeouts, retention) run on the clock
  port, multiplied by `time_scale` (DESIGN.md "Time"); a long poll's WaitTimeSeconds is the
  client's own wait and is never scaled.
- A message is visible to one receive at a time; only its latest receipt handle deletes it.
- A message received `maxReceiveCount` times moves to the queue's dead-letter queue on the next
  receive, as SQS's redrive does.

Every method but `receive_message` blocks on the store: call them from worker threads.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from gureum.aws.errors import ClientError
from gureum.clock import Clock
from gureum.sqs.domain.errors import MessageNotInflight, ReceiptHandleIsInvalid, invalid_parameter
from gureum.sqs.domain.messages import (
    Message,
    MessageAttribute,
    check_delay,
    check_message,
    check_standard_message,
    check_trace_header,
    md5_of_attributes,
    md5_of_body,
)
from gureum.sqs.domain.queues import Queue, QueueKey, key_from_arn
from gureum.sqs.domain.receives import (
    MessageState,
    Receipt,
    ReceiveOptions,
    check_visibility,
    check_wait_time,
    message_state,
    parse_receipt,
)
from gureum.sqs.services.waiters import Waiter, Waiters
from gureum.sqs.store.queues import QueueStore, QueueTransaction

# How often a long poll looks whether another process committed to the store (a cluster on
# PostgreSQL): its sends cannot wake this process's waiters, but they move the generation.
FOLLOW_INTERVAL = 0.25


@dataclass(frozen=True, slots=True)
class Timeline:
    """The clock port in epoch seconds, and SQS's own delays scaled by `--time-scale`."""

    clock: Clock
    scale: float

    def now(self) -> float:
        return self.clock.now().timestamp()

    def after(self, now: float, seconds: float) -> float:
        return now + seconds * self.scale


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    body: str
    attributes: Mapping[str, MessageAttribute] = field(default_factory=dict)
    delay_seconds: int | None = None
    system: Mapping[str, MessageAttribute] = field(default_factory=dict)
    deduplication_id: str | None = None


@dataclass(frozen=True, slots=True)
class SentMessage:
    message_id: str
    md5_of_body: str
    md5_of_attributes: str | None
    md5_of_system_attributes: str | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One received message and the handle of this receive."""

    message: Message
    receipt_handle: str


@dataclass(frozen=True, slots=True)
class Received:
    deliveries: list[Delivery]
    next_visible: float | None  # when an empty queue may next show a message (epoch seconds)
    wait_seconds: int  # the queue's ReceiveMessageWaitTimeSeconds


class MessageService:
    """The message operations of every queue in one store."""

    def __init__(self, store: QueueStore, timeline: Timeline, waiters: Waiters) -> None:
        self._store = store
        self._timeline = timeline
        self._waiters = waiters

    # sending ------------------------------------------------------------------------------

    def send_messages(
        self, key: QueueKey, batch: Sequence[OutgoingMessage], sender: str
    ) -> list[SentMessage | ClientError]:
        """Sends each message in one commit; a message SQS would refuse gets its error instead."""
        now = self._timeline.now()
        results: list[SentMessage | ClientError] = []
        with self._store.transaction() as tx:
            queue = tx.require(key)
            for outgoing in batch:
                try:
                    results.append(self._add(tx, queue, outgoing, sender, now))
                except ClientError as error:
                    results.append(error)
        if any(isinstance(r, SentMessage) for r in results):
            self._waiters.wake(key)
        return results

    def _add(
        self, tx: QueueTransaction, queue: Queue, outgoing: OutgoingMessage, sender: str, now: float
    ) -> SentMessage:
        check_standard_message(outgoing.deduplication_id)
        check_message(outgoing.body, outgoing.attributes, queue.maximum_message_size)
        trace = check_trace_header(outgoing.system)
        delay = queue.delay_seconds
        if outgoing.delay_seconds is not None:
            delay = check_delay(outgoing.delay_seconds)
        message = Message(
            str(uuid.uuid4()), outgoing.body, now, sender, dict(outgoing.attributes), trace
        )
        tx.add_message(queue.id, message, self._timeline.after(now, delay))
        return SentMessage(
            message.id,
            md5_of_body(message.body),
            md5_of_attributes(message.attributes),
            message.md5_of_system_attributes,
        )

    # receiving ----------------------------------------------------------------------------

    def receive_now(self, key: QueueKey, options: ReceiveOptions) -> Received:
        """One receive without waiting: hides what it returns for the visibility timeout."""
        now = self._timeline.now()
        deliveries: list[Delivery] = []
        with self._store.transaction() as tx:
            queue = tx.require(key)
            tx.expire(queue.id, self._timeline.after(now, -queue.retention_period))
            redrive = queue.redrive_policy
            target_key = key_from_arn(redrive.target_arn) if redrive else None
            target = tx.queue(target_key) if target_key else None
            visibility = options.visibility_timeout
            hidden_until = self._timeline.after(
                now, queue.visibility_timeout if visibility is None else visibility
            )
            while len(deliveries) < options.max_messages:
                due = tx.due(queue.id, now, options.max_messages - len(deliveries))
                if not due:
                    break
                for stored in due:
                    message = stored.message
                    if redrive and target and redrive.exhausted(message.receive_count):
                        tx.move(stored.seq, target.id, now, key.arn)
                        continue
                    token = secrets.token_hex(16)
                    tx.mark_received(stored.seq, token, hidden_until, now)
                    received = replace(
                        message,
                        receive_count=message.receive_count + 1,
                        first_received=message.first_received or now,
                    )
                    handle = Receipt(queue.id, message.id, token).handle()
                    deliveries.append(Delivery(received, handle))
            next_visible = None if deliveries else tx.next_visible(queue.id)
        if target is not None:
            self._waiters.wake(target.key)
        return Received(deliveries, next_visible, queue.wait_time_seconds)

    async def receive_message(
        self, key: QueueKey, options: ReceiveOptions, wait_seconds: int | None = None
    ) -> list[Delivery]:
        """Receives, waiting up to `wait_seconds` (real seconds; by default the queue's
        ReceiveMessageWaitTimeSeconds) for a first message to arrive.

        Returns as soon as a send, a visibility timeout or a delay makes a message visible; the
        store work runs in the loop's default executor, so waiting never holds a thread. A send
        in this process wakes the wait at once; one in another process of a cluster (on
        PostgreSQL) moves the store's generation, which the wait looks at every
        `FOLLOW_INTERVAL`.
        """
        if wait_seconds is not None:
            check_wait_time(wait_seconds)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with self._waiters.registered(key) as waiter:
            while True:
                waiter.event.clear()
                generation = self._store.generation  # before the look: no later commit missed
                received = await loop.run_in_executor(None, self.receive_now, key, options)
                wait = received.wait_seconds if wait_seconds is None else wait_seconds
                remaining = started + wait - loop.time()
                if received.deliveries or remaining <= 0:
                    return received.deliveries
                if received.next_visible is not None:
                    remaining = min(
                        remaining, max(received.next_visible - self._timeline.now(), 0.001)
                    )
                await self._wait(waiter, remaining, generation)

    async def _wait(self, waiter: Waiter, timeout: float, generation: int) -> None:
        """Until `waiter` is woken, `timeout` seconds pass, or the store has moved on from
        `generation` (a commit in another process, which has no waiter here to wake)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._store.generation == generation and not waiter.event.is_set():
            left = deadline - loop.time()
            if left <= 0:
                return
            await waiter.wait(min(left, FOLLOW_INTERVAL))

    # after a receive ----------------------------------------------------------------------

    def _receipt(self, queue: Queue, handle: str) -> Receipt:
        receipt = parse_receipt(handle)
        if receipt.queue_id != queue.id:
            raise ReceiptHandleIsInvalid(
                f'The input receipt handle "{handle}" is not a valid receipt handle.'
            )
        return receipt

    def delete_messages(self, key: QueueKey, handles: Sequence[str]) -> list[ClientError | None]:
        """Deletes each message its latest receipt handle names; an older handle deletes nothing
        but still succeeds, as SQS documents for DeleteMessage."""
        results: list[ClientError | None] = []
        with self._store.transaction() as tx:
            queue = tx.require(key)
            for handle in handles:
                try:
                    receipt = self._receipt(queue, handle)
                except ClientError as error:
                    results.append(error)
                    continue
                stored = tx.find(queue.id, receipt.message_id)
                if stored is not None and stored.receipt == receipt.token:
                    tx.delete_message(stored.seq)
                results.append(None)
        return results

    def change_visibilities(
        self, key: QueueKey, changes: Sequence[tuple[str, int | None]]
    ) -> list[ClientError | None]:
        """Hides each received message for a new timeout from now (0 shows it at once)."""
        now = self._timeline.now()
        results: list[ClientError | None] = []
        with self._store.transaction() as tx:
            queue = tx.require(key)
            for handle, timeout in changes:
                try:
                    self._change_visibility(tx, queue, handle, timeout, now)
                    results.append(None)
                except ClientError as error:
                    results.append(error)
        if any(r is None for r in results):
            self._waiters.wake(key)
        return results

    def _change_visibility(
        self, tx: QueueTransaction, queue: Queue, handle: str, timeout: int | None, now: float
    ) -> None:
        receipt = self._receipt(queue, handle)
        seconds = check_visibility(timeout)
        stored = tx.find(queue.id, receipt.message_id)
        if stored is None or stored.receipt != receipt.token:
            raise invalid_parameter(
                "ReceiptHandle",
                handle,
                "Message does not exist or is not available for visibility timeout change.",
            )
        state = message_state(stored.visible_at, stored.message.receive_count, now)
        if state is not MessageState.IN_FLIGHT:
            raise MessageNotInflight("The specified message isn't in flight.")
        tx.set_visible_at(stored.seq, self._timeline.after(now, seconds))
