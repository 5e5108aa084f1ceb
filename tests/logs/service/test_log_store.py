"""The `LogStore` port's contract, run on every store (files, and rows on PostgreSQL and SQLite):
appends buffered until a flush or a read, events in the order they came, the per-stream cap,
groups and streams listed by name, a store reopened (a restart, or another process of a
cluster) reading what was written (issue #24)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time

import pytest

from gureum.logs.domain.events import LogEvent
from gureum.logs.store import tables
from gureum.logs.store.ports import LogStore
from tests.logs.conftest import OpenStore

ACCOUNT, REGION = "123456789012", "us-east-1"
GROUP = "/aws/lambda/writer"
T0 = 1_700_000_000_000


def size_of(events: list[LogEvent]) -> int:
    """A stream's size as the port measures it: its events as JSON lines."""
    return sum(
        len(json.dumps([e.timestamp, e.ingested or e.timestamp, e.message]) + "\n") for e in events
    )


def stored(event: LogEvent) -> LogEvent:
    """An event as read back: without an ingestion time, it was ingested at its timestamp."""
    return LogEvent(event.timestamp, event.message, event.ingested or event.timestamp)


def messages(store: LogStore, stream: str, group: str = GROUP) -> list[str]:
    return [e.message for e in store.events(ACCOUNT, REGION, group, stream)]


def test_appends_reach_other_stores_at_the_flush(open_store: OpenStore) -> None:
    writer, reader = open_store(), open_store()
    writer.append(ACCOUNT, REGION, GROUP, "s", [LogEvent(T0, "first")])
    # Buffered in the writer: not a file, not a row, not even the group, until it flushes.
    assert messages(reader, "s") == []
    assert not reader.has_group(ACCOUNT, REGION, GROUP)
    writer.flush()
    assert messages(reader, "s") == ["first"]
    assert reader.has_stream(ACCOUNT, REGION, GROUP, "s")


def test_a_read_sees_what_was_appended_before_it(open_store: OpenStore) -> None:
    store = open_store()
    store.append(ACCOUNT, REGION, GROUP, "s", [LogEvent(T0, "a"), LogEvent(T0 + 1, "b", 7)])
    assert store.events(ACCOUNT, REGION, GROUP, "s") == [
        LogEvent(T0, "a", T0),
        LogEvent(T0 + 1, "b", 7),
    ]
    assert store.groups(ACCOUNT, REGION)[0][0] == GROUP
    assert store.has_group(ACCOUNT, REGION, GROUP)
    assert store.has_stream(ACCOUNT, REGION, GROUP, "s")


def test_events_read_back_in_the_order_they_were_appended(open_store: OpenStore) -> None:
    store = open_store()
    written: dict[str, list[LogEvent]] = {"a": [], "b": []}
    for i in range(250):
        stream = "ab"[i % 3 == 0]
        # Timestamps out of order: the order is the appends', as a file's lines are.
        event = LogEvent(T0 + (i * 7919) % 1000, f"line {i}")
        store.append(ACCOUNT, REGION, GROUP, stream, [event])
        written[stream].append(event)
        if i % 40 == 0:
            store.flush()
    many = [LogEvent(T0, f"batch {i}") for i in range(230)]  # more than one INSERT's rows
    store.append(ACCOUNT, REGION, GROUP, "a", many)
    written["a"] += many
    for stream, events in written.items():
        assert store.events(ACCOUNT, REGION, GROUP, stream) == [stored(e) for e in events]


def test_messages_read_back_exactly(open_store: OpenStore) -> None:
    texts = [
        "plain",
        "with a NUL \x00 inside",  # PostgreSQL's TEXT could not hold it
        "tab\tand\nnewline",
        'quotes " and \\ backslash',
        "한국어 and emoji 🌧",
        "a lone surrogate \ud800 from PutLogEvents' JSON",
        "",
    ]
    store = open_store()
    store.append(ACCOUNT, REGION, GROUP, "s", [LogEvent(T0, text) for text in texts])
    store.close()
    assert messages(open_store(), "s") == texts


def test_groups_and_streams_are_listed_by_name(open_store: OpenStore) -> None:
    store = open_store()
    before = int(time.time() * 1000)
    store.create_group(ACCOUNT, REGION, "b")
    for group in ["a/x", "A", ".hidden", "é"]:  # made by their streams' first flush
        store.append(ACCOUNT, REGION, group, "s", [LogEvent(T0, "x")])
    store.append(ACCOUNT, "eu-west-1", "elsewhere", "s", [LogEvent(T0, "x")])
    store.append("210987654321", REGION, "theirs", "s", [LogEvent(T0, "x")])
    groups = store.groups(ACCOUNT, REGION)
    after = int(time.time() * 1000)
    assert [name for name, _ in groups] == [".hidden", "A", "a/x", "b", "é"]
    assert all(before <= created <= after for _, created in groups)
    assert [name for name, _ in store.groups(ACCOUNT, "eu-west-1")] == ["elsewhere"]
    assert [name for name, _ in store.groups("210987654321", REGION)] == ["theirs"]
    assert store.groups(ACCOUNT, "ap-south-2") == []


