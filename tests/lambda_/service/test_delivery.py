"""Asynchronous events in-process (spec 5.1): accepting them over the real SQLite store, and
stopping the delivery loop that owns them.

`EventQueue.accept` is what the 202 waits for: it must return only once the event is committed,
commit concurrent accepts together (group commit: one transaction, one fsync, for a burst), and
hand a failed commit to every caller of the batch with nothing half-stored. `Delivery.run` is a
background loop owned by the app: a stop must end it whatever it is doing, and nothing else may
(issue #20): a fault inside gureum while delivering one event backs that event off, and the
loop goes on delivering the others.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest

from gureum.app import GureumApp
from gureum.aws.sql import SqliteBackend
from gureum.clock import SystemClock
from gureum.config import Settings
from gureum.lambda_.domain.arns import LATEST, FunctionRef
from gureum.lambda_.domain.concurrency import ConcurrencyLedger, Limits
from gureum.lambda_.domain.event_configs import EventInvokeConfig
from gureum.lambda_.domain.functions import Code, Function, FunctionSettings, FunctionVersion
from gureum.lambda_.domain.lifecycle import READY
from gureum.lambda_.domain.retries import Progress, QueuedEvent
from gureum.lambda_.sandbox.environment import InvocationRequest, InvocationResult
from gureum.lambda_.services.context import Caller
from gureum.lambda_.services.delivery import (
    DEPTHS_EVERY,
    PARALLEL_DELIVERIES,
    SHARED_DELIVERIES,
    Delivery,
)
from gureum.lambda_.services.event_queue import ACCEPTING_WINDOW, EventQueue
from gureum.lambda_.services.invoker import Invoker, Target
from gureum.lambda_.services.metrics import LambdaMetrics
from gureum.lambda_.store.ports import PreparedCommit, StoreBusy, Transaction
from gureum.lambda_.store.sqlite import SqliteStore
from gureum.sqs.services.queues import QueueService

T = TypeVar("T")


class NoVault:
    """Events never carry environment variables; any use of the vault is a test failure."""

    generation = 0  # no keys that could change

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
        return self._transaction(self.inner.transaction)

    def snapshot(self) -> AbstractContextManager[Transaction]:
        return self.inner.snapshot()

    def queue_transaction(self, *, wait: bool = True) -> AbstractContextManager[Transaction]:
        # A held gate stands for another thread's transaction: busy to a caller that won't wait.
        if not wait and not self.gate.is_set():
            raise StoreBusy
        return self._transaction(lambda: self.inner.queue_transaction(wait=wait))

    def prepare_queue(
        self, work: Callable[[Transaction], T], *, wait: bool = True
    ) -> tuple[T, PreparedCommit]:
        if not wait and not self.gate.is_set():
            raise StoreBusy
        self.transactions += 1
        self.entered.set()
        assert self.gate.wait(timeout=10)
        result, prepared = self.inner.prepare_queue(lambda tx: work(self._wrap(tx)), wait=wait)
        if self.fail_next:
            self.fail_next = False
            return result, FailingCommit(prepared)
        return result, prepared

    @contextmanager
    def _transaction(
        self, begin: Callable[[], AbstractContextManager[Transaction]]
    ) -> Iterator[Transaction]:
        self.transactions += 1
        self.entered.set()
        assert self.gate.wait(timeout=10)
        with begin() as tx:
            yield self._wrap(tx)
            if self.fail_next:
                self.fail_next = False
                raise OSError("disk full")

    def _wrap(self, tx: Transaction) -> Transaction:
        return tx

    def close(self) -> None:
        self.inner.close()

    def depth(self) -> int:
        with self.inner.transaction() as tx:
            return tx.queue_depth()


class FailingCommit:
    """A COMMIT that fails as a full disk does: nothing stored."""

    def __init__(self, prepared: PreparedCommit) -> None:
        self.prepared = prepared

    def commit(self) -> None:
        self.prepared.rollback()
        raise OSError("disk full")

    def rollback(self) -> None:
        self.prepared.rollback()


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


class CountingExecutor(ThreadPoolExecutor):
    """A real thread pool that counts the work handed to it."""

    def __init__(self) -> None:
        super().__init__(4)
        self.submitted = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


class ThreadRecordingStore(CountingStore):
    """The counting store, noting the thread each transaction's statements run on."""

    def __init__(self, inner: SqliteStore) -> None:
        super().__init__(inner)
        self.threads: list[str] = []

    def _wrap(self, tx: Transaction) -> Transaction:
        self.threads.append(threading.current_thread().name)
        return tx


