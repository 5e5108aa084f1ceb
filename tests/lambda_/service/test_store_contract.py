"""The control-plane `Store` port's contract, run against both adapters (issue #24, item 5).

Every test here runs twice: on SQLite in a temporary directory, and on PostgreSQL (a database
of its own in the test run's cluster, `tests.support.postgres`). What a service can see through
the port (documents, cascades, sums, the queue's order, rollbacks, `generation`, what survives
a reopen) must not depend on the adapter. The PostgreSQL-only tests at the end cover what only
a shared database has: claims between processes, migrations, wake-ups.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from gureum.aws.postgres import Database, SchemaTooNew, migrations_in
from gureum.lambda_.domain.aliases import Alias
from gureum.lambda_.domain.arns import LATEST
from gureum.lambda_.domain.event_configs import EventInvokeConfig
from gureum.lambda_.domain.functions import (
    AttachedLayer,
    Code,
    Function,
    FunctionSettings,
    FunctionVersion,
)
from gureum.lambda_.domain.layers import LayerVersion
from gureum.lambda_.domain.lifecycle import READY
from gureum.lambda_.domain.provisioned import ProvisionedConfig
from gureum.lambda_.domain.retries import Progress, QueuedEvent
from gureum.lambda_.services.event_queue import EventQueue
from gureum.lambda_.store.ports import QueueStore, QueueWrites, StoreBusy
from gureum.lambda_.store.postgres import PostgresStore
from gureum.lambda_.store.postgres_queue import EVENTS, SESSION_NAME
from gureum.lambda_.store.sqlite import SqliteStore
from tests.support.postgres import PostgresCluster

ACCOUNT, REGION = "123456789012", "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/lambda-role"
WHEN = datetime(2026, 12, 6, tzinfo=UTC)
_ids = itertools.count()


class MarkingVault:
    """Seals by marking, so a test sees that what was stored was sealed and is opened again."""

    generation = 0

    def seal(
        self, account: str, region: str, key_arn: str | None, variables: Mapping[str, str]
    ) -> dict[str, str]:
        return {key: f"sealed:{value}" for key, value in variables.items()}

    def open(
        self, account: str, region: str, sealed: Mapping[str, str]
    ) -> tuple[dict[str, str] | None, tuple[str, str] | None]:
        return {key: value.removeprefix("sealed:") for key, value in sealed.items()}, None


Opener = Callable[[], QueueStore]


@pytest.fixture(params=["sqlite", "postgresql"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens the store again on the same database, as a restarted server does."""
    opened: list[QueueStore] = []
    if request.param == "sqlite":

        def make() -> QueueStore:
            return SqliteStore(tmp_path / "gureum.sqlite3", MarkingVault())

    else:
        cluster: PostgresCluster = request.getfixturevalue("postgres")
        url = cluster.database()

        def make() -> QueueStore:
            return PostgresStore(url, MarkingVault())

    def tracked() -> QueueStore:
        store = make()
        opened.append(store)
        return store

    yield tracked
    for store in opened:
        store.close()


@pytest.fixture
def store(opener: Opener) -> QueueStore:
    return opener()


def function(name: str = "fn", reserved: int | None = None, **settings: object) -> Function:
    latest = FunctionVersion(
        LATEST,
        FunctionSettings(ROLE, "python3.12", "index.handler", **settings),  # type: ignore[arg-type]
        Code("sha", 10, f"blob-{name}", 20),
        "revision-1",
        WHEN,
        READY,
    )
    return Function(f"id-{name}-{next(_ids)}", ACCOUNT, REGION, name, latest, 1, {}, reserved)


def published(fn: Function, number: int, blob: str = "blob-v") -> FunctionVersion:
    return replace(fn.latest, version=str(number), code=Code("sha", 5, blob, 5))


def event(name: str, due: float, request_id: str = "") -> QueuedEvent:
    return QueuedEvent(
        request_id or f"req-{next(_ids)}", ACCOUNT, REGION, name, None, b'{"k":1}',
        Progress(due), due, trace_header="Root=1-abc",
    )  # fmt: skip


# --- functions, versions, aliases ---------------------------------------------------------


