"""Asynchronous events in-process (spec 5.1): accepting them over the real SQLite store, and
stopping the delivery loop that owns them.

`EventQueue.accept` is what the 202 waits for: it must return only once the event is committed,
commit concurrent accepts together (group commit: one transaction, one fsync, for a burst), and
hand a failed commit to every caller of the batch with nothing half-stored. `Delivery.run` is a
background loop owned by the app: a stop must end it whatever it is doing.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from gureum.app import GureumApp
from gureum.config import Settings
from gureum.lambda_.domain.retries import Progress, QueuedEvent
from gureum.lambda_.services.event_queue import EventQueue
from gureum.lambda_.store.ports import Transaction
from gureum.lambda_.store.sqlite import SqliteStore


class NoVault:
    """Events never carry environment variables; any use of the vault is a test failure."""

    def seal(
        self, account: str, region: str, key_arn: str | None, variables: Mapping[str, str]
    ) -> dict[str, str]:
        raise AssertionError("the event queue sealed variables")

    def open(
        self, account: str, region: str, sealed: Mapping[str, str]
    ) -> tuple[dict[str, str] | None, tuple[str, str] | None]:
        raise AssertionError("the event queue opened variables")


class CountingStore:
    """The real store, counting transactions; one can be held open or made to fail."""

    def __init__(self, inner: SqliteStore) -> None:
        self.inner = inner
        self.transactions = 0
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail_next = False

    @property
    def generation(self) -> int:
        return self.inner.generation

    def transaction(self) -> AbstractContextManager[Transaction]:
        return self._transaction()

    @contextmanager
    def _transaction(self) -> Iterator[Transaction]:
        self.transactions += 1
        self.entered.set()
        assert self.gate.wait(timeout=10)
        with self.inner.transaction() as tx:
            yield tx
            if self.fail_next:
                self.fail_next = False
                raise OSError("disk full")

    def close(self) -> None:
        self.inner.close()

    def depth(self) -> int:
        with self.inner.transaction() as tx:
            return tx.queue_depth()


def event(number: int) -> QueuedEvent:
    return QueuedEvent(
        f"request-{number}",
        "123456789012",
        "us-east-1",
        "fn",
        None,
        b'{"n": %d}' % number,
        Progress(1000.0),
        1000.0,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CountingStore]:
    counting = CountingStore(SqliteStore(tmp_path / "gureum.sqlite3", NoVault()))
    yield counting
    counting.close()


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(4)
    yield pool
    pool.shutdown(wait=True)


def test_a_burst_of_accepts_is_committed_in_a_few_transactions(
    store: CountingStore, executor: ThreadPoolExecutor
) -> None:
    queue = EventQueue(store, executor)
    woken: list[int] = []
    queue.on_commit = lambda: woken.append(store.depth())

    async def burst() -> None:
        await asyncio.gather(*(queue.accept(event(n)) for n in range(200)))

    asyncio.run(burst())
    assert store.depth() == 200
    assert store.transactions < 10, "every accept paid for its own commit"
    assert woken, "the delivery loop was never told that events were committed"
    assert woken[-1] == 200
    with store.inner.transaction() as tx:
        due = tx.due_events(1000.0, 500, set())
    assert sorted(e.request_id for e in due) == sorted(f"request-{n}" for n in range(200))
    assert {e.payload for e in due} == {b'{"n": %d}' % n for n in range(200)}


def test_accept_returns_only_after_the_commit(
    store: CountingStore, executor: ThreadPoolExecutor
) -> None:
    queue = EventQueue(store, executor)
    store.gate.clear()

    async def scenario() -> None:
        accepting = asyncio.ensure_future(queue.accept(event(1)))
        await asyncio.get_running_loop().run_in_executor(None, store.entered.wait, 10)
        await asyncio.sleep(0.05)
        assert not accepting.done(), "the 202 would have gone out before the event was stored"
        later = asyncio.ensure_future(queue.accept(event(2)))  # joins the next batch
        await asyncio.sleep(0.05)
        assert not later.done()
        store.gate.set()
        await asyncio.wait_for(asyncio.gather(accepting, later), timeout=10)

    asyncio.run(scenario())
    assert store.depth() == 2


def test_a_failed_commit_fails_its_whole_batch_and_stores_nothing(
    store: CountingStore, executor: ThreadPoolExecutor
) -> None:
    queue = EventQueue(store, executor)
    store.fail_next = True

    async def scenario() -> list[BaseException | None]:
        results = await asyncio.gather(
            *(queue.accept(event(n)) for n in range(5)), return_exceptions=True
        )
        return list(results)

    results = asyncio.run(scenario())
    assert all(isinstance(r, OSError) for r in results), results
    assert store.depth() == 0
    # The queue keeps working after a failed commit.
    asyncio.run(queue.accept(event(9)))
    assert store.depth() == 1


def test_shutdown_stops_the_delivery_loop_even_as_it_is_woken(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", isolation="none", log_level="warning")

    async def scenario() -> None:
        app = GureumApp(settings)
        await app.startup()
        await asyncio.sleep(0.3)  # the delivery loop is asleep, waiting for work
        app.lambda_.delivery.wake()  # work arrives ...
        stopping = asyncio.ensure_future(app.shutdown())  # ... as the server is asked to stop
        done, _ = await asyncio.wait({stopping}, timeout=4)
        if stopping not in done:
            # Stopped anyway (a second cancel is not lost), so nothing leaks out of this test.
            for task in asyncio.all_tasks():
                if task.get_coro().__qualname__ == "Delivery.run":  # type: ignore[union-attr]
                    task.cancel()
            await asyncio.wait({stopping}, timeout=10)
        assert stopping in done, "shutdown hung: the delivery loop ignored its cancellation"

    asyncio.run(scenario())