def test_a_free_store_writes_each_batch_on_the_loop_and_commits_it_on_its_own_thread(
    tmp_path: Path,
) -> None:
    # A worker thread running the whole transaction needs the GIL back after every SQLite step
    # (one per row), and waits for it each time while the loop is busy: a 0.3 ms commit took
    # 3.4 ms under load, and every accept of the batch waited that long for its 202.
    store = ThreadRecordingStore(SqliteStore(tmp_path / "gureum.sqlite3", NoVault()))
    executor = CountingExecutor()
    queue = EventQueue(store, executor)

    async def scenario() -> None:
        await asyncio.gather(*(queue.accept(event(n)) for n in range(50)))
        await queue.run(lambda tx: tx.due_events(1000.0, 10, set()))

    try:
        asyncio.run(scenario())
        assert store.depth() == 50
    finally:
        executor.shutdown(wait=True)
        store.close()
    assert store.threads == [threading.main_thread().name] * 2, "written off the event loop"
    assert executor.submitted == 0, "the shared worker threads were used"


class HeldCommitStore(CountingStore):
    """The counting store, whose queue COMMITs wait for `release` (a slow fsync)."""

    def __init__(self, inner: SqliteStore) -> None:
        super().__init__(inner)
        self.committing, self.release = threading.Event(), threading.Event()

    def prepare_queue(
        self, work: Callable[[Transaction], T], *, wait: bool = True
    ) -> tuple[T, PreparedCommit]:
        result, prepared = super().prepare_queue(work, wait=wait)
        return result, HeldCommit(prepared, self.committing, self.release)


@dataclass
class HeldCommit:
    prepared: PreparedCommit
    committing: threading.Event
    release: threading.Event

    def commit(self) -> None:
        self.committing.set()
        assert self.release.wait(10)
        self.prepared.commit()

    def rollback(self) -> None:
        self.prepared.rollback()


def test_the_loop_goes_on_while_a_batch_is_being_committed(
    tmp_path: Path, executor: ThreadPoolExecutor
) -> None:
    # The fsync takes milliseconds when other work shares the disk: on the loop's thread it
    # would stop every request (and the delivery loop) for that long, once per batch.
    store = HeldCommitStore(SqliteStore(tmp_path / "gureum.sqlite3", NoVault()))
    queue = EventQueue(store, executor)

    async def scenario() -> None:
        first = asyncio.ensure_future(queue.accept(event(1)))
        await asyncio.to_thread(store.committing.wait, 10)
        assert store.committing.is_set()
        second = asyncio.ensure_future(queue.accept(event(2)))  # the loop still serves
        for _ in range(3):
            await asyncio.sleep(0.01)
        assert not first.done(), "the 202 would have gone out before the event was on disk"
        assert not second.done()
        store.release.set()
        await asyncio.wait_for(asyncio.gather(first, second), timeout=10)

    try:
        asyncio.run(scenario())
        assert store.depth() == 2
    finally:
        store.release.set()
        store.close()