def test_a_function_reads_back_as_written_with_variables_sealed_and_opened(
    store: QueueStore,
) -> None:
    fn = function(environment={"A": "1"}, reserved=3)
    with store.transaction() as tx:
        tx.put_function(fn)
    with store.transaction() as tx:
        found = tx.get_function(ACCOUNT, REGION, "fn")
    assert found is not None
    assert found.id == fn.id
    assert found.reserved_concurrency == 3
    assert found.latest.settings.environment == {"A": "1"}
    assert found.latest.settings.environment_sealed == {"A": "sealed:1"}
    assert found.latest.last_modified == WHEN


def test_functions_list_by_name_in_pages(store: QueueStore) -> None:
    with store.transaction() as tx:
        for name in ("b", "a", "C", "c"):
            tx.put_function(function(name))
    with store.transaction() as tx:
        first = [f.name for f in tx.list_functions(ACCOUNT, REGION, None, 3)]
        rest = [f.name for f in tx.list_functions(ACCOUNT, REGION, first[-1], 3)]
        other = tx.list_functions("000000000000", REGION, None, 10)
    assert first + rest == ["C", "a", "b", "c"]  # byte order, as AWS's markers are
    assert other == []


def test_deleting_a_function_takes_its_versions_aliases_and_configs(store: QueueStore) -> None:
    fn = function()
    with store.transaction() as tx:
        tx.put_function(fn)
        tx.put_version(fn, published(fn, 1))
        tx.put_alias(fn, Alias("live", "1", "r"))
        tx.put_event_config(fn, "live", EventInvokeConfig(max_retries=1))
        tx.put_provisioned(fn, ProvisionedConfig("1", 2, "now"))
    with store.transaction() as tx:
        tx.delete_function(fn)
    with store.transaction() as tx:
        assert tx.get_function(ACCOUNT, REGION, "fn") is None
        assert tx.version_slots() == set()
        assert tx.all_provisioned() == []
        assert tx.published() == []


def test_versions_list_in_order_after_a_marker(store: QueueStore) -> None:
    fn = function()
    with store.transaction() as tx:
        tx.put_function(fn)
        for number in (3, 1, 2):
            tx.put_version(fn, published(fn, number))
    with store.transaction() as tx:
        listed = [v.version for v in tx.list_versions(fn, 1, 10)]
        slots = tx.version_slots()
        got = tx.get_version(fn, "2")
        tx.delete_version(fn, "2")
        after = tx.get_version(fn, "2")
    assert listed == ["2", "3"]
    assert slots == {f"{fn.id}:{v}" for v in (LATEST, "1", "2", "3")}
    assert got is not None
    assert got.code.blob == "blob-v"
    assert after is None


def test_an_alias_takes_its_configs_with_it(store: QueueStore) -> None:
    fn = function()
    with store.transaction() as tx:
        tx.put_function(fn)
        tx.put_alias(fn, Alias("b", "1", "r", weights={"2": 0.25}))
        tx.put_alias(fn, Alias("a", "1", "r"))
        tx.put_event_config(fn, "b", EventInvokeConfig(max_age=60))
        tx.put_provisioned(fn, ProvisionedConfig("b", 1, "now"))
    with store.transaction() as tx:
        assert [a.name for a in tx.list_aliases(fn)] == ["a", "b"]
        alias = tx.get_alias(fn, "b")
        assert alias is not None
        assert alias.weights == {"2": 0.25}
        tx.delete_alias(fn, "b")
    with store.transaction() as tx:
        assert tx.get_event_config(fn, "b") is None
        assert tx.get_provisioned(fn, "b") is None
        assert [a.name for a in tx.list_aliases(fn)] == ["a"]


# --- layers and usage -----------------------------------------------------------------------


def layer(name: str, version: int, blob: str) -> LayerVersion:
    return LayerVersion(ACCOUNT, REGION, name, version, Code("sha", 7, blob, 7), WHEN)


def test_layer_numbers_are_reserved_and_the_latest_listed(store: QueueStore) -> None:
    with store.transaction() as tx:
        numbers = [tx.next_layer_version(ACCOUNT, REGION, "lib") for _ in range(3)]
        other = tx.next_layer_version(ACCOUNT, REGION, "zlib")
        for number in numbers:
            tx.put_layer_version(layer("lib", number, f"layer-{number}"))
        tx.put_layer_version(layer("zlib", other, "layer-z"))
    with store.transaction() as tx:
        newest = [(lv.name, lv.version) for lv in tx.list_latest_layer_versions(ACCOUNT, REGION)]
        versions = [lv.version for lv in tx.list_layer_versions(ACCOUNT, REGION, "lib")]
        tx.delete_layer_version(layer("lib", 3, "layer-3"))
        deleted = tx.get_layer_version(ACCOUNT, REGION, "lib", 3)
        renumbered = tx.next_layer_version(ACCOUNT, REGION, "lib")
    assert numbers == [1, 2, 3]
    assert other == 1
    assert newest == [("lib", 3), ("zlib", 1)]
    assert versions == [3, 2, 1]
    assert deleted is None
    assert renumbered == 4  # a deleted number is never given again


