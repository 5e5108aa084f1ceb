"""The asynchronous event queue in PostgreSQL: enqueue, claim, reschedule, finish.

Claims: `due_events` takes due rows with `FOR UPDATE SKIP LOCKED` (two processes looking at
once never take the same event) and marks them claimed by this process, so that no other
process takes them while it delivers them. A claim names the backend of the process's
`Claimant` connection (its pid and start time): it holds while `pg_stat_activity` shows that
backend, so the events of a process that died (`kill -9`, a lost host) are free at once, and no
timeout has to outlast the longest function. A process sees its own claimed events (its
delivery loop keeps them apart with `busy`, as with SQLite); `reschedule` releases a claim,
`finish` deletes the row. Every enqueue NOTIFYs `EVENTS` (sent at COMMIT), which the delivery
loops of every process LISTEN to.

Group commits (`QueueWriter`) run on the event loop, on a connection of their own, each batch
one statement: one round trip to the server, awaited rather than blocked on. On a worker thread,
the same batch was a transaction of a round trip per statement, and each one's answer waited for
the GIL while the loop parsed requests: a batch of 15 writes that PostgreSQL commits in 1 ms
took 12 ms, and, one batch being in flight at a time, that bounded the accepts.
"""

from __future__ import annotations

import base64
import json
import threading
from datetime import datetime
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from gureum.aws.postgres import IDLE_IN_TRANSACTION, RESILIENT, readable_now, session_alive
from gureum.lambda_.domain.retries import Progress, QueuedEvent
from gureum.lambda_.store.ports import QueueWrites

# NOTIFY channel: events were committed to the queue.
EVENTS = "gureum_lambda_events"
# The application name of each process's `QueueWriter` session.
WRITER_NAME = "gureum-event-queue"
_EVENT_COLUMNS = (
    "id, request_id, account, region, function_name, qualifier, payload, "
    "accepted_at, invocations, backoffs, due_at, trace_header"
)
_CLAIM = f"""
WITH picked AS (
    SELECT id FROM lambda_events e
    WHERE due_at <= %(now)s AND NOT (id = ANY(%(busy)s::bigint[]))
      AND (claim_pid IS NULL
           OR (claim_pid = %(pid)s AND claim_start = %(start)s)
           OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                          WHERE a.pid = e.claim_pid AND a.backend_start = e.claim_start))
    ORDER BY due_at, id LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED)
UPDATE lambda_events SET claim_pid = %(pid)s, claim_start = %(start)s
FROM picked WHERE lambda_events.id = picked.id
RETURNING {", ".join(f"lambda_events.{c.strip()}" for c in _EVENT_COLUMNS.split(","))}
"""


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


class QueueWriter:
    """Commits the event queue's group commits from the event loop (see the module docstring):
    one connection, made at the first batch and again after it broke. Event loop only."""

    def __init__(self, url: str) -> None:
        idle_ms = int(IDLE_IN_TRANSACTION * 1000)
        self._conninfo = make_conninfo(
            url,
            options=f"-c idle_in_transaction_session_timeout={idle_ms}",
            application_name=WRITER_NAME,  # in pg_stat_activity, for whoever looks
            **RESILIENT,
        )
        self._connection: psycopg.AsyncConnection[tuple[Any, ...]] | None = None

    async def write(self, writes: QueueWrites) -> None:
        """Commits all of `writes` in one transaction (durable when this returns), or raises
        with none of them stored, or, when the connection broke while the COMMIT was in flight,
        with whether it was stored unknown (the caller's answer is then a 5xx, as for any
        request cut off: the client's retry may queue an event twice, never lose one)."""
        parameters = (_document(writes), EVENTS)
        connection = await self._connected()
        try:
            await connection.execute(_BATCH, parameters)
        except psycopg.OperationalError:
            if connection.broken or connection.closed:
                self._connection = None
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
    """Whether the writer's idle session still stands. Between batches it hears nothing, so a
    readable socket is the server's last words (its FATAL, then the close: a restart). Found
    before the batch is sent, a batch that could not have been stored is not failed for it."""
    if connection.closed or connection.broken:
        return False
    return not readable_now(connection.fileno())


class Claimant:
    """This process's identity for claims: one connection held open for the store's life, and
    made again if it broke (its claims are then free for others: at-least-once)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._lock = threading.Lock()
        self._connection: psycopg.Connection[tuple[Any, ...]] | None = None
        self._identity: tuple[int, datetime] = self._connect()

    def _connect(self) -> tuple[int, datetime]:
        connection = psycopg.connect(self._url, autocommit=True)
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
        events = [_event(row) for row in rows]
        events.sort(key=lambda event: (event.due_at, event.id or 0))
        return events

    def next_due(self) -> float | None:
        value = self._rows("SELECT MIN(due_at) FROM lambda_events")[0][0]
        return None if value is None else float(value)

    def reschedule(self, event_id: int, due_at: float, progress: Progress) -> None:
        self._db.execute(_RESCHEDULE, (due_at, progress.invocations, progress.backoffs, event_id))

    def finish_event(self, event_id: int) -> None:
        self._db.execute("DELETE FROM lambda_events WHERE id = %s", (event_id,))

    def queue_depth(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM lambda_events")[0][0])

    def queue_depths(self) -> dict[tuple[str, str], int]:
        rows = self._rows(
            "SELECT account, region, COUNT(*) FROM lambda_events GROUP BY account, region"
        )
        return {(str(a), str(r)): int(n) for a, r, n in rows}


def _event(row: Any) -> QueuedEvent:
    row_id, request_id, account, region, name, qualifier, payload = row[:7]
    accepted, invocations, backoffs, due, trace = row[7:]
    progress = Progress(accepted, invocations, backoffs)
    return QueuedEvent(
        request_id, account, region, name, qualifier, bytes(payload), progress, due, row_id, trace
    )