class CrowdedStore(CountingStore):
    """The counting store; once a batch is written, every shared worker thread starts a
    control-plane transaction, and so waits for the store the batch holds."""

    def __init__(self, inner: SqliteStore, workers: ThreadPoolExecutor, count: int) -> None:
        super().__init__(inner)
        self.workers, self.count = workers, count
        self.crowd: list[Future[None]] = []

    def prepare_queue(
        self, work: Callable[[Transaction], T], *, wait: bool = True
    ) -> tuple[T, PreparedCommit]:
        prepared = super().prepare_queue(work, wait=wait)
        if not self.crowd:
            started = threading.Barrier(self.count + 1)

            def control_plane_read() -> None:
                started.wait(10)
                deadline = time.monotonic() + 10  # gives up, so a failure ends the test
                while time.monotonic() < deadline:
                    try:
                        with self.inner.queue_transaction(wait=False) as tx:
                            tx.queue_depth()
                        return
                    except StoreBusy:
                        time.sleep(0.001)
                raise TimeoutError("the store stayed held")

            self.crowd = [self.workers.submit(control_plane_read) for _ in range(self.count)]
            started.wait(10)  # every worker is now on its way to wait for the store
        return prepared


def test_a_batch_commits_while_every_shared_worker_waits_for_the_store(tmp_path: Path) -> None:
    # The batch holds the store until its COMMIT: were the COMMIT queued behind the shared
    # workers, which wait for the store, neither would ever go on.
    workers = ThreadPoolExecutor(2)
    store = CrowdedStore(SqliteStore(tmp_path / "gureum.sqlite3", NoVault()), workers, 2)
    queue = EventQueue(store, workers)

    async def scenario() -> None:
        await asyncio.wait_for(queue.accept(event(1)), timeout=5)

    try:
        asyncio.run(scenario())
        for waiting in store.crowd:
            waiting.result(timeout=5)
        assert store.depth() == 1
    finally:
        queue.close()
        workers.shutdown(wait=True)
        store.close()


def test_a_control_plane_transaction_never_stops_the_loop_that_accepts(
    store: CountingStore, executor: ThreadPoolExecutor
) -> None:
    queue = EventQueue(store, executor)
    holding, release = threading.Event(), threading.Event()

    def control_plane_write() -> None:
        with store.inner.transaction():
            holding.set()
            release.wait(10)

    writer = threading.Thread(target=control_plane_write)
    writer.start()
    assert holding.wait(10)

    async def scenario() -> None:
        accepting = asyncio.ensure_future(queue.accept(event(1)))
        ticks = 0
        for _ in range(5):  # the loop goes on running while the store is held
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 5
        assert not accepting.done(), "the 202 would have gone out before the event was stored"
        release.set()
        await asyncio.wait_for(accepting, timeout=10)

    try:
        asyncio.run(scenario())
    finally:
        release.set()
        writer.join()
    assert store.depth() == 1


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


# --- one event's fault is that event's alone (issue #20) ---------------------------------------

ROLE = "arn:aws:iam::123456789012:role/lambda-role"


class ScriptedInvoker(Invoker):
    """Runs nothing: every function exists and succeeds, except that resolving one named in
    `broken` raises an error nobody planned for (outside the attempt's own error handling)."""

    def __init__(self) -> None:  # none of the real invoker's collaborators are needed
        self.permissions = None  # no IAM: destinations are sent to unchecked
        self.broken: set[str] = set()
        self.resolved: list[str] = []
        self.ran: list[str] = []

    def target(self, caller: Caller, ref: FunctionRef) -> Target:
        self.resolved.append(ref.name)
        if ref.name in self.broken:
            raise RuntimeError(f"injected: resolving {ref.name} blew up")
        settings = FunctionSettings(ROLE, "python3.12", "index.handler")
        code = Code("sha", 1, "blob", 1)
        version = FunctionVersion(LATEST, settings, code, "revision", datetime.now(UTC), READY)
        function = Function(ref.name, caller.account, caller.region, ref.name, version)
        return Target(function, version, function.arn)

    async def run(self, target: Target, request: InvocationRequest) -> InvocationResult:
        self.ran.append(request.request_id)
        return InvocationResult(b"null", False, b"", 1.0, None)