def test_code_usage_and_blobs_in_use(store: QueueStore) -> None:
    attached = AttachedLayer("arn:aws:lambda:us-east-1:1:layer:lib:1", 7, 7, "layer-blob")
    fn = function(layers=(attached,))
    with store.transaction() as tx:
        tx.put_function(fn)
        tx.put_version(fn, published(fn, 1))
        tx.put_layer_version(layer("lib", 1, "layer-blob"))
    with store.transaction() as tx:
        assert tx.code_usage(ACCOUNT, REGION) == (10 + 5 + 7, 1)
        assert tx.blob_in_use("blob-fn")
        assert tx.blob_in_use("blob-v")
        assert tx.blob_in_use("layer-blob")
        assert not tx.blob_in_use("blob-gone")
        assert tx.functions_with_code("blob-fn") == [(ACCOUNT, REGION, "fn")]
        tx.delete_layer_version(layer("lib", 1, "layer-blob"))
        assert tx.blob_in_use("layer-blob")  # a version still holds the layer's archive


# --- concurrency and configurations ---------------------------------------------------------


def test_reservations_and_provisioned_sums(store: QueueStore) -> None:
    a, b, c = function("a", reserved=5), function("b", reserved=0), function("c")
    with store.transaction() as tx:
        for fn in (a, b, c):
            tx.put_function(fn)
        tx.put_provisioned(a, ProvisionedConfig("1", 2, "now"))
        tx.put_provisioned(c, ProvisionedConfig("1", 3, "now"))
        tx.put_provisioned(c, ProvisionedConfig("live", 4, "now"))
    with store.transaction() as tx:
        assert tx.reserved_total(ACCOUNT, REGION, excluding=b.id) == 5
        assert tx.reserved_total(ACCOUNT, REGION, excluding=a.id) == 0
        assert sorted(tx.reservations()) == sorted(
            [(ACCOUNT, REGION, a.id, 5), (ACCOUNT, REGION, b.id, 0)]
        )
        assert sorted(tx.provisioned_totals()) == sorted(
            [(ACCOUNT, REGION, a.id, 2), (ACCOUNT, REGION, c.id, 7)]
        )
        assert tx.unreserved_provisioned(ACCOUNT, REGION, excluding=a.id) == 7
        assert [p.qualifier for p in tx.list_provisioned(c)] == ["1", "live"]
        assert sorted((f.name, p.qualifier) for f, p in tx.all_provisioned()) == [
            ("a", "1"),
            ("c", "1"),
            ("c", "live"),
        ]


def test_event_configs_by_qualifier(store: QueueStore) -> None:
    fn = function()
    config = EventInvokeConfig(2, 120, "arn:aws:sqs:us-east-1:1:ok", None, 1.5)
    with store.transaction() as tx:
        tx.put_function(fn)
        tx.put_event_config(fn, LATEST, config)
        tx.put_event_config(fn, LATEST, replace(config, max_retries=0))
    with store.transaction() as tx:
        assert tx.list_event_configs(fn) == [(LATEST, replace(config, max_retries=0))]
        tx.delete_event_config(fn, LATEST)
        assert tx.get_event_config(fn, LATEST) is None


# --- transactions, generation, durability ----------------------------------------------------


def test_a_failed_transaction_leaves_nothing(store: QueueStore) -> None:
    def halfway() -> None:
        with store.transaction() as tx:
            tx.put_function(function("half"))
            tx.enqueue([event("half", 1.0)])
            raise RuntimeError("the service refused halfway")

    with pytest.raises(RuntimeError):
        halfway()
    with store.transaction() as tx:
        assert tx.get_function(ACCOUNT, REGION, "half") is None
        assert tx.queue_depth() == 0


