"""Drains the notification outbox into the destination (Lambda's durable event queue).

A row leaves the outbox only after the destination has accepted its event durably, so a crash
anywhere loses none: after a restart the loop sends what is left. The one window in which a
notification can be sent twice is between the destination's commit and the row's removal; its
invocation then carries the same request id (S3 itself delivers at least once). A destination
that is gone drops its notifications (logged); any other failure is retried after a pause. The
loop is owned by S3's assembly: started with it, cancelled when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import Executor

from gureum.s3.services.ports import NotificationTarget, UndeliverableNotification
from gureum.s3.store.records import Outgoing, S3Records

log = logging.getLogger("gureum.s3.notifier")
BATCH = 100
RETRY_PAUSE = 1.0  # seconds before a failed delivery is tried again
IDLE_PAUSE = 5.0  # seconds between looks at the outbox when nothing woke the loop


class Notifier:
    def __init__(self, records: S3Records, target: NotificationTarget, executor: Executor) -> None:
        self._records = records
        self._target = target
        self._executor = executor
        self._loop: asyncio.AbstractEventLoop | None = None
        self._due: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Thread-safe: outbox rows were committed, send them now."""
        loop, due = self._loop, self._due
        if loop is not None and due is not None and not loop.is_closed():
            loop.call_soon_threadsafe(due.set)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._due = asyncio.Event()
        self._due.set()  # what a previous run left in the outbox
        self._task = self._loop.create_task(self._run(), name="s3-notifier")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        assert self._due is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._due.wait(), IDLE_PAUSE)
            self._due.clear()
            try:
                if not await self.drain():
                    await asyncio.sleep(RETRY_PAUSE)
                    self._due.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("draining S3's notification outbox failed; retrying")
                await asyncio.sleep(RETRY_PAUSE)
                self._due.set()

    async def drain(self) -> bool:
        """Sends what the outbox holds; False when a delivery failed and must be retried. A
        batch is sent at once: the destination commits it together (Lambda's group commit)."""
        loop = asyncio.get_running_loop()
        while True:
            batch = await loop.run_in_executor(self._executor, self._outgoing)
            if not batch:
                return True
            outcomes = await asyncio.gather(*(self._send(item) for item in batch))
            done = [item.id for item, ok in zip(batch, outcomes, strict=True) if ok]
            await loop.run_in_executor(self._executor, self._sent, done)
            if len(done) < len(batch):
                return False

    async def _send(self, item: Outgoing) -> bool:
        """Whether `item` is finished with: delivered, or dropped for good."""
        try:
            await self._target.deliver(
                item.account,
                item.region,
                item.function_arn,
                item.payload,
                item.request_id,
                item.trace_header,
            )
        except UndeliverableNotification:
            log.warning(
                "dropping an S3 notification for %s: the function does not exist",
                item.function_arn,
            )
        except Exception:
            log.warning(
                "an S3 notification for %s failed; retrying", item.function_arn, exc_info=True
            )
            return False
        return True

    def _outgoing(self) -> list[Outgoing]:
        with self._records.transaction() as tx:
            return tx.outgoing(BATCH)

    def _sent(self, ids: list[int]) -> None:
        with self._records.transaction() as tx:
            for outgoing_id in ids:
                tx.sent(outgoing_id)