class BackoffsFail:
    """A transaction in which storing the backoff of `victim`'s events fails."""

    def __init__(self, inner: Transaction, victim: int) -> None:
        self._inner = inner
        self._victim = victim

    def reschedule(self, event_id: int, due_at: float, progress: Progress) -> None:
        if event_id == self._victim:
            raise RuntimeError("injected: the write failed")
        self._inner.reschedule(event_id, due_at, progress)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class UnwritableBackoff(CountingStore):
    """The counting store, except that rescheduling event `victim` fails."""

    victim = -1

    def _wrap(self, tx: Transaction) -> Transaction:
        return cast(Transaction, BackoffsFail(tx, self.victim))


@dataclass
class Rig:
    delivery: Delivery
    events: EventQueue
    invoker: ScriptedInvoker
    queues: QueueService

    async def accept(self, function_name: str, number: int) -> None:
        now = time.time()
        await self.events.accept(
            QueuedEvent(
                f"{function_name}-{number}",
                "123456789012",
                "us-east-1",
                function_name,
                None,
                b'{"n": %d}' % number,
                Progress(now),
                now,
            )
        )


def rig_over(
    store: CountingStore,
    executor: ThreadPoolExecutor,
    tmp_path: Path,
    invoker: ScriptedInvoker | None = None,
    queues: QueueService | None = None,
) -> Rig:
    invoker = invoker or ScriptedInvoker()
    clock = SystemClock()
    queues = queues or QueueService(SqliteBackend(tmp_path), clock, 1.0, "http://127.0.0.1:1")
    events = EventQueue(store, executor)
    metrics = LambdaMetrics(ConcurrencyLedger(Limits(1000, 100)))
    delivery = Delivery(store, invoker, queues, events, executor, clock, 1.0, metrics)
    events.on_commit = delivery.wake
    return Rig(delivery, events, invoker, queues)


def queued(store: CountingStore) -> dict[str, QueuedEvent]:
    with store.inner.transaction() as tx:
        return {e.request_id: e for e in tx.due_events(1e12, 1000, set())}


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


async def running(rig: Rig, scenario: Callable[[], Awaitable[None]]) -> None:
    loop = asyncio.ensure_future(rig.delivery.run())
    try:
        await scenario()
        assert not loop.done(), "the delivery loop died"
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        rig.queues.close()