def test_read_modify_writes_never_race(store: QueueStore) -> None:
    """Writers run one at a time (SQLite's BEGIN IMMEDIATE, PostgreSQL's advisory lock): two
    threads each bumping a function's reservation 50 times, as a RevisionId-checked update
    reads then writes, lose none of the 100 bumps."""
    with store.transaction() as tx:
        tx.put_function(function("counted", reserved=0))

    def bump() -> None:
        for _ in range(50):
            with store.transaction() as tx:
                found = tx.get_function(ACCOUNT, REGION, "counted")
                assert found is not None
                count = found.reserved_concurrency or 0
                tx.put_function(replace(found, reserved_concurrency=count + 1))

    with ThreadPoolExecutor(2) as threads:
        for done in [threads.submit(bump), threads.submit(bump)]:
            done.result()
    with store.transaction() as tx:
        found = tx.get_function(ACCOUNT, REGION, "counted")
    assert found is not None
    assert found.reserved_concurrency == 100


def test_generation_moves_on_control_plane_changes_only(store: QueueStore) -> None:
    before = store.generation
    with store.transaction() as tx:
        tx.get_function(ACCOUNT, REGION, "nothing")
    assert store.generation == before  # a read changes nothing
    with store.queue_transaction() as tx:
        tx.enqueue([event("fn", 1.0)])
    assert store.generation == before  # nor does the queue
    with store.transaction() as tx:
        tx.put_function(function())
    assert store.generation > before


def test_what_was_committed_survives_a_reopen(opener: Opener) -> None:
    first = opener()
    fn = function()
    with first.transaction() as tx:
        tx.put_function(fn)
    with first.queue_transaction() as tx:
        tx.enqueue([event("fn", 1.0, "kept")])
    first.close()
    again = opener()
    with again.transaction() as tx:
        assert tx.get_function(ACCOUNT, REGION, "fn") is not None
        assert [e.request_id for e in tx.due_events(2.0, 10, set())] == ["kept"]


# --- the event queue ------------------------------------------------------------------------


def test_due_events_come_oldest_due_first_without_the_busy_ones(store: QueueStore) -> None:
    with store.queue_transaction() as tx:
        tx.enqueue([event("f", 3.0, "c"), event("f", 1.0, "a"), event("f", 2.0, "b")])
        tx.enqueue([event("f", 9.0, "later")])
    with store.queue_transaction() as tx:
        due = tx.due_events(5.0, 10, set())
        assert [e.request_id for e in due] == ["a", "b", "c"]
        assert due[0].payload == b'{"k":1}'
        assert due[0].trace_header == "Root=1-abc"
        busy = {due[0].id}
        assert [e.request_id for e in tx.due_events(5.0, 2, busy)] == ["b", "c"]
        assert tx.next_due() == 1.0
        assert tx.queue_depth() == 4
        assert tx.queue_depths() == {(ACCOUNT, REGION): 4}


def test_reschedule_and_finish(store: QueueStore) -> None:
    with store.queue_transaction() as tx:
        tx.enqueue([event("f", 1.0, "a"), event("f", 1.0, "b")])
    with store.queue_transaction() as tx:
        a, b = tx.due_events(1.0, 10, set())
        tx.reschedule(a.id, 50.0, Progress(1.0, 1, 2))
        tx.finish_event(b.id)
    with store.queue_transaction() as tx:
        assert tx.due_events(10.0, 10, set()) == []
        (again,) = tx.due_events(50.0, 10, set())
        assert again.request_id == "a"
        assert again.progress == Progress(1.0, 1, 2)
        tx.finish_event(again.id)
        assert tx.next_due() is None
        assert tx.queue_depths() == {}


def test_a_prepared_queue_commit_stores_on_commit_and_nothing_on_rollback(
    store: QueueStore,
) -> None:
    def write(request_id: str) -> Callable[..., int]:
        def work(tx: object) -> int:
            tx.enqueue([event("f", 1.0, request_id)])  # type: ignore[attr-defined]
            return 7

        return work

    result, prepared = store.prepare_queue(write("kept"))
    prepared.commit()
    _, dropped = store.prepare_queue(write("dropped"))
    dropped.rollback()
    dropped.commit()  # the first call ended it
    assert result == 7
    with store.queue_transaction() as tx:
        assert [e.request_id for e in tx.due_events(1.0, 10, set())] == ["kept"]


