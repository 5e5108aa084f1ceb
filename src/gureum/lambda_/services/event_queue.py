"""Asynchronous invocation, accepting: the durable event queue (spec 5.1).

`EventQueue.accept` returns only once the event is committed to the store (the 202 means "on
disk"). Every write to the queue (accepts, and the delivery workers' finishes and reschedules)
that arrives while a commit is in flight is committed together in the next one (group commit),
so thousands per second stay durable with one fsync per batch. Delivery's writes join the same
batches rather than commit one by one: otherwise each delivered event pays a commit of its own,
and an accept waits for the store behind all of them. The delivery workers
(`gureum.lambda_.services.delivery`) take the committed events from the store.

A batch is committed on the event loop's own thread whenever no other thread holds the store
(`synchronous=FULL` still: one fsync per batch, during which SQLite lets go of the GIL). A
worker thread would be worse under load: it needs the GIL again after every SQLite step, and
while the loop is busy (delivering, parsing accepts) it waits up to the interpreter's switch
interval (5 ms) each time, so a 0.3 ms commit took 3 ms and more, and every accept of the batch
waited for it. Only when a control-plane transaction holds the store does the batch go to a
worker thread, so the loop never stops behind one.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TypeVar

from gureum.lambda_.domain.retries import Progress, QueuedEvent
from gureum.lambda_.store.ports import QueueStore, StoreBusy, Transaction

# One write to the queue, applied inside the batch's transaction; an accept is its event (a
# batch's accepts are inserted in one statement).
Write = Callable[[Transaction], None]
# Accepts "arrive" (and delivery narrows, see `Delivery._round`) at 500/s and more.
ACCEPTING_WINDOW = 0.1  # seconds
ACCEPTING_COUNT = 50  # accepts in a window
T = TypeVar("T")


class EventQueue:
    """Durable writes to the event queue, committed in groups (event loop only)."""

    def __init__(self, store: QueueStore, executor: Executor) -> None:
        self._store = store
        self._executor = executor
        # Set to the delivery loop's wake-up once it exists: committed events are due now.
        self.on_commit: Callable[[], None] = lambda: None
        self._pending: list[tuple[QueuedEvent | Write, asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None
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

    async def accept(self, event: QueuedEvent) -> None:
        """Returns once `event` is committed: the caller answers 202 after this."""
        self._count_accept()
        await self._write(event)

    async def finish(self, event_id: int) -> None:
        """Removes a delivered (or given up) event; returns once that is committed."""
        await self._write(lambda tx: tx.finish_event(event_id))

    async def reschedule(self, event_id: int, due_at: float, progress: Progress) -> None:
        await self._write(lambda tx: tx.reschedule(event_id, due_at, progress))

    async def _write(self, write: QueuedEvent | Write) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._pending.append((write, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = loop.create_task(self._flush())
        await future

    async def run(self, work: Callable[[Transaction], T]) -> T:
        """Runs `work` in one queue transaction: on the loop's thread if the store is free
        (see the module docstring), else on a worker thread. `work` must be short: reads of
        the queue, or a batch of its writes."""
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
        while self._pending:
            batch, self._pending = self._pending, []
            writes = [w for w, _ in batch]
            try:
                failed = await self.run(functools.partial(self._commit, writes=writes))
            except Exception as exc:  # the callers get the failure; nothing was stored
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for index, (_, future) in enumerate(batch):
                if not future.done():
                    if index in failed:
                        future.set_exception(failed[index])
                    else:
                        future.set_result(None)
            self.on_commit()

    @staticmethod
    def _commit(tx: Transaction, writes: list[QueuedEvent | Write]) -> dict[int, Exception]:
        """Writes the batch in `tx`; returns the writes that failed alone (by index).

        A failed finish or reschedule (one statement, which SQLite undoes by itself) is its
        caller's alone: the rest of the batch is still committed. A failed insert of the
        accepts, or a failed COMMIT, fails the whole batch with nothing stored."""
        events = [w for w in writes if isinstance(w, QueuedEvent)]
        failed: dict[int, Exception] = {}
        if events:
            tx.enqueue(events)
        for index, write in enumerate(writes):
            if not isinstance(write, QueuedEvent):
                try:
                    write(tx)
                except Exception as exc:
                    failed[index] = exc
        return failed
