"""The pollers of SQS event source mappings: receive batches, invoke, delete what succeeded.

`Pollers.run` is one supervisor loop, owned by the Lambda assembly (cancelled on stop); each
poller is a task it starts and cancels. Each tick (or as soon as the control plane changed a
mapping) it reads every mapping from the store, settles Creating/Updating/Enabling/Disabling,
removes Deleting ones once their pollers stopped, and runs as many pollers per mapping as the
queue's backlog asks for, up to the mapping's concurrency. Mappings live in SQLite, so a
restarted server resumes polling them.

Invariants (never lose, never double-delete a message):
- a message is deleted only after the invocation that carried it succeeded (or reported it as
  no failure), or when no filter pattern matched it (AWS deletes those without invoking);
- deletes go through SQS's receipt handles, and only a message's latest handle deletes it, so a
  batch whose visibility timeout ran out (and was received again) is never deleted twice;
- a throttled invocation is retried with backoff while the batch is still hidden; after that
  the messages go back to the queue, and a failing one to the queue's redrive policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import replace
from typing import Any, TypeVar

from gureum.aws.errors import AwsError
from gureum.lambda_.domain import recursion
from gureum.lambda_.domain.arns import FunctionRef
from gureum.lambda_.domain.errors import RecursiveInvocation, ResourceNotFound, TooManyRequests
from gureum.lambda_.domain.event_sources import (
    FUNCTION_FAILED,
    FUNCTION_MISSING,
    OK,
    EventSourceMapping,
    MappingState,
    QueuedMessage,
    handles_to_delete,
    pollers_wanted,
    split_batch,
    sqs_record,
)
from gureum.lambda_.sandbox.environment import InvocationRequest
from gureum.lambda_.services.context import Caller
from gureum.lambda_.services.invoker import Invoker, check_invocable
from gureum.lambda_.store.event_sources import TriggerStore
from gureum.sqs.domain.queues import QueueKey, key_from_arn
from gureum.sqs.domain.receives import MAX_WAIT, SYSTEM_ATTRIBUTES, ReceiveOptions
from gureum.sqs.services.messages import Delivery
from gureum.sqs.services.queues import QueueService

log = logging.getLogger("gureum")
T = TypeVar("T")
RECEIVE_WAIT = 1  # real seconds a poller long-polls before it looks at its mapping again
THROTTLE_BACKOFF = (0.05, 2.0)  # first and largest back-off of a throttled batch (seconds)


def queued_message(delivery: Delivery) -> QueuedMessage:
    message = delivery.message
    return QueuedMessage(
        message.id,
        delivery.receipt_handle,
        message.body,
        int(message.sent * 1000),
        message.sender,
        message.receive_count,
        int((message.first_received or message.sent) * 1000),
        {n: (a.data_type, a.string_value, a.binary_value) for n, a in message.attributes.items()},
        message.trace_header,
    )


class Pollers:
    """Every mapping's pollers, under one supervisor loop."""

    def __init__(
        self,
        store: TriggerStore,
        queues: QueueService,
        invoker: Invoker,
        executor: Executor,
        now: Callable[[], float],
        time_scale: float,
    ) -> None:
        self._store = store
        self._queues = queues
        self._invoker = invoker
        self._executor = executor
        self._now = now
        self._scale = time_scale
        self._current: dict[str, EventSourceMapping] = {}
        self._wanted: dict[str, int] = {}
        self._tasks: dict[tuple[str, int], asyncio.Task[None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()

    def changed(self) -> None:
        """A mapping changed: look at it now (safe from any thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _db(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call, *args)

    # --- the supervisor ---------------------------------------------------------------------

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        interval = min(1.0, max(0.05, self._scale))
        try:
            while True:
                try:
                    await self._tick()
                except Exception:  # a fault in one tick must not stop every mapping
                    log.exception("event source mappings: tick failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), interval)
                self._wake.clear()
        finally:
            tasks = list(self._tasks.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._tasks.clear()

    def _read(self) -> list[EventSourceMapping]:
        with self._store.transaction() as tx:
            return tx.mappings()

    async def _tick(self) -> None:
        mappings = await self._db(self._read)
        seen = {m.uuid for m in mappings}
        for gone in set(self._current) - seen:
            self._current.pop(gone)
            self._wanted.pop(gone, None)
        for mapping in mappings:
            self._current[mapping.uuid] = mapping
            if mapping.state is MappingState.DELETING:
                self._wanted[mapping.uuid] = 0
                if not any(key[0] == mapping.uuid for key in self._tasks):
                    await self._db(self._remove, mapping.uuid)
                continue
            self._wanted[mapping.uuid] = await self._scale_of(mapping) if mapping.polling else 0
            if mapping.settling:
                await self._db(self._settle, mapping.uuid, mapping.state)
        self._reap()
        for mapping_id, wanted in self._wanted.items():
            for index in range(wanted):
                if (mapping_id, index) not in self._tasks:
                    task = asyncio.create_task(
                        self._poll(mapping_id, index), name=f"poller-{mapping_id}-{index}"
                    )
                    self._tasks[(mapping_id, index)] = task

    def _reap(self) -> None:
        for key, task in list(self._tasks.items()):
            if task.done():
                del self._tasks[key]
                if not task.cancelled() and (error := task.exception()) is not None:
                    log.error("poller %s stopped: %r", key[0], error)

    async def _scale_of(self, mapping: EventSourceMapping) -> int:
        key = key_from_arn(mapping.source_arn)
        if key is None:
            return 0
        try:
            counts = await self._db(
                self._queues.get_attributes, key, ["ApproximateNumberOfMessages"]
            )
        except AwsError:
            return 1  # the queue is gone: one poller notices and reports it
        depth = int(counts.get("ApproximateNumberOfMessages", "0"))
        return pollers_wanted(depth, mapping.settings.batch_size, mapping.settings.ceiling)

    def _settle(self, mapping_id: str, seen: MappingState) -> None:
        with self._store.transaction() as tx:
            mapping = tx.mapping(mapping_id)
            if mapping is not None and mapping.state is seen and mapping.settling:
                tx.save_mapping(mapping.settled(self._now()))

    def _remove(self, mapping_id: str) -> None:
        with self._store.transaction() as tx:
            mapping = tx.mapping(mapping_id)
            if mapping is not None and mapping.state is MappingState.DELETING:
                tx.delete_mapping(mapping_id)

    def _record(self, mapping_id: str, result: str) -> None:
        with self._store.transaction() as tx:
            mapping = tx.mapping(mapping_id)
            if mapping is not None and mapping.last_result != result:
                tx.save_mapping(replace(mapping, last_result=result))

    async def _result(self, mapping: EventSourceMapping, result: str) -> None:
        current = self._current.get(mapping.uuid, mapping)
        if current.last_result != result:
            self._current[mapping.uuid] = replace(current, last_result=result)
            await self._db(self._record, mapping.uuid, result)

    # --- one poller -------------------------------------------------------------------------

    async def _poll(self, mapping_id: str, index: int) -> None:
        while True:
            mapping = self._current.get(mapping_id)
            if mapping is None or index >= self._wanted.get(mapping_id, 0):
                return
            key = key_from_arn(mapping.source_arn)
            if key is None:
                return
            try:
                batch = await self._receive(mapping, key)
            except AwsError as error:  # the queue was deleted under the mapping
                log.warning("mapping %s: receive failed: %s", mapping_id, error.code)
                await asyncio.sleep(RECEIVE_WAIT)
                continue
            if batch:
                await self._process(mapping, key, batch)

    async def _receive(self, mapping: EventSourceMapping, key: QueueKey) -> list[Delivery]:
        """Up to BatchSize messages: one receive, or, with a batching window, receives until
        the batch is full or the window (scaled by --time-scale) has passed."""
        settings = mapping.settings
        batch: list[Delivery] = []
        loop = asyncio.get_running_loop()
        closes = loop.time() + settings.window * self._scale
        while len(batch) < settings.batch_size:
            remaining = closes - loop.time()
            if batch and remaining <= 0:
                break
            # Long-poll whole seconds (SQS's unit); the last fraction of a window is slept,
            # then looked at once, so a half-full batch never spins on empty receives.
            wait = RECEIVE_WAIT if not batch else min(MAX_WAIT, int(remaining))
            if batch and wait == 0:
                await asyncio.sleep(remaining)
            wanted = min(10, settings.batch_size - len(batch))
            options = ReceiveOptions(wanted, None, SYSTEM_ATTRIBUTES, ("All",))
            batch.extend(await self._queues.messages.receive_message(key, options, wait))
            if not batch or settings.window == 0:
                break
        return batch

    async def _process(
        self, mapping: EventSourceMapping, key: QueueKey, batch: list[Delivery]
    ) -> None:
        records = [sqs_record(queued_message(d), mapping.source_arn, mapping.region) for d in batch]
        kept, dropped = split_batch(records, mapping.settings.patterns)
        if dropped:
            await self._delete(key, [str(r["receiptHandle"]) for r in dropped])
        if not kept:
            return
        queue = await self._db(self._queues.get_queue, key)
        hidden_until = time.monotonic() + queue.visibility_timeout * self._scale
        payload = json.dumps({"Records": kept}).encode()
        traces = [record["attributes"].get("AWSTraceHeader") for record in kept]
        outcome = await self._invoke(mapping, payload, hidden_until, traces)
        if outcome is None:
            return  # left to the visibility timeout
        result_payload, function_error = outcome
        handles = handles_to_delete(
            kept, result_payload, function_error, mapping.settings.report_failures
        )
        if handles:
            await self._delete(key, handles)
        await self._result(mapping, FUNCTION_FAILED if function_error else OK)

    async def _invoke(
        self,
        mapping: EventSourceMapping,
        payload: bytes,
        hidden_until: float,
        traces: list[str | None],
    ) -> tuple[bytes, bool] | None:
        """Invokes synchronously; retries throttles with backoff while the batch is hidden.
        None: no invocation ran (the batch goes back to the queue on its own)."""
        caller = Caller(mapping.account, mapping.region)
        ref = FunctionRef(mapping.function_name, mapping.qualifier)
        delay = THROTTLE_BACKOFF[0]
        while True:
            try:
                target = self._invoker.target(caller, ref)
                check_invocable(target.version)
                # The batch continues the chain furthest along through this function.
                trace = recursion.most_recursive(traces, target.function.arn)
                request = InvocationRequest(
                    str(uuid.uuid4()), payload, target.invoked_arn, trace_id=trace
                )
                result = await self._invoker.run(target, request)
                return result.payload, result.function_error
            except RecursiveInvocation:
                # A loop: the batch is not invoked and goes back to the queue, whose redrive
                # policy moves it to its dead-letter queue past maxReceiveCount, as on AWS.
                return None
            except TooManyRequests:
                if time.monotonic() + delay >= hidden_until:
                    return None
                await asyncio.sleep(delay)
                delay = min(delay * 2, THROTTLE_BACKOFF[1])
            except ResourceNotFound:
                await self._result(mapping, FUNCTION_MISSING)
                await asyncio.sleep(RECEIVE_WAIT)
                return None
            except AwsError as error:
                log.info("mapping %s: invoke failed: %s", mapping.uuid, error.code)
                await asyncio.sleep(delay)
                return None

    async def _delete(self, key: QueueKey, handles: list[str]) -> None:
        errors = await self._db(self._queues.messages.delete_messages, key, handles)
        for error in errors:
            if error is not None:
                log.warning("deleting a message failed: %s", error.code)