def test_the_event_queue_commits_concurrent_accepts_in_groups(store: QueueStore) -> None:
    """`EventQueue` over the adapter: every accept committed before it returns, together."""
    workers = ThreadPoolExecutor(4)
    commits = 0

    def committed() -> None:
        nonlocal commits
        commits += 1

    async def accept_then_deliver() -> None:
        # As the assembly makes it: PostgreSQL's group commits go through its loop writer.
        writer = store.loop_queue() if isinstance(store, PostgresStore) else None
        queue = EventQueue(store, workers, writer)
        queue.on_commit = committed
        await asyncio.gather(*(queue.accept(event("f", 1.0, f"r{n}")) for n in range(200)))
        due = await queue.run(lambda tx: tx.due_events(1.0, 300, set()))
        await asyncio.gather(
            *(queue.finish(e.id) for e in due[:150]),
            *(queue.reschedule(e.id, 9.0, Progress(1.0, 1)) for e in due[150:]),
        )
        queue.close()

    try:
        asyncio.run(accept_then_deliver())
    finally:
        workers.shutdown()
    with store.queue_transaction() as tx:
        assert tx.queue_depth() == 50
        assert tx.next_due() == 9.0
    assert commits < 200  # grouped: not one commit per accept


# --- PostgreSQL only: what a shared database adds ----------------------------------------------


@pytest.fixture
def shared(postgres: PostgresCluster) -> Iterator[Callable[[], PostgresStore]]:
    url = postgres.database()
    opened: list[PostgresStore] = []

    def make() -> PostgresStore:
        opened.append(PostgresStore(url, MarkingVault()))
        return opened[-1]

    yield make
    for store in opened:
        store.close()


def test_the_loop_never_waits_on_the_network(shared: Callable[[], PostgresStore]) -> None:
    store = shared()
    with pytest.raises(StoreBusy):
        store.prepare_queue(lambda tx: None, wait=False)
    with pytest.raises(StoreBusy), store.queue_transaction(wait=False):
        pass


def test_a_process_does_not_take_events_another_has_claimed(
    shared: Callable[[], PostgresStore],
) -> None:
    one, two = shared(), shared()
    with one.queue_transaction() as tx:
        tx.enqueue([event("f", 1.0, "a"), event("f", 1.0, "b")])
    with one.queue_transaction() as tx:
        (taken,) = tx.due_events(1.0, 1, set())
    with two.queue_transaction() as tx:
        others = tx.due_events(1.0, 10, set())
    assert [e.request_id for e in others] == ["b"]
    assert taken.request_id == "a"
    with one.queue_transaction() as tx:
        tx.reschedule(taken.id, 1.0, Progress(1.0, 1))  # released: anyone may take it again
    with two.queue_transaction() as tx:
        assert {e.request_id for e in tx.due_events(1.0, 10, set())} == {"a", "b"}


def test_the_claims_of_a_process_that_died_are_free_at_once(
    shared: Callable[[], PostgresStore],
) -> None:
    one, two = shared(), shared()
    with one.queue_transaction() as tx:
        tx.enqueue([event("f", 1.0, "a")])
        assert len(tx.due_events(1.0, 10, set())) == 1
    with two.queue_transaction() as tx:
        assert tx.due_events(1.0, 10, set()) == []
    one.close()  # its claim connection ends, as a killed process's does
    # Free once PostgreSQL has ended that backend (it leaves pg_stat_activity a moment after
    # the client closes): no timeout of gureum's to wait out.
    for _ in range(100):
        with two.queue_transaction() as tx:
            freed = [e.request_id for e in tx.due_events(1.0, 10, set())]
        if freed:
            break
        time.sleep(0.02)
    assert freed == ["a"]


