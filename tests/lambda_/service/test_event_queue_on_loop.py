"""`EventQueue` over a loop queue (the PostgreSQL store's `QueueSession`, here one whose writes
wait until the test lets them go): batches one at a time on the writer's session,
even after a cancelled flush, and shutdown waits for the batch in flight."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gureum.aws.errors import ServiceError
from gureum.lambda_.domain.retries import Progress, QueuedEvent
from gureum.lambda_.services.event_queue import EventQueue
from gureum.lambda_.store.ports import QueueWrites
from gureum.lambda_.store.sqlite import SqliteStore
from tests.lambda_.service.test_store_contract import MarkingVault


class HeldWriter:
    """Each batch waits for `release`; notes the batches, and how many ran at once."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.batches: list[QueueWrites] = []
        self.running = 0
        self.most_at_once = 0
        self.closed = False

    async def write(self, writes: QueueWrites) -> None:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await self.release.wait()
            self.batches.append(writes)
        finally:
            self.running -= 1

    async def due(self, now: float, limit: int, busy: set[int]) -> list[QueuedEvent]:
        return []

    async def depths(self) -> dict[tuple[str, str], int]:
        return {}

    async def next_due(self) -> float | None:
        return None

    def close(self) -> None:
        self.closed = True


def queued(request_id: str) -> QueuedEvent:
    return QueuedEvent(
        request_id, "123456789012", "us-east-1", "f", None, b"{}", Progress(1.0), 1.0
    )


def test_batches_go_one_at_a_time_and_shutdown_waits_for_the_one_in_flight(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "gureum.sqlite3", MarkingVault())  # never written here
    workers = ThreadPoolExecutor(2)
    writer = HeldWriter()

    async def scenario() -> None:
        queue = EventQueue(store, workers, writer)
        first = asyncio.ensure_future(queue.accept(queued("first")))
        while writer.running == 0:
            await asyncio.sleep(0)
        # The flush is cancelled (shutdown, a bug) with its batch on the wire: the batch goes
        # on, and the next one waits for it rather than share the session.
        flushing = queue._flushing
        assert flushing is not None
        flushing.cancel()
        first.cancel()  # its caller is gone too
        await asyncio.gather(flushing, first, return_exceptions=True)
        early = asyncio.ensure_future(queue.drain())
        second = asyncio.ensure_future(queue.finish(7))
        draining = asyncio.ensure_future(queue.drain())
        await asyncio.sleep(0.05)
        assert writer.running == 1  # still the first batch
        # Shutdown waits for what was written: the batch the cancelled flush left, and after it
        # the next.
        assert not early.done()
        assert not draining.done()
        writer.release.set()
        await asyncio.wait_for(asyncio.gather(early, draining), 5)
        await asyncio.wait_for(second, 5)
        queue.close()

    try:
        asyncio.run(scenario())
    finally:
        workers.shutdown()
        store.close()
    assert writer.most_at_once == 1
    assert [[e.request_id for e in b.enqueue] for b in writer.batches] == [["first"], []]
    assert writer.batches[1].finish == [7]
    assert writer.closed


def test_a_stopped_flush_answers_its_callers_with_an_error_not_silence(tmp_path: Path) -> None:
    """The loop closing under a flush: the callers of the batch on the wire (stored or not,
    nobody knows) and of the one waiting behind it hear ServiceException; none waits for
    ever."""
    store = SqliteStore(tmp_path / "gureum.sqlite3", MarkingVault())  # never written here
    workers = ThreadPoolExecutor(2)
    writer = HeldWriter()

    async def scenario() -> list[BaseException | None]:
        queue = EventQueue(store, workers, writer)
        first = asyncio.ensure_future(queue.accept(queued("first")))
        while writer.running == 0:
            await asyncio.sleep(0)
        second = asyncio.ensure_future(queue.accept(queued("second")))
        await asyncio.sleep(0)  # the second is waiting for the next batch
        flushing = queue._flushing
        assert flushing is not None
        flushing.cancel()
        answers = await asyncio.wait_for(asyncio.gather(first, second, return_exceptions=True), 5)
        writer.release.set()
        await asyncio.wait_for(queue.drain(), 5)
        queue.close()
        return [answer if isinstance(answer, BaseException) else None for answer in answers]

    try:
        answers = asyncio.run(scenario())
    finally:
        workers.shutdown()
        store.close()
    assert [type(answer) for answer in answers] == [ServiceError, ServiceError]
