"""Drains the notification outbox into the destination (Lambda's durable event queue).

A row leaves the outbox only after the destination has accepted its event durably, so a crash
anywhere loses none: after a restart the loop sends what is left. A destination that is gone
drops its notifications (logged); any other failure is retried after a pause. The loop is owned
by S3's assembly: started with it, cancelled when it stops.

Every process of a cluster runs this loop over the one outbox (on PostgreSQL), so each batch is
claimed first, for `CLAIM_LEASE` seconds, in one of the store's transactions (which run one at a
time across processes): another process's loop skips the claimed rows, and a row is sent by one
process only. The rows a process could not send are released at once; those of a process that
died while sending are claimed again once their lease ends, by any process, the restarted one
included (in the embedded default, where a restarted process is the outbox's only sender, at
once: S3's assembly ends every claim as it starts). So a notification is sent twice only if a
crash falls between the destination's commit and the row's removal, or if a delivery outlasts
its lease; its invocation then carries the same request id (S3 itself delivers at least once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import Executor

from gureum.clock import Clock
from gureum.s3.services.ports import NotificationTarget, UndeliverableNotification
from gureum.s3.store.records import Outgoing, S3Records

log = logging.getLogger("gureum.s3.notifier")
BATCH = 100
RETRY_PAUSE = 1.0  # seconds before a failed delivery is tried again
IDLE_PAUSE = 5.0  # seconds between looks at the outbox when nothing woke the loop
# Seconds a claimed batch is this process's to send: far longer than a batch takes to reach
# Lambda's event queue, short enough that a dead process's batch is not held up for long. Claims
# are wall-clock times, so a cluster's hosts must keep their clocks close (NTP).
CLAIM_LEASE = 30.0


class Notifier:
    def __init__(
        self, records: S3Records, target: NotificationTarget, executor: Executor, clock: Clock
    ) -> None:
        self._records = records
        self._target = target
        self._executor = executor
        self._clock = clock
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
        """Sends what the outbox holds (what no other process is sending); False when a delivery
        failed and must be retried. A batch is sent at once: the destination commits it
        together (Lambda's group commit)."""
        loop = asyncio.get_running_loop()
        while True:
            batch = await loop.run_in_executor(self._executor, self._claim)
            if not batch:
                return True
            outcomes = await asyncio.gather(*(self._send(item) for item in batch))
            done = [item.id for item, ok in zip(batch, outcomes, strict=True) if ok]
            failed = [item.id for item, ok in zip(batch, outcomes, strict=True) if not ok]
            await loop.run_in_executor(self._executor, self._settle, done, failed)
            if failed:
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

    def _claim(self) -> list[Outgoing]:
        now = self._clock.now().timestamp()
        with self._records.transaction() as tx:
            return tx.claim(now, now + CLAIM_LEASE, BATCH)

    def _settle(self, done: list[int], failed: list[int]) -> None:
        with self._records.transaction() as tx:
            for outgoing_id in done:
                tx.sent(outgoing_id)
            tx.release(failed)