def test_a_fault_in_one_event_backs_it_off_and_the_others_are_delivered(
    store: CountingStore,
    executor: ThreadPoolExecutor,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rig = rig_over(store, executor, tmp_path)
    rig.invoker.broken.add("faulty")

    async def scenario() -> None:
        started = time.time()
        await rig.accept("faulty", 0)
        for n in range(3):
            await rig.accept("healthy", n)
        await until(lambda: len(rig.invoker.ran) == 3)
        await asyncio.sleep(0.4)  # well inside the first backoff (1 s)
        # Tried once, then left alone: not retried in a hot loop ...
        assert rig.invoker.resolved.count("faulty") == 1, rig.invoker.resolved
        # ... and not lost: still queued, due after the system-error backoff.
        kept = queued(store)
        assert list(kept) == ["faulty-0"]
        assert kept["faulty-0"].progress.backoffs == 1
        assert started + 0.9 <= kept["faulty-0"].due_at <= time.time() + 1.1
        rig.invoker.broken.clear()  # the fault goes away: the event is delivered on its turn
        await until(lambda: "faulty-0" in rig.invoker.ran)
        await until(lambda: not queued(store))

    with caplog.at_level(logging.ERROR, "gureum.events"):
        asyncio.run(running(rig, scenario))
    assert sorted(rig.invoker.ran) == ["faulty-0", "healthy-0", "healthy-1", "healthy-2"]
    logged = [r.getMessage() for r in caplog.records if r.name == "gureum.events"]
    assert any("faulty-0" in m and "function faulty" in m for m in logged), logged


def test_an_event_whose_backoff_cannot_be_stored_is_still_not_retried_at_once(
    executor: ThreadPoolExecutor, tmp_path: Path
) -> None:
    store = UnwritableBackoff(SqliteStore(tmp_path / "gureum.sqlite3", NoVault()))
    rig = rig_over(store, executor, tmp_path)
    rig.invoker.broken.add("faulty")

    async def scenario() -> None:
        await rig.accept("faulty", 0)
        store.victim = next(iter(queued(store).values())).id
        rig.delivery.wake()
        await until(lambda: rig.invoker.resolved.count("faulty") == 1)
        before = store.transactions
        await asyncio.sleep(0.5)
        assert rig.invoker.resolved.count("faulty") == 1
        assert store.transactions - before < 20, "the loop polled the store in a hot loop"
        await rig.accept("healthy", 0)  # and the others still go through meanwhile
        await until(lambda: rig.invoker.ran == ["healthy-0"])

    try:
        asyncio.run(running(rig, scenario))
    finally:
        store.close()


def test_the_loop_outlives_a_round_that_fails(
    store: CountingStore, executor: ThreadPoolExecutor, tmp_path: Path
) -> None:
    rig = rig_over(store, executor, tmp_path)

    async def scenario() -> None:
        store.fail_next = True  # the loop's first read of the queue fails
        await asyncio.sleep(0)
        await until(lambda: not store.fail_next)
        await rig.accept("healthy", 0)
        await until(lambda: rig.invoker.ran == ["healthy-0"])

    asyncio.run(running(rig, scenario))


class FlakyQueues(QueueService):
    """SQS whose first `failures` sends fail inside gureum (its store away, say); keeps the
    records it was sent."""

    failures = 0

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(SqliteBackend(tmp_path), SystemClock(), 1.0, "http://127.0.0.1:1")
        self.sent: list[dict[str, Any]] = []

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
        if self.failures:
            self.failures -= 1
            raise OSError("injected: the store is away")
        self.sent.append(json.loads(body))
        return "message-id"


def test_a_record_that_a_fault_inside_gureum_kept_from_its_destination_is_not_lost(
    store: CountingStore, executor: ThreadPoolExecutor, tmp_path: Path
) -> None:
    """AWS drops a record its destination refuses (spec 5.4); one that gureum's own store could
    not take is not the destination's doing: the event backs off and is delivered again."""
    queues = FlakyQueues(tmp_path)
    queues.failures = 1
    rig = rig_over(store, executor, tmp_path, queues=queues)
    caller = Caller("123456789012", "us-east-1")
    function = rig.invoker.target(caller, FunctionRef("reporting")).function
    with store.inner.transaction() as tx:
        tx.put_function(function)
        destination = "arn:aws:sqs:us-east-1:123456789012:records"
        tx.put_event_config(function, LATEST, EventInvokeConfig(on_success=destination))

    async def scenario() -> None:
        await rig.accept("reporting", 7)
        await until(lambda: len(queues.sent) == 1)  # after the system-error backoff (1 s)
        await until(lambda: not queued(store))

    asyncio.run(running(rig, scenario))
    assert [record["requestContext"]["requestId"] for record in queues.sent] == ["reporting-7"]
    assert rig.invoker.ran == ["reporting-7", "reporting-7"]  # run again: at least once


# --- delivery shares the store and the loop with the accepts (issue #11) ------------------------


def test_delivery_commits_its_finishes_in_groups_and_reads_a_config_once(
    store: CountingStore, executor: ThreadPoolExecutor, tmp_path: Path
) -> None:
    rig = rig_over(store, executor, tmp_path)

    async def scenario() -> None:
        await asyncio.gather(*(rig.accept("healthy", n) for n in range(100)))
        await asyncio.sleep(2 * ACCEPTING_WINDOW)  # the burst is over: delivery at full width
        before = store.transactions
        loop = asyncio.ensure_future(rig.delivery.run())
        try:
            await until(lambda: not queued(store))
        finally:
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)
        # One commit per delivered event (and a read of its configuration) would be 200 and more:
        # each of them an fsync that an accept's commit would queue behind. Grouped, it is about
        # 40 on a quiet machine; a loaded one (CI's two workers) makes smaller groups.
        assert store.transactions - before < 100, store.transactions - before

    asyncio.run(scenario())
    rig.queues.close()
    assert sorted(rig.invoker.ran) == sorted(f"healthy-{n}" for n in range(100))


