"""Asynchronous invocation, accepting: the durable event queue (spec 5.1).

`EventQueue.accept` returns only once the event is committed to the store (the 202 means "on
disk"). Every write to the queue (accepts, and the delivery workers' finishes and reschedules)
that arrives while a commit is in flight is committed together in the next one (group commit),
so thousands per second stay durable with one fsync per batch. Delivery's writes join the same
batches rather than commit one by one: otherwise each delivered event pays a commit of its own,
and an accept waits for the store behind all of them. The delivery workers
(`gureum.lambda_.services.delivery`) take the committed events from the store.

The loop writes each batch itself, and leaves only its COMMIT (`synchronous=FULL`: the one
fsync of the batch) to a thread of the queue's own, so that it goes on parsing the next accepts
meanwhile instead of stalling for the fsync (milliseconds, when other work shares the disk). A
worker thread doing the whole transaction was much worse: it needs the GIL back after every
SQLite step (one per row), and waits for it each time while the loop is busy, so a 0.3 ms
commit took 3 ms and more, and the GIL's back and forth cost the loop CPU besides. One hand-off
each way per batch is what is left. The COMMIT thread is the queue's own, not one of the shared
workers: the batch holds the store until it commits, and the shared workers may all be waiting
for the store (control-plane calls, delivery's reads of configurations), with the COMMIT queued
behind them for good. While a control-plane transaction holds the store, the batch goes to a
shared worker whole, so the loop never stops behind one. The delivery loop's reads of the queue
run on the loop too (`run`), after the COMMIT in flight.

A store across the network (PostgreSQL) has a `LoopQueue` instead: the loop sends each batch
whole and awaits its answer, and the delivery loop's reads go the same way (`due`, `next_due`);
no thread takes part (see `postgres_queue`).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from gureum.aws.errors import ServiceError
from gureum.lambda_.domain.retries import Progress, QueuedEvent
from gureum.lambda_.store.ports import (
    LoopQueue,
    QueueStore,
    QueueWrites,
    StoreBusy,
    Transaction,
)


@dataclass(frozen=True, slots=True)
class _Finish:
    event_id: int


@dataclass(frozen=True, slots=True)
class _Reschedule:
    event_id: int
    due_at: float
    progress: Progress


# One write to the queue, applied inside a batch's transaction; an accept is its event (a
# batch's accepts are inserted in one statement).
Write = QueuedEvent | _Finish | _Reschedule
# Accepts "arrive" (and delivery narrows, see `Delivery._round`) at 500/s and more.
ACCEPTING_WINDOW = 0.1  # seconds
ACCEPTING_COUNT = 50  # accepts in a window
T = TypeVar("T")
STOPPED = "An internal error occurred: the event queue stopped before the write was known done."


class EventQueue:
    """Durable writes to the event queue, committed in groups (event loop only)."""

    def __init__(
        self, store: QueueStore, executor: Executor, on_loop: LoopQueue | None = None
    ) -> None:
        self._store = store
        self._executor = executor
        self._on_loop = on_loop
        # Set to the delivery loop's wake-up once it exists: committed events are due now.
        self.on_commit: Callable[[], None] = lambda: None
        self._pending: list[tuple[Write, asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None
        # Runs the COMMITs of prepared batches, nothing else (see the module docstring).
        self._committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gureum-commit")
        # The COMMIT in flight on a worker thread, if any: it holds the store until it is done.
        self._committing: asyncio.Future[None] | None = None
        # The batch in flight through the loop writer, if any.
        self._writing: asyncio.Future[None] | None = None
        # Accepts counted in windows of ACCEPTING_WINDOW seconds: this one, and whether the one
        # before had ACCEPTING_COUNT of them.
        self._window_start = -2 * ACCEPTING_WINDOW
        self._window_count = 0
        self._previous_busy = False

    def accepting(self) -> bool:
        """Whether accepts arrive fast enough to compete with delivery for the event loop
        (ACCEPTING_COUNT in a window of ACCEPTING_WINDOW s, this one or the one before): a
        trickle does not hold delivery back."""
        elapsed = time.monotonic() - self._window_start
        if elapsed >= 2 * ACCEPTING_WINDOW:
            return False
        if elapsed >= ACCEPTING_WINDOW:
            return self._window_count >= ACCEPTING_COUNT
        return self._previous_busy or self._window_count >= ACCEPTING_COUNT

    def _count_accept(self) -> None:
        now = time.monotonic()
        elapsed = now - self._window_start
        if elapsed >= ACCEPTING_WINDOW:
            self._previous_busy = (
                elapsed < 2 * ACCEPTING_WINDOW and self._window_count >= ACCEPTING_COUNT
            )
            self._window_start, self._window_count = now, 0
        self._window_count += 1

    async def drain(self) -> None:
        """Waits until every write made so far is committed or has failed: at shutdown, once
        nothing writes any more, before `close`. A delivery's finish cut off there would have
        its event delivered again after the restart."""
        while in_flight := {
            task for task in (self._flushing, self._writing) if task and not task.done()
        }:
            await asyncio.wait(in_flight)

    def close(self) -> None:
        """Waits for the COMMIT in flight on the queue's thread, if any, and ends the loop
        writer's session; after `drain`."""
        self._committer.shutdown(wait=True)
        if self._on_loop is not None:
            self._on_loop.close()

    async def accept(self, event: QueuedEvent) -> None:
        """Returns once `event` is committed: the caller answers 202 after this."""
        self._count_accept()
        await self._write(event)

    async def finish(self, event_id: int) -> None:
        """Removes a delivered (or given up) event; returns once that is committed."""
        await self._write(_Finish(event_id))

    async def reschedule(self, event_id: int, due_at: float, progress: Progress) -> None:
        await self._write(_Reschedule(event_id, due_at, progress))

    async def _write(self, write: Write) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._pending.append((write, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = loop.create_task(self._flush())
        await future

    async def due(self, now: float, limit: int, busy: set[int]) -> list[QueuedEvent]:
        """Takes the events due by `now` (at most `limit`, none of `busy`): the delivery loop's
        read of each round."""
        if self._on_loop is not None:
            return await self._on_loop.due(now, limit, busy)
        return await self.run(lambda tx: tx.due_events(now, limit, busy))

    async def depths(self) -> dict[tuple[str, str], int]:
        """The queue's depths by (account, region): a count of the whole queue, so the
        delivery loop asks it now and then, not every round (see `Delivery._count`)."""
        if self._on_loop is not None:
            return await self._on_loop.depths()
        return await self.run(lambda tx: tx.queue_depths())

    async def next_due(self) -> float | None:
        if self._on_loop is not None:
            return await self._on_loop.next_due()
        return await self.run(lambda tx: tx.next_due())

    async def run(self, work: Callable[[Transaction], T]) -> T:
        """Runs `work` in one queue transaction: on the loop's thread if the store is free,
        else on a worker thread (see the module docstring). `work` must be short: reads of the
        queue (writes go through `accept`, `finish`, `reschedule`)."""
        while self._committing is not None and not self._committing.done():
            await asyncio.wait({self._committing})  # our own COMMIT holds the store: not long
        try:
            with self._store.queue_transaction(wait=False) as tx:
                return work(tx)
        except StoreBusy:
            pass

        def waiting() -> T:
            with self._store.queue_transaction() as tx:
                return work(tx)

        return await asyncio.get_running_loop().run_in_executor(self._executor, waiting)

    async def _flush(self) -> None:
        batch: list[tuple[Write, asyncio.Future[None]]] = []
        try:
            while self._pending:
                if self._committing is not None or self._writing is not None:
                    # A turn of the loop between batches: the reads that waited for the last
                    # COMMIT (SQLite's) go first (else a steady stream of accepts would starve
                    # the delivery loop), and the next batch grows meanwhile.
                    await asyncio.sleep(0)
                batch, self._pending = self._pending, []
                await self._flush_batch(batch)
        except asyncio.CancelledError:
            # The flush itself is stopped (the loop is closing): the callers of its batch, and
            # those waiting for the next, hear an error rather than nothing, ever.
            stopped, self._pending = [*batch, *self._pending], []
            for _, future in stopped:
                if not future.done():
                    future.set_exception(ServiceError(STOPPED))
            raise

    async def _flush_batch(self, batch: list[tuple[Write, asyncio.Future[None]]]) -> None:
        writes = [w for w, _ in batch]
        try:
            if self._on_loop is not None:
                failed = await self._write_on_loop(self._on_loop, writes)
            else:
                failed = await self._commit_batch(
                    functools.partial(self._write_batch, writes=writes)
                )
        except Exception as exc:  # the callers get the failure (nothing was stored, or on a
            # connection lost during the COMMIT, perhaps all of it: an error, never a loss)
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for index, (_, future) in enumerate(batch):
            if not future.done():
                if index in failed:
                    future.set_exception(failed[index])
                else:
                    future.set_result(None)
        self.on_commit()

    async def _commit_batch(
        self, work: Callable[[Transaction], dict[int, Exception]]
    ) -> dict[int, Exception]:
        loop = asyncio.get_running_loop()
        try:
            failed, prepared = self._store.prepare_queue(work, wait=False)
        except StoreBusy:  # a control-plane transaction holds the store: all of it elsewhere

            def whole() -> dict[int, Exception]:
                with self._store.queue_transaction() as tx:
                    return work(tx)

            return await loop.run_in_executor(self._executor, whole)
        try:
            self._committing = loop.run_in_executor(self._committer, prepared.commit)
        except BaseException:  # no worker thread to be had (shutting down): nothing stored
            prepared.rollback()
            raise
        # Shielded: a cancelled flush must not cancel a COMMIT that has not started yet, which
        # would leave the store held for good.
        await asyncio.shield(self._committing)
        return failed

    async def _write_on_loop(self, writer: LoopQueue, writes: list[Write]) -> dict[int, Exception]:
        """The batch through the store's loop writer: all of it or nothing (never one write's
        failure alone)."""
        data = QueueWrites()
        for write in writes:
            if isinstance(write, QueuedEvent):
                data.enqueue.append(write)
            elif isinstance(write, _Finish):
                data.finish.append(write.event_id)
            else:
                data.reschedule.append((write.event_id, write.due_at, write.progress))
        # One batch at a time on the writer's session: after a cancelled flush, the batch it
        # left running (shielded, below) finishes first.
        while self._writing is not None and not self._writing.done():
            await asyncio.wait({self._writing})
        # Shielded, and kept: a cancelled flush leaves the batch to finish on its own rather
        # than leave the writer's session with a statement whose answer nobody reads.
        self._writing = asyncio.ensure_future(writer.write(data))
        await asyncio.shield(self._writing)
        return {}

    @staticmethod
    def _write_batch(tx: Transaction, writes: list[Write]) -> dict[int, Exception]:
        """Writes the batch in `tx`; returns the writes that failed alone (by index).

        A failed finish or reschedule (one statement, which SQLite undoes by itself) is its
        caller's alone: the rest of the batch is still committed. A failed insert of the
        accepts, or a failed COMMIT, fails the whole batch with nothing stored. On PostgreSQL a
        failed statement ends the whole transaction (its COMMIT raises `RolledBack`), so there
        it fails the whole batch: every caller hears of it, and no accept is answered that was
        not stored."""
        events = [w for w in writes if isinstance(w, QueuedEvent)]
        failed: dict[int, Exception] = {}
        if events:
            tx.enqueue(events)
        for index, write in enumerate(writes):
            try:
                if isinstance(write, _Finish):
                    tx.finish_event(write.event_id)
                elif isinstance(write, _Reschedule):
                    tx.reschedule(write.event_id, write.due_at, write.progress)
            except Exception as exc:
                failed[index] = exc
        return failed
