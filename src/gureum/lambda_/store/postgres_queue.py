"""The asynchronous event queue in PostgreSQL: enqueue, claim, reschedule, finish.

Claims: due rows are taken with `FOR UPDATE SKIP LOCKED` (two processes looking at once never
take the same event) and marked claimed by this process, so that no other process takes them
while it delivers them. A claim names a backend of the process's own (its pid and start time):
it holds while `pg_stat_activity` shows that backend, so the events of a process that died
(`kill -9`, a lost host) are free at once, and no timeout has to outlast the longest function.
A process sees its own claimed events (its delivery loop keeps them apart with `busy`, as with
SQLite); `reschedule` releases a claim, `finish` deletes the row. Every enqueue NOTIFYs `EVENTS`
(sent at COMMIT), which the delivery loops of every process LISTEN to.

The server uses the queue from its event loop (`QueueSession`), on a session of its own that is
also the claimant: each group commit is one statement, one round trip awaited rather than
blocked on, and the delivery loop's claims and reads are statements on the same session. On a
worker thread, a batch was a transaction of a round trip per statement, and each one's answer
waited for the GIL while the loop parsed requests: a batch of 15 writes that PostgreSQL commits
in 1 ms took 12 ms, and, one batch being in flight at a time, that bounded the accepts. The
`Transaction` statements (`QueueStatements`, on pooled connections) name the `Claimant`
session instead.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from gureum.aws.postgres import readable_now, session_alive, session_settings
from gureum.lambda_.domain.retries import Progress, QueuedEvent
from gureum.lambda_.store.ports import QueueWrites

# NOTIFY channel: events were committed to the queue.
EVENTS = "gureum_lambda_events"
# The application name of each process's `QueueSession`.
SESSION_NAME = "gureum-event-queue"
_EVENT_COLUMNS = (
    "id, request_id, account, region, function_name, qualifier, payload, "
    "accepted_at, invocations, backoffs, due_at, trace_header"
)
# Claims due events for `me`: the claimant's backend (pid, backend_start). A claim holds while
# that backend lives; a process's own claims are its to take again (its `busy` keeps apart
# those it is delivering).
_CLAIM_FOR = f"""
WITH me AS ({{me}}),
picked AS (
    SELECT e.id FROM lambda_events e, me
    WHERE e.due_at <= %(now)s AND NOT (e.id = ANY(%(busy)s::bigint[]))
      AND (e.claim_pid IS NULL
           OR (e.claim_pid = me.pid AND e.claim_start = me.backend_start)
           OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                          WHERE a.pid = e.claim_pid AND a.backend_start = e.claim_start))
    ORDER BY e.due_at, e.id LIMIT %(limit)s
    FOR UPDATE OF e SKIP LOCKED)
UPDATE lambda_events SET claim_pid = me.pid, claim_start = me.backend_start
FROM picked, me WHERE lambda_events.id = picked.id
RETURNING {", ".join(f"lambda_events.{c.strip()}" for c in _EVENT_COLUMNS.split(","))}
"""
# For a transaction on a pooled connection: the `Claimant` session, named by parameters.
_CLAIM = _CLAIM_FOR.replace(
    "{me}", "SELECT %(pid)s::integer AS pid, %(start)s::timestamptz AS backend_start"
)
# On the loop's own session, which is the claimant itself.
_CLAIM_HERE = _CLAIM_FOR.replace(
    "{me}", "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"
).encode()
_DEPTHS = "SELECT account, region, COUNT(*) FROM lambda_events GROUP BY account, region"
_NEXT_DUE = "SELECT MIN(due_at) FROM lambda_events"


_INSERT = (
    b"INSERT INTO lambda_events (request_id, account, region, function_name, "
    b"qualifier, payload, accepted_at, invocations, backoffs, due_at, trace_header) "
    b"VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
_NOTIFY = b"SELECT pg_notify(%s, '')"
_RESCHEDULE = (
    b"UPDATE lambda_events SET due_at = %s, invocations = %s, backoffs = %s, "
    b"claim_pid = NULL, claim_start = NULL WHERE id = %s"
)
# A group commit as ONE statement (autocommit: its own transaction, durable when answered):
# the batch's events inserted, finished events deleted, rescheduled ones updated, and the
# NOTIFY (sent at the commit) when events were added. Its data-modifying parts all run, and
# see the same snapshot: no event is both finished and rescheduled in one batch (a reschedule
# is committed before the event can be claimed again), and the update leaves finished rows
# alone besides. One round trip, and one statement for psycopg to send: a pipelined
# transaction of the same writes cost twice the CPU. The batch travels as one JSON document,
# which the json module writes in C, where psycopg adapts arrays element by element in Python
# (two thirds of the writer's CPU); payloads go in base64, whatever their bytes.
_BATCH = b"""
WITH batch AS (SELECT %s::jsonb AS doc),
added AS (
    INSERT INTO lambda_events (request_id, account, region, function_name, qualifier, payload,
                               accepted_at, invocations, backoffs, due_at, trace_header)
    SELECT e.request_id, e.account, e.region, e.function_name, e.qualifier,
           decode(e.payload, 'base64'), e.accepted_at, e.invocations, e.backoffs, e.due_at,
           e.trace_header
    FROM batch, jsonb_to_recordset(batch.doc->'enqueue') AS e(
        request_id text, account text, region text, function_name text, qualifier text,
        payload text, accepted_at float8, invocations int, backoffs int, due_at float8,
        trace_header text)),