def test_the_event_queue_leaves_the_store_generation_alone(
    store: CountingStore, executor: ThreadPoolExecutor
) -> None:
    """The invoke path caches targets until the generation moves: were every accept and every
    delivered event to move it, each invoke (an accept too) would read the store again, on the
    event loop, behind the queue's commits."""
    queue = EventQueue(store, executor)
    generation = store.generation

    async def scenario() -> None:
        await asyncio.gather(*(queue.accept(event(n)) for n in range(5)))
        first, second = sorted(queued(store).values(), key=lambda e: e.id)[:2]
        await queue.finish(first.id)
        await queue.reschedule(second.id, 2000.0, Progress(1000.0, 1, 0))

    asyncio.run(scenario())
    assert store.depth() == 4
    assert store.generation == generation
    with store.inner.transaction() as tx:  # any other change still moves it
        tx.enqueue([event(9)])
    assert store.generation != generation


def test_a_failed_reschedule_is_its_callers_alone(
    executor: ThreadPoolExecutor, tmp_path: Path
) -> None:
    store = UnwritableBackoff(SqliteStore(tmp_path / "gureum.sqlite3", NoVault()))
    queue = EventQueue(store, executor)

    async def scenario() -> list[BaseException | None]:
        await asyncio.gather(queue.accept(event(1)), queue.accept(event(2)))
        victim, other = sorted(queued(store).values(), key=lambda e: e.id)
        store.victim = victim.id
        results = await asyncio.gather(  # one batch
            queue.reschedule(victim.id, 2000.0, Progress(1000.0, 1, 0)),
            queue.accept(event(3)),
            queue.finish(other.id),
            return_exceptions=True,
        )
        return list(results)

    try:
        rescheduled, accepted, finished = asyncio.run(scenario())
        assert isinstance(rescheduled, RuntimeError)
        assert accepted is None
        assert finished is None
        assert sorted(queued(store)) == ["request-1", "request-3"]
        assert queued(store)["request-1"].due_at == 1000.0  # the failed write left no trace
    finally:
        store.close()


class SlowInvoker(ScriptedInvoker):
    """Each run takes `pause` seconds; counts the runs in flight."""

    def __init__(self, pause: float) -> None:
        super().__init__()
        self.pause = pause
        self.in_flight = 0
        self.widest = 0
        # Set by a test: the queue whose `accepting()` each run's start notes, with how many
        # ran then (its own included).
        self.events: EventQueue | None = None
        self.starts: list[tuple[bool, int]] = []

    async def run(self, target: Target, request: InvocationRequest) -> InvocationResult:
        self.in_flight += 1
        self.widest = max(self.widest, self.in_flight)
        if self.events is not None:
            self.starts.append((self.events.accepting(), self.in_flight))
        try:
            await asyncio.sleep(self.pause)
            return await super().run(target, request)
        finally:
            self.in_flight -= 1