def test_streams_carry_their_first_and_last_event_and_their_size(open_store: OpenStore) -> None:
    store = open_store()
    zeta = [LogEvent(T0 + 5, "late first"), LogEvent(T0 + 2, "early last", T0 + 9)]
    alpha = [LogEvent(T0, "only")]
    store.append(ACCOUNT, REGION, GROUP, "zeta", zeta)
    store.append(ACCOUNT, REGION, GROUP, "2024/01/01/[$LATEST]abc", alpha)
    store.append(ACCOUNT, REGION, GROUP, "empty", [], create=True)
    assert store.streams(ACCOUNT, REGION, GROUP) == [
        ("2024/01/01/[$LATEST]abc", T0, T0, size_of(alpha)),
        ("empty", 0, 0, 0),
        ("zeta", T0 + 5, T0 + 2, size_of(zeta)),
    ]
    assert store.streams(ACCOUNT, REGION, "/aws/lambda/absent") == []


def test_a_stream_made_with_no_events_is_there_at_once(open_store: OpenStore) -> None:
    store, other = open_store(), open_store()
    store.create_group(ACCOUNT, REGION, GROUP)
    store.append(ACCOUNT, REGION, GROUP, "made", [], create=True)
    store.append(ACCOUNT, REGION, GROUP, "never", [])  # nothing: no stream
    assert other.has_stream(ACCOUNT, REGION, GROUP, "made")
    assert other.events(ACCOUNT, REGION, GROUP, "made") == []
    assert not other.has_stream(ACCOUNT, REGION, GROUP, "never")
    assert [s[0] for s in store.streams(ACCOUNT, REGION, GROUP)] == ["made"]


def test_a_stream_past_its_cap_drops_its_oldest_half(open_store: OpenStore) -> None:
    cap = 2000
    store = open_store(stream_cap=cap)
    kept: list[LogEvent] = []

    def write(store: LogStore, i: int) -> None:
        event = LogEvent(T0 + i, f"line {i:03d} " + "x" * (i % 17))
        store.append(ACCOUNT, REGION, GROUP, "chatty", [event])
        kept.append(stored(event))
        store.flush()
        # The rule both stores keep: past the cap, every event that starts in the stream's
        # first half goes (the files keep what follows the first line end past the middle).
        total = size_of(kept)
        if total > cap:
            start = 0
            while kept and start <= total // 2:
                start += size_of(kept[:1])
                kept.pop(0)
        assert store.events(ACCOUNT, REGION, GROUP, "chatty") == kept

    for i in range(120):
        write(store, i)
    assert kept[-1].message.startswith("line 119")
    assert len(kept) < 60
    ((_, first, last, size),) = store.streams(ACCOUNT, REGION, GROUP)
    assert (first, last, size) == (kept[0].timestamp, kept[-1].timestamp, size_of(kept))
    assert size <= cap
    # Across a restart the rule holds from the size stored, not from zero.
    store.close()
    reopened = open_store(stream_cap=cap)
    for i in range(120, 200):
        write(reopened, i)


def test_an_event_that_starts_at_the_middle_goes_with_the_first_half(
    open_store: OpenStore,
) -> None:
    events = [LogEvent(T0 + i, f"event {i}") for i in range(10)]  # each the same size
    line = size_of(events[:1])
    store = open_store(stream_cap=10 * line - 1)
    for event in events:
        store.append(ACCOUNT, REGION, GROUP, "s", [event])
        store.flush()
    # Ten lines pass the cap: the middle is the sixth's first byte, and the sixth goes too.
    assert messages(store, "s") == [f"event {i}" for i in range(6, 10)]
    assert store.streams(ACCOUNT, REGION, GROUP)[0][3] == 4 * line


def test_a_batch_past_the_cap_is_trimmed_when_flushed(open_store: OpenStore) -> None:
    cap = 1000
    store = open_store(stream_cap=cap)
    events = [LogEvent(T0 + i, f"event {i:02d}") for i in range(60)]  # about 1.7 caps
    store.append(ACCOUNT, REGION, GROUP, "burst", events)
    read = store.events(ACCOUNT, REGION, GROUP, "burst")
    assert read[-1] == stored(events[-1])
    assert read == [stored(e) for e in events[len(events) - len(read) :]]
    assert size_of(read) <= size_of(events) // 2 + 1