finished AS (
    DELETE FROM lambda_events
    WHERE id IN (SELECT jsonb_array_elements_text(doc->'finish')::bigint FROM batch)
    RETURNING id),
moved AS (
    UPDATE lambda_events e
    SET due_at = m.due_at, invocations = m.invocations, backoffs = m.backoffs,
        claim_pid = NULL, claim_start = NULL
    FROM batch, jsonb_to_recordset(batch.doc->'reschedule')
         AS m(id bigint, due_at float8, invocations int, backoffs int)
    WHERE e.id = m.id AND NOT EXISTS (SELECT 1 FROM finished f WHERE f.id = m.id))
SELECT pg_notify(%s, '') FROM batch WHERE jsonb_array_length(doc->'enqueue') > 0
"""


def _document(writes: QueueWrites) -> str:
    """The batch as `_BATCH` reads it."""
    return json.dumps(
        {
            "enqueue": [
                {
                    "request_id": e.request_id,
                    "account": e.account,
                    "region": e.region,
                    "function_name": e.function_name,
                    "qualifier": e.qualifier,
                    "payload": base64.b64encode(e.payload).decode("ascii"),
                    "accepted_at": e.progress.accepted_at,
                    "invocations": e.progress.invocations,
                    "backoffs": e.progress.backoffs,
                    "due_at": e.due_at,
                    "trace_header": e.trace_header,
                }
                for e in writes.enqueue
            ],
            "finish": writes.finish,
            "reschedule": [
                {"id": i, "due_at": due, "invocations": p.invocations, "backoffs": p.backoffs}
                for i, due, p in writes.reschedule
            ],
        },
        # Floats as repr: the shortest text that reads back as the same double.
        allow_nan=False,
    )


def _row(event: QueuedEvent) -> tuple[Any, ...]:
    progress = event.progress
    return (
        event.request_id,
        event.account,
        event.region,
        event.function_name,
        event.qualifier,
        event.payload,
        progress.accepted_at,
        progress.invocations,
        progress.backoffs,
        event.due_at,
        event.trace_header,
    )


class QueueSession:
    """The event queue from the event loop (see the module docstring): its group commits and
    the delivery loop's reads, on one session of the process's own, made at first use and
    again after it ended. The session is also the claimant of the events this process takes.
    Event loop only."""

    def __init__(self, url: str) -> None:
        self._conninfo = make_conninfo(
            url,
            application_name=SESSION_NAME,  # in pg_stat_activity, for whoever looks
            **session_settings(),
        )
        self._connection: psycopg.AsyncConnection[tuple[Any, ...]] | None = None
        self._lock = asyncio.Lock()

    async def write(self, writes: QueueWrites) -> None:
        """Commits all of `writes` in one transaction (durable when this returns), or raises
        with none of them stored, or, when the connection broke while the COMMIT was in flight,
        with whether it was stored unknown (the caller's answer is then a 5xx, as for any
        request cut off: the client's retry may queue an event twice, never lose one)."""
        parameters = (_document(writes), EVENTS)
        async with self._using() as connection:
            await connection.execute(_BATCH, parameters)

    async def due(self, now: float, limit: int, busy: set[int]) -> list[QueuedEvent]:
        """Claims for this session itself (see `_CLAIM_HERE`): should it end, its claims are
        free for every process at once, as a dead process's are."""
        parameters = {"now": now, "busy": sorted(busy), "limit": max(limit, 0)}
        async with self._using() as connection:
            claimed = await (await connection.execute(_CLAIM_HERE, parameters)).fetchall()
        return _events(claimed)

    async def depths(self) -> dict[tuple[str, str], int]:
        async with self._using() as connection:
            rows = await (await connection.execute(_DEPTHS.encode())).fetchall()
        return _depths(rows)

    async def next_due(self) -> float | None:
        async with self._using() as connection:
            row = await (await connection.execute(_NEXT_DUE.encode())).fetchone()
        return None if row is None else _float(row[0])

    @asynccontextmanager
    async def _using(self) -> AsyncIterator[psycopg.AsyncConnection[tuple[Any, ...]]]:
        """The session, to one user at a time (a group commit, or the delivery loop's read):
        made again first if it ended while idle, forgotten if it broke. One at a time, for the
        liveness check too: while another's statement is in flight, its answer makes the socket
        readable, and the check would take the session for dead and close it under it."""
        async with self._lock:
            connection = await self._connected()
            try:
                yield connection
            except psycopg.OperationalError:
                if connection.broken or connection.closed:
                    self._connection = None
                    await connection.close()
                raise

    async def _connected(self) -> psycopg.AsyncConnection[tuple[Any, ...]]:
        connection = self._connection
        if connection is not None and not _idle_and_alive(connection):
            await connection.close()
            connection = None
        if connection is None:
            connection = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
            self._connection = connection
        return connection

    def close(self) -> None:
        """Ends the session, at once (the queue's `drain` has waited for the batch in flight);
        needs no event loop."""
        if self._connection is not None and not self._connection.closed:
            self._connection.pgconn.finish()
        self._connection = None


def _idle_and_alive(connection: psycopg.AsyncConnection[tuple[Any, ...]]) -> bool:
    """Whether the session, idle, still stands. Between statements it hears nothing, so a
    readable socket is the server's last words (its FATAL, then the close: a restart). Found
    before a batch is sent, a batch that could not have been stored is not failed for it."""
    if connection.closed or connection.broken:
        return False
    return not readable_now(connection.fileno())


class Claimant:
    """The identity of claims made in `Transaction`s (on pooled connections): one connection,
    made at the first claim, held open for the store's life and made again if it broke (its
    claims are then free for others: at-least-once). The server's delivery loop claims through
    its `QueueSession` instead, so a server opens none."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._lock = threading.Lock()
        self._connection: psycopg.Connection[tuple[Any, ...]] | None = None
        self._identity: tuple[int, datetime] | None = None

    def _connect(self) -> tuple[int, datetime]:
        connection = psycopg.connect(self._url, autocommit=True, **session_settings())
        try:
            row = connection.execute(
                "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"
            ).fetchone()
        except BaseException:
            connection.close()
            raise
        assert row is not None
        self._connection = connection
        return int(row[0]), row[1]

    def identity(self) -> tuple[int, datetime]:
        with self._lock:
            # Claims made on a session the server ended (a restart) would name a backend that
            # no longer exists, which every other process takes as free: each event claimed
            # then would be delivered by another as well.
            if self._connection is None or not session_alive(self._connection):
                if self._connection is not None:
                    self._connection.close()
                self._identity = self._connect()
            assert self._identity is not None  # made with the connection
            return self._identity

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()


class QueueStatements:
    """The queue's part of a PostgreSQL transaction (and what every part shares)."""

    def __init__(self, connection: psycopg.Connection[tuple[Any, ...]], claimant: Claimant):
        self._db = connection
        self._claimant = claimant
        # Whether a control-plane write changed a row (the store moves `generation` then).
        self._changed = False

    @property
    def changed(self) -> bool:
        return self._changed

    def _rows(self, sql: str, *args: Any, **named: Any) -> list[Any]:
        return self._db.execute(sql.encode(), named or args).fetchall()

    def _write(self, sql: str, *args: Any) -> None:
        if self._db.execute(sql.encode(), args).rowcount:
            self._changed = True

    def enqueue(self, events: list[QueuedEvent]) -> None:
        with self._db.cursor() as cursor:
            cursor.executemany(_INSERT, [_row(e) for e in events])
        self._db.execute(_NOTIFY, (EVENTS,))

    def due_events(self, now: float, limit: int, busy: set[int]) -> list[QueuedEvent]:
        pid, start = self._claimant.identity()
        rows = self._rows(
            _CLAIM, now=now, busy=sorted(busy), pid=pid, start=start, limit=max(limit, 0)
        )
        return _events(rows)

    def next_due(self) -> float | None:
        return _float(self._rows(_NEXT_DUE)[0][0])

    def reschedule(self, event_id: int, due_at: float, progress: Progress) -> None:
        self._db.execute(_RESCHEDULE, (due_at, progress.invocations, progress.backoffs, event_id))

    def finish_event(self, event_id: int) -> None:
        self._db.execute("DELETE FROM lambda_events WHERE id = %s", (event_id,))

    def queue_depth(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM lambda_events")[0][0])

    def queue_depths(self) -> dict[tuple[str, str], int]:
        return _depths(self._rows(_DEPTHS))


def _events(rows: list[Any]) -> list[QueuedEvent]:
    events = [_event(row) for row in rows]
    events.sort(key=lambda event: (event.due_at, event.id or 0))
    return events


def _depths(rows: list[Any]) -> dict[tuple[str, str], int]:
    return {(str(a), str(r)): int(n) for a, r, n in rows}


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _event(row: Any) -> QueuedEvent:
    row_id, request_id, account, region, name, qualifier, payload = row[:7]
    accepted, invocations, backoffs, due, trace = row[7:]
    progress = Progress(accepted, invocations, backoffs)
    return QueuedEvent(
        request_id, account, region, name, qualifier, bytes(payload), progress, due, row_id, trace
    )