def test_fewer_deliveries_at_once_while_accepts_arrive(
    store: CountingStore, executor: ThreadPoolExecutor, tmp_path: Path
) -> None:
    invoker = SlowInvoker(0.05)
    rig = rig_over(store, executor, tmp_path, invoker)
    invoker.events = rig.events

    async def scenario() -> None:
        await asyncio.gather(*(rig.accept("backlog", n) for n in range(PARALLEL_DELIVERIES * 2)))
        for n in range(40):  # accepts keep arriving for 0.4 s, 1,000 a second
            await asyncio.gather(*(rig.accept("arriving", n * 10 + k) for k in range(10)))
            await asyncio.sleep(0.01)
        # Every delivery that started while accepts arrived found few others running. (On a
        # loaded machine, whose commits hold back the accepts, a window may see fewer than
        # ACCEPTING_COUNT of them, and delivery widen then, as it should.)
        while_accepting = [running for accepting, running in invoker.starts if accepting]
        assert while_accepting, invoker.starts
        assert max(while_accepting) <= SHARED_DELIVERIES, invoker.starts
        await until(lambda: not queued(store), timeout=10)
        # Once the accepts stop, the backlog is worked off at full width.
        assert invoker.widest > SHARED_DELIVERIES, invoker.widest

    asyncio.run(running(rig, scenario))


def test_a_trickle_of_accepts_does_not_narrow_delivery(
    store: CountingStore, executor: ThreadPoolExecutor, tmp_path: Path
) -> None:
    invoker = SlowInvoker(0.3)
    rig = rig_over(store, executor, tmp_path, invoker)

    async def scenario() -> None:
        await asyncio.gather(*(rig.accept("backlog", n) for n in range(PARALLEL_DELIVERIES)))
        for n in range(20):  # 50 a second: no competition for the loop
            await rig.accept("arriving", n)
            await asyncio.sleep(0.02)
        assert invoker.widest > SHARED_DELIVERIES, invoker.widest

    asyncio.run(running(rig, scenario))


class CountsReads:
    """A transaction counting the delivery loop's reads: rounds, and counts of the depths."""

    def __init__(self, inner: Transaction, store: DepthCounting) -> None:
        self._inner = inner
        self._store = store

    def due_events(self, now: float, limit: int, busy: set[int]) -> list[QueuedEvent]:
        self._store.rounds += 1
        return self._inner.due_events(now, limit, busy)

    def queue_depths(self) -> dict[tuple[str, str], int]:
        self._store.counts += 1
        return self._inner.queue_depths()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class DepthCounting(CountingStore):
    rounds = 0
    counts = 0

    def _wrap(self, tx: Transaction) -> Transaction:
        return cast(Transaction, CountsReads(tx, self))


def test_the_queue_depth_is_counted_now_and_then_not_every_round(
    executor: ThreadPoolExecutor, tmp_path: Path
) -> None:
    """A count reads the whole queue: through a backlog the loop goes round many times a
    second, and counting each time would take the store from the deliveries. The gauge still
    comes down to 0 once the queue is empty."""
    store = DepthCounting(SqliteStore(tmp_path / "gureum.sqlite3", NoVault()))
    rig = rig_over(store, executor, tmp_path)
    metrics = rig.delivery._metrics

    def gauge() -> float:
        for line in metrics.render().decode().splitlines():
            if line.startswith("gureum_async_queue_depth "):
                return float(line.split()[1])
        raise AssertionError("no queue depth gauge")

    async def scenario() -> None:
        await asyncio.gather(*(rig.accept("healthy", n) for n in range(300)))
        started = time.monotonic()
        await until(lambda: not queued(store))
        elapsed = time.monotonic() - started
        # Many rounds worked the backlog off, with few counts.
        assert store.rounds > 10, store.rounds
        assert store.counts <= elapsed / DEPTHS_EVERY + 2, (store.counts, elapsed)
        await until(lambda: gauge() == 0.0, timeout=3 * DEPTHS_EVERY)

    try:
        asyncio.run(running(rig, scenario))
    finally:
        store.close()
    assert len(rig.invoker.ran) == 300