def test_claims_made_after_postgresql_restarted_still_hold(
    postgres: PostgresCluster, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A restart ends every claimant's session; a claim made afterwards must name the new one,
    or every other process would take the claimed event as free and deliver it too."""
    own = PostgresCluster(postgres.binaries, tmp_path / "pg", tmp_path_factory.getbasetemp())
    own.start()
    try:
        url = own.url()
        one, two = PostgresStore(url, MarkingVault()), PostgresStore(url, MarkingVault())
        try:
            with one.queue_transaction() as tx:
                tx.enqueue([event("f", 1.0, "a")])
            own.stop()
            own.start()
            with one.queue_transaction() as tx:
                assert [e.request_id for e in tx.due_events(1.0, 10, set())] == ["a"]
            with two.queue_transaction() as tx:
                assert tx.due_events(1.0, 10, set()) == []
        finally:
            one.close()
            two.close()
    finally:
        own.stop()


def test_another_processs_changes_move_generation_and_its_accepts_wake_delivery(
    shared: Callable[[], PostgresStore],
) -> None:
    one, two = shared(), shared()

    async def watch() -> tuple[int, int]:
        woken = asyncio.Event()
        task = asyncio.create_task(two.follow(woken.set, lambda: None))
        await asyncio.wait_for(woken.wait(), 10)  # listening (said once at the start)
        woken.clear()
        before = two.generation
        await asyncio.to_thread(put_and_accept)
        await asyncio.wait_for(woken.wait(), 10)
        while two.generation == before:
            await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return before, two.generation

    def put_and_accept() -> None:
        with one.transaction() as tx:
            tx.put_function(function())
        with one.queue_transaction() as tx:
            tx.enqueue([event("fn", 1.0)])

    before, after = asyncio.run(watch())
    assert after > before


def test_migrations_run_once_and_a_newer_schema_is_refused(
    shared: Callable[[], PostgresStore], postgres: PostgresCluster
) -> None:
    store = shared()
    database = Database(store.url, max_size=2)
    try:
        assert database.migrate("lambda", migrations_in("gureum.lambda_.store")) == []
        with database.transaction() as connection:
            connection.execute(
                "INSERT INTO gureum_migrations (component, version, name) "
                "VALUES ('lambda', 999, 'from_the_future')"
            )
        with pytest.raises(SchemaTooNew, match="version 999"):
            database.migrate("lambda", migrations_in("gureum.lambda_.store"))
    finally:
        database.close()


# --- PostgreSQL only: the queue's group commits from the event loop ---------------------------


def test_a_loop_writers_batch_enqueues_finishes_and_reschedules_in_one_commit(
    shared: Callable[[], PostgresStore],
) -> None:
    store = shared()
    with store.queue_transaction() as tx:
        tx.enqueue([event("f", 1.0, "done"), event("f", 1.0, "again")])
    with store.queue_transaction() as tx:
        done, again = tx.due_events(1.0, 10, set())  # claimed by this process
    heard: list[str] = []

    async def write() -> None:
        listener = await psycopg.AsyncConnection.connect(store.url, autocommit=True)
        writer = store.loop_queue()
        try:
            await listener.execute(f"LISTEN {EVENTS}")
            await writer.write(QueueWrites(finish=[done.id or 0]))
            await writer.write(
                QueueWrites(
                    enqueue=[event("f", 2.0, "new")],
                    reschedule=[(again.id or 0, 3.0, Progress(1.0, 1, 1))],
                )
            )
            async for notice in listener.notifies(timeout=1.0):
                heard.append(notice.channel)
        finally:
            writer.close()
            await listener.close()

    asyncio.run(write())
    assert heard == [EVENTS]  # once: from the batch that added events, none from the finish
    other = shared()  # another process: "again" is no longer claimed
    with other.queue_transaction() as tx:
        due = tx.due_events(5.0, 10, set())
    assert [(e.request_id, e.due_at, e.progress) for e in due] == [
        ("new", 2.0, Progress(2.0)),
        ("again", 3.0, Progress(1.0, 1, 1)),
    ]
    assert due[0].payload == b'{"k":1}'
    assert due[0].trace_header == "Root=1-abc"


def test_a_loop_writers_failed_batch_stores_none_of_it(
    shared: Callable[[], PostgresStore],
) -> None:
    store = shared()
    with store.queue_transaction() as tx:
        tx.enqueue([event("f", 1.0, "kept")])
    with store.queue_transaction() as tx:
        (kept,) = tx.due_events(1.0, 10, set())
    # PostgreSQL refuses the second event (its count overflows the column): the batch's other
    # writes must not be stored either, and the writer goes on with the next batch.
    overflowing = replace(event("f", 1.0, "bad"), progress=Progress(1.0, 2**40))

    async def write() -> None:
        writer = store.loop_queue()
        try:
            with pytest.raises(psycopg.errors.NumericValueOutOfRange):
                await writer.write(
                    QueueWrites(
                        enqueue=[event("f", 1.0, "lost"), overflowing], finish=[kept.id or 0]
                    )
                )
            await writer.write(QueueWrites(enqueue=[event("f", 1.0, "next")]))
        finally:
            writer.close()

    asyncio.run(write())
    with store.queue_transaction() as tx:
        assert sorted(e.request_id for e in tx.due_events(1.0, 10, set())) == ["kept", "next"]


def test_a_loop_writer_outlives_its_session_ending_between_batches(
    postgres: PostgresCluster, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Its session ended while idle (the server restarted, or an administrator ended it): the
    next batch, which cannot have been stored on it, is written on a new session, not failed."""
    own = PostgresCluster(postgres.binaries, tmp_path / "pg", tmp_path_factory.getbasetemp())
    own.start()
    try:
        store = PostgresStore(own.url(), MarkingVault())

        async def write() -> None:
            writer = store.loop_queue()
            try:
                await writer.write(QueueWrites(enqueue=[event("f", 1.0, "first")]))
                with psycopg.connect(own.url(), autocommit=True) as admin:
                    (ended,) = admin.execute(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = %s",
                        (SESSION_NAME,),
                    ).fetchone() or (0,)
                assert ended == 1
                await asyncio.sleep(0.2)
                await writer.write(QueueWrites(enqueue=[event("f", 1.0, "after ended")]))
                own.stop()
                own.start()
                await writer.write(QueueWrites(enqueue=[event("f", 1.0, "after restart")]))
            finally:
                writer.close()

        try:
            asyncio.run(write())
            with store.queue_transaction() as tx:
                found = sorted(e.request_id for e in tx.due_events(1.0, 10, set()))
            assert found == ["after ended", "after restart", "first"]
        finally:
            store.close()
    finally:
        own.stop()


def test_a_loop_sessions_claims_hold_for_it_and_end_with_it(
    shared: Callable[[], PostgresStore],
) -> None:
    """The delivery loop's claims name the loop's own session: another process never takes
    them while it lives, this process sees them again (its `busy` keeps apart what it is
    delivering), and they are free for all at once when the session ends, as a dead
    process's are."""
    one, two = shared(), shared()
    with one.queue_transaction() as tx:
        tx.enqueue([event("f", 1.0, "a"), event("f", 2.0, "b"), event("f", 9.0, "later")])
    session = one.loop_queue()

    async def claim() -> None:
        taken = await session.due(5.0, 1, set())
        assert [e.request_id for e in taken] == ["a"]
        assert await session.depths() == {(ACCOUNT, REGION): 3}
        assert await session.next_due() == 1.0
        with two.queue_transaction() as tx:  # another process: "a" is claimed
            assert [e.request_id for e in tx.due_events(5.0, 10, set())] == ["b"]
        # "b" is now two's: this process takes its own "a" again, unless busy with it.
        again = await session.due(5.0, 10, set())
        assert [e.request_id for e in again] == ["a"]
        busy = await session.due(5.0, 10, {taken[0].id or 0})
        assert busy == []

    try:
        asyncio.run(claim())
    finally:
        session.close()
    for _ in range(100):  # free once PostgreSQL has ended the session's backend
        with two.queue_transaction() as tx:
            freed = [e.request_id for e in tx.due_events(5.0, 10, set())]
        if "a" in freed:
            break
        time.sleep(0.02)
    assert sorted(freed) == ["a", "b"]  # "b" is two's own


def test_a_loop_session_serves_commits_and_reads_at_once_on_one_backend(
    shared: Callable[[], PostgresStore],
) -> None:
    """The group commits and the delivery loop's reads share the session, concurrently on the
    loop: each waits its turn, none takes another's answer for the server's last words."""
    store = shared()
    session = store.loop_queue()

    async def together() -> set[int]:
        backends: set[int] = set()

        async def read() -> None:
            await session.due(1.0, 5, set())
            await session.next_due()
            backends.add(await backend())

        async def backend() -> int:
            async with session._using() as connection:
                row = await (await connection.execute("SELECT pg_backend_pid()")).fetchone()
            assert row is not None
            return int(row[0])

        writes = [session.write(QueueWrites(enqueue=[event("f", 1.0, f"r{n}")])) for n in range(30)]
        reads = [read() for _ in range(30)]
        await asyncio.wait_for(asyncio.gather(*writes, *reads), 20)
        return backends

    try:
        backends = asyncio.run(together())
    finally:
        session.close()
    assert len(backends) == 1  # never taken for dead and made again
    with store.queue_transaction() as tx:
        assert tx.queue_depth() == 30