def test_a_reopened_store_reads_what_was_written(open_store: OpenStore) -> None:
    store = open_store()
    store.create_group(ACCOUNT, REGION, "/aws/lambda/quiet")
    store.append(ACCOUNT, REGION, GROUP, "s", [LogEvent(T0, "flushed")])
    store.flush()
    store.append(ACCOUNT, REGION, GROUP, "s", [LogEvent(T0 + 1, "at close")])
    store.append(ACCOUNT, REGION, GROUP, "t", [], create=True)
    groups, streams = store.groups(ACCOUNT, REGION), store.streams(ACCOUNT, REGION, GROUP)
    store.close()
    reopened = open_store()
    assert reopened.groups(ACCOUNT, REGION) == groups
    assert reopened.streams(ACCOUNT, REGION, GROUP) == streams
    assert messages(reopened, "s") == ["flushed", "at close"]
    # And it goes on writing the same streams.
    reopened.append(ACCOUNT, REGION, GROUP, "s", [LogEvent(T0 + 2, "after the restart")])
    assert messages(reopened, "s") == ["flushed", "at close", "after the restart"]


def test_deleting_a_group_takes_its_streams_and_buffered_events(open_store: OpenStore) -> None:
    store, other = open_store(), open_store()
    store.append(ACCOUNT, REGION, GROUP, "s", [LogEvent(T0, "old")])
    store.append(ACCOUNT, REGION, "/aws/lambda/kept", "s", [LogEvent(T0, "kept")])
    store.flush()
    store.append(ACCOUNT, REGION, GROUP, "s", [LogEvent(T0 + 1, "buffered")])
    store.delete_group(ACCOUNT, REGION, GROUP)
    assert not other.has_group(ACCOUNT, REGION, GROUP)
    assert other.events(ACCOUNT, REGION, GROUP, "s") == []
    assert messages(other, "s", "/aws/lambda/kept") == ["kept"]
    # Written again, the group and stream start afresh (in this store, and seen by the other).
    store.append(ACCOUNT, REGION, GROUP, "s", [LogEvent(T0 + 2, "new")])
    store.flush()
    assert messages(other, "s") == ["new"]
    assert [name for name, _ in other.groups(ACCOUNT, REGION)] == ["/aws/lambda/kept", GROUP]


def test_appends_from_threads_keep_each_streams_order(open_store: OpenStore) -> None:
    store = open_store()

    def write(stream: str) -> None:
        for i in range(200):
            store.append(ACCOUNT, REGION, GROUP, stream, [LogEvent(T0 + i, f"{stream} {i}")])
            if i % 50 == 0:
                store.flush()

    threads = [threading.Thread(target=write, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for n in range(4):
        assert messages(store, f"t{n}") == [f"t{n} {i}" for i in range(200)]


def test_the_periodic_flush_writes_without_a_read(open_store: OpenStore) -> None:
    writer, reader = open_store(), open_store()

    async def scenario() -> list[str]:
        flusher = asyncio.create_task(writer.flush_periodically(0.005))
        try:
            writer.append(ACCOUNT, REGION, GROUP, "s", [LogEvent(T0, "on its own")])
            for _ in range(400):  # the flusher runs on the loop (and for rows, a thread)
                await asyncio.sleep(0.005)
                if reader.has_stream(ACCOUNT, REGION, GROUP, "s"):
                    break
            return messages(reader, "s")
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher

    assert asyncio.run(scenario()) == ["on its own"]


@pytest.mark.parametrize("chunk", [tables.APPEND_CHUNK, 4])
def test_one_flush_of_many_known_streams_keeps_each_ones_order_and_size(
    open_store: OpenStore, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """On PostgreSQL one statement writes every known stream's events (or one per chunk of
    them): each stream still gets its own, in the order appended, and its size moves by theirs
    alone."""
    monkeypatch.setattr(tables, "APPEND_CHUNK", chunk)
    store = open_store()
    names = ["a", "b", "c"]
    for name in names:  # the streams made, and their ids known
        store.append(ACCOUNT, REGION, GROUP, name, [LogEvent(T0, f"{name} first")])
    store.flush()
    sent: dict[str, list[LogEvent]] = {name: [LogEvent(T0, f"{name} first")] for name in names}
    for i in range(30):
        name = names[i % 3] if i % 5 else "b"
        event = LogEvent(T0 + i, f"{name} {i} \u00e9\x00")
        store.append(ACCOUNT, REGION, GROUP, name, [event])
        sent[name].append(event)
    store.flush()
    for name in names:
        assert store.events(ACCOUNT, REGION, GROUP, name) == [stored(e) for e in sent[name]]
    sizes = {stream: size for stream, _, _, size in store.streams(ACCOUNT, REGION, GROUP)}
    assert sizes == {name: size_of([stored(e) for e in sent[name]]) for name in names}
