"""Function logs as rows, on the SQL port (`gureum.aws.sql`): the `LogStore` of a cluster, where
a function's logs are written by whichever process ran it and read from every front door.

The assembly uses it with `--store postgresql://...` (`migrations/0001_logs.sql`); without, logs
stay files (`streams.FileLogStore`). Its `SCHEMA` is the same tables on SQLite, which the
contract suite runs it on too: the queries keep to the port's portable subset.

Appends are buffered in the process exactly as the files' are: an invocation appends three to
five events from the event loop, which must never wait for a round trip. `flush` writes every
buffered stream in ONE transaction; `flush_periodically` runs it on a worker thread every
`FLUSH_INTERVAL`, a read flushes first, and so does `close`. On PostgreSQL the transaction is
one statement for all the streams whose ids this process knows (`_APPEND`: their events sent
as one JSON document, their sizes moved; `APPEND_CHUNK` events at most a statement, for the
backlog a database away leaves); a stream made or found afresh takes a few statements of the
portable SQL after it, which is also what SQLite runs. Written per stream, with the events
as rows of `executemany`, every event cost psycopg some 50 us of Python and every stream a
round trip, on a thread whose every wait for the GIL competed with the event loop: a sixth of
a busy server's CPU.

A `kill -9` loses at most a `FLUSH_INTERVAL` of the newest lines, as with files. While the
database is away, events stay buffered (the newest `PENDING_KEPT` a stream) and reach it at the
first flush that succeeds.

The cap is measured as the files measure it, in bytes of the events as JSON lines, so both
stores drop the same events: past it, a stream loses every event that starts in its first half.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Executor

from gureum.aws.sql import Backend, Sql, StoreSpec
from gureum.logs.domain.events import LogEvent
from gureum.logs.store.ports import FLUSH_INTERVAL, STREAM_CAP

SCHEMA = """
CREATE TABLE IF NOT EXISTS log_groups (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, created INTEGER NOT NULL,
    UNIQUE (account, region, name));
CREATE TABLE IF NOT EXISTS log_streams (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    log_group INTEGER NOT NULL REFERENCES log_groups (seq) ON DELETE CASCADE,
    name TEXT NOT NULL, size INTEGER NOT NULL,
    UNIQUE (log_group, name));
CREATE TABLE IF NOT EXISTS log_events (
    seq INTEGER PRIMARY KEY,
    stream INTEGER NOT NULL REFERENCES log_streams (seq) ON DELETE CASCADE,
    event_time INTEGER NOT NULL, ingestion_time INTEGER NOT NULL, message BLOB NOT NULL,
    size INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS log_events_of_stream ON log_events (stream, seq);
"""
SPEC = StoreSpec("logs", "logs.sqlite3", SCHEMA, "gureum.logs.store")

PENDING_KEPT = 65_536  # buffered events a stream keeps while the database is away
# Events an `_APPEND` sends at most: its document stays megabytes, however many streams kept
# PENDING_KEPT events each while the database was away (jsonb takes 256 MB at most).
APPEND_CHUNK = 10_000
STREAMS_KEPT = 4096  # stream ids remembered; past this many the memory starts again
# One statement for any number of events (`executemany`): on PostgreSQL a multi-row INSERT
# past 50 parameters is parsed afresh by psycopg every time, a tenth of an agent's CPU.
_INSERT = (
    "INSERT INTO log_events (stream, event_time, ingestion_time, message, size) "
    "VALUES (?, ?, ?, ?, ?)"
)
# PostgreSQL: every known stream's events in one statement, from one JSON document of
# [stream, event time, ingestion time, message in base64, size] in the order appended (which
# `seq`, the order events are read in, follows); the streams' sizes move by their events', and
# the answer is each stream's new size. A stream another process deleted is not in the answer,
# and its events are not inserted.
_APPEND = """
WITH batch AS (
    SELECT (e.v->>0)::bigint AS stream, (e.v->>1)::bigint AS event_time,
           (e.v->>2)::bigint AS ingestion_time, decode(e.v->>3, 'base64') AS message,
           (e.v->>4)::bigint AS size, e.n
    FROM jsonb_array_elements(?::jsonb) WITH ORDINALITY AS e(v, n)
), grown AS (
    UPDATE log_streams SET size = log_streams.size + added.total
    FROM (SELECT stream, SUM(size) AS total FROM batch GROUP BY stream) AS added
    WHERE log_streams.seq = added.stream
    RETURNING log_streams.seq, log_streams.size
), appended AS (
    INSERT INTO log_events (stream, event_time, ingestion_time, message, size)
    SELECT stream, event_time, ingestion_time, message, size FROM batch
    WHERE stream IN (SELECT seq FROM grown) ORDER BY n
)
SELECT seq, size FROM grown
"""
log = logging.getLogger("gureum.logs")

StreamKey = tuple[str, str, str, str]  # account, region, group, stream


def _text(message: str) -> bytes:
    """A message as stored: UTF-8 bytes, as PostgreSQL's TEXT could not hold NUL (a function may
    print one, and PutLogEvents may send one); `surrogatepass` keeps any `str` exactly."""
    return message.encode("utf-8", "surrogatepass")


def _size(timestamp: int, ingested: int, message: str) -> int:
    """The event's bytes as the files measure them: its JSON line (ASCII: ensure_ascii)."""
    return len(json.dumps([timestamp, ingested, message])) + 1


