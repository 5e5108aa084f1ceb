"""Asynchronous invocation, accepting: the durable event queue (spec 5.1).

`EventQueue.accept` returns only once the event is committed to the store (the 202 means "on
disk"). Accepts that arrive while a commit is in flight are committed together in the next one
(group commit), so thousands per second stay durable with one fsync per batch. The delivery
workers (`gureum.lambda_.services.delivery`) take the committed events from the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor

from gureum.lambda_.domain.retries import QueuedEvent
from gureum.lambda_.store.ports import Store


class EventQueue:
    """Durable acceptance of events, committed in groups."""

    def __init__(self, store: Store, executor: Executor) -> None:
        self._store = store
        self._executor = executor
        # Set to the delivery loop's wake-up once it exists: committed events are due now.
        self.on_commit: Callable[[], None] = lambda: None
        self._pending: list[tuple[QueuedEvent, asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def accept(self, event: QueuedEvent) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((event, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self._flush())
        await future

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await loop.run_in_executor(self._executor, self._commit, [e for e, _ in batch])
            except Exception as exc:  # the callers get the failure; nothing was stored
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, future in batch:
                if not future.done():
                    future.set_result(None)
            self.on_commit()

    def _commit(self, events: list[QueuedEvent]) -> None:
        with self._store.transaction() as tx:
            tx.enqueue(events)