class SqlLogStore:
    """Log groups and streams as rows (`ports.LogStore`); safe to use from the event loop and
    worker threads. Flushes run one at a time (`_flushing`), so a stream's batches commit in the
    order they were appended; ids of streams are remembered by this process, and one that
    another process deleted is found gone (ids are never reused) and made again."""

    def __init__(
        self, stores: Backend, executor: Executor | None = None, stream_cap: int = STREAM_CAP
    ) -> None:
        self._db = stores.open(SPEC)
        self._in_one = stores.dialect == "postgresql"  # `_APPEND`
        self._executor = executor
        self._cap = stream_cap
        self._pending: dict[StreamKey, list[LogEvent]] = {}
        self._lock = threading.Lock()  # the buffer: held only to add to it or to take it
        self._flushing = threading.Lock()  # one flush (or deletion) at a time
        self._ids: dict[StreamKey, int] = {}  # under _flushing
        self._failing = False

    # writing -----------------------------------------------------------------------------

    def append(
        self,
        account: str,
        region: str,
        group: str,
        stream: str,
        events: Iterable[LogEvent],
        create: bool = False,
    ) -> None:
        events = list(events)
        if not events and not create:
            return
        with self._lock:
            self._pending.setdefault((account, region, group, stream), []).extend(events)
        if create:
            self.flush()

    def flush(self) -> None:
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, {}
            if not batch:
                return
            try:
                with self._db.transaction() as sql:
                    if self._in_one:
                        self._write_in_one(sql, batch)
                    else:
                        for key, events in batch.items():
                            self._write(sql, key, events)
            except BaseException:
                self._keep(batch)
                raise

    def _keep(self, batch: dict[StreamKey, list[LogEvent]]) -> None:
        """Puts a batch that did not commit back before what was appended since."""
        # Ids handed out by the rolled-back transaction may be handed out again (SQLite).
        self._ids.clear()
        with self._lock:
            for key, events in self._pending.items():
                batch.setdefault(key, []).extend(events)
            for events in batch.values():
                if len(events) > PENDING_KEPT:
                    del events[: len(events) - PENDING_KEPT]
            self._pending = batch

    def _write_in_one(self, sql: Sql, batch: dict[StreamKey, list[LogEvent]]) -> None:
        """PostgreSQL: the streams this process knows in one statement (`_APPEND`), the others
        (new here, emptied, or deleted by another process since) one by one as on SQLite."""
        document: list[tuple[int, int, int, str, int]] = []
        known: dict[int, StreamKey] = {}
        one_by_one: list[StreamKey] = []
        for key, events in batch.items():
            stream = self._ids.get(key)
            if stream is None or not events:
                one_by_one.append(key)
                continue
            known[stream] = key
            for event in events:
                ingested = event.ingested or event.timestamp
                message = base64.b64encode(_text(event.message)).decode()
                size = _size(event.timestamp, ingested, event.message)
                document.append((stream, event.timestamp, ingested, message, size))
        grown: dict[int, int] = {}  # each stream's size after its last chunk
        for first in range(0, len(document), APPEND_CHUNK):
            chunk = document[first : first + APPEND_CHUNK]
            rows = sql.execute(_APPEND, (json.dumps(chunk),)).fetchall()
            grown.update((int(stream), int(size)) for stream, size in rows)
        for stream, key in known.items():
            now = grown.get(stream)
            if now is None:  # gone: made again, with its events, below
                del self._ids[key]
                one_by_one.append(key)
            elif now > self._cap:
                self._trim(sql, stream, now)
        for key in one_by_one:
            self._write(sql, key, batch[key])

    def _write(self, sql: Sql, key: StreamKey, events: list[LogEvent]) -> None:
        rows = []
        for event in events:
            ingested = event.ingested or event.timestamp
            size = _size(event.timestamp, ingested, event.message)
            rows.append((event.timestamp, ingested, _text(event.message), size))
        stream, size = self._grow(sql, key, sum(row[3] for row in rows))
        sql.executemany(_INSERT, [(stream, *row) for row in rows])
        if size > self._cap:
            self._trim(sql, stream, size)

    def _grow(self, sql: Sql, key: StreamKey, added: int) -> tuple[int, int]:
        """(the stream's id, its size with `added` bytes more), making it and its group if
        they are not there."""
        known = self._ids.get(key)
        if known is not None:
            row = sql.execute(
                "UPDATE log_streams SET size = size + ? WHERE seq = ? RETURNING size",
                (added, known),
            ).fetchone()
            if row is not None:
                return known, int(row[0])
        account, region, group, stream = key
        sql.execute(
            "INSERT INTO log_groups (account, region, name, created) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (account, region, name) DO NOTHING",
            (account, region, group, int(time.time() * 1000)),
        )
        sql.execute(
            "INSERT INTO log_streams (log_group, name, size) SELECT seq, ?, 0 FROM log_groups "
            "WHERE account = ? AND region = ? AND name = ? "
            "ON CONFLICT (log_group, name) DO NOTHING",
            (stream, account, region, group),
        )
        row = sql.execute(
            "UPDATE log_streams SET size = size + ? WHERE name = ? AND log_group = "
            "(SELECT seq FROM log_groups WHERE account = ? AND region = ? AND name = ?) "
            "RETURNING seq, size",
            (added, stream, account, region, group),
        ).fetchone()
        if len(self._ids) >= STREAMS_KEPT:
            self._ids.clear()
        self._ids[key] = int(row[0])
        return int(row[0]), int(row[1])

    @staticmethod
    def _trim(sql: Sql, stream: int, size: int) -> None:
        """Drops the events that start in the stream's first half, as the files' trim does
        (which keeps what follows the first line end past the middle). The offsets are summed
        by the database: a stream at its cap holds some hundred thousand events."""
        last, dropped = sql.execute(
            "SELECT MAX(seq), MAX(start + size) FROM (SELECT seq, size, "
            "SUM(size) OVER (ORDER BY seq) - size AS start FROM log_events WHERE stream = ?) "
            "AS offsets WHERE start <= ?",
            (stream, size // 2),
        ).fetchone()
        if last is None:  # no events, so no size: nothing to trim
            return
        sql.execute("DELETE FROM log_events WHERE stream = ? AND seq <= ?", (stream, last))
        sql.execute("UPDATE log_streams SET size = size - ? WHERE seq = ?", (int(dropped), stream))

    async def flush_periodically(self, interval: float = FLUSH_INTERVAL) -> None:
        """Flushes on a worker thread every `interval` seconds until cancelled (the Logs
        assembly owns it). A flush that fails keeps its events for the next one."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            if not self._pending:
                continue
            try:
                await loop.run_in_executor(self._executor, self.flush)
            except Exception as exc:  # the database is away: say so once, then keep trying
                if not self._failing:
                    log.warning("logs not written yet, kept in memory: %s", exc)
                self._failing = True
            else:
                if self._failing:
                    log.warning("logs written again")
                self._failing = False

    def close(self) -> None:
        self.flush()
        self._db.close()

    def create_group(self, account: str, region: str, group: str) -> None:
        with self._db.transaction() as sql:
            sql.execute(
                "INSERT INTO log_groups (account, region, name, created) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (account, region, name) DO NOTHING",
                (account, region, group, int(time.time() * 1000)),
            )

    def delete_group(self, account: str, region: str, group: str) -> None:
        with self._flushing:
            with self._lock:
                for key in [k for k in self._pending if k[:3] == (account, region, group)]:
                    del self._pending[key]
            for key in [k for k in self._ids if k[:3] == (account, region, group)]:
                del self._ids[key]
            with self._db.transaction() as sql:
                sql.execute(  # its streams and their events with it (ON DELETE CASCADE)
                    "DELETE FROM log_groups WHERE account = ? AND region = ? AND name = ?",
                    (account, region, group),
                )

    # reading (each flushes first: what was appended before it is there) ------------------

    def groups(self, account: str, region: str) -> list[tuple[str, int]]:
        self.flush()
        with self._db.transaction() as sql:
            rows = sql.execute(
                "SELECT name, created FROM log_groups WHERE account = ? AND region = ? "
                "ORDER BY name",
                (account, region),
            ).fetchall()
        return [(str(name), int(created)) for name, created in rows]

    def streams(self, account: str, region: str, group: str) -> list[tuple[str, int, int, int]]:
        self.flush()
        with self._db.transaction() as sql:
            rows = sql.execute(
                "SELECT s.name, "
                "COALESCE((SELECT event_time FROM log_events WHERE stream = s.seq "
                "ORDER BY seq LIMIT 1), 0), "
                "COALESCE((SELECT event_time FROM log_events WHERE stream = s.seq "
                "ORDER BY seq DESC LIMIT 1), 0), "
                "s.size FROM log_streams s JOIN log_groups g ON g.seq = s.log_group "
                "WHERE g.account = ? AND g.region = ? AND g.name = ? ORDER BY s.name",
                (account, region, group),
            ).fetchall()
        return [(str(name), int(first), int(last), int(size)) for name, first, last, size in rows]

    def has_group(self, account: str, region: str, group: str) -> bool:
        self.flush()
        with self._db.transaction() as sql:
            row = sql.execute(
                "SELECT 1 FROM log_groups WHERE account = ? AND region = ? AND name = ?",
                (account, region, group),
            ).fetchone()
        return row is not None

    def has_stream(self, account: str, region: str, group: str, stream: str) -> bool:
        self.flush()
        with self._db.transaction() as sql:
            row = sql.execute(
                "SELECT 1 FROM log_streams s JOIN log_groups g ON g.seq = s.log_group "
                "WHERE g.account = ? AND g.region = ? AND g.name = ? AND s.name = ?",
                (account, region, group, stream),
            ).fetchone()
        return row is not None

    def events(self, account: str, region: str, group: str, stream: str) -> list[LogEvent]:
        self.flush()
        with self._db.transaction() as sql:
            rows = sql.execute(
                "SELECT e.event_time, e.ingestion_time, e.message FROM log_events e "
                "JOIN log_streams s ON s.seq = e.stream JOIN log_groups g ON g.seq = s.log_group "
                "WHERE g.account = ? AND g.region = ? AND g.name = ? AND s.name = ? "
                "ORDER BY e.seq",
                (account, region, group, stream),
            ).fetchall()
        return [
            LogEvent(int(stamp), bytes(message).decode("utf-8", "surrogatepass"), int(ingested))
            for stamp, ingested, message in rows
        ]
