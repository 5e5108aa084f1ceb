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
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import psycopg

from gureum.aws.postgres import session_alive
from gureum.lambda_.domain.retries import Progress, QueuedEvent

# NOTIFY channel: events were committed to the queue.
EVENTS = "gureum_lambda_events"
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
            cursor.executemany(
                b"INSERT INTO lambda_events (request_id, account, region, function_name, "
                b"qualifier, payload, accepted_at, invocations, backoffs, due_at, trace_header) "
                b"VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (
                        e.request_id,
                        e.account,
                        e.region,
                        e.function_name,
                        e.qualifier,
                        e.payload,
                        e.progress.accepted_at,
                        e.progress.invocations,
                        e.progress.backoffs,
                        e.due_at,
                        e.trace_header,
                    )
                    for e in events
                ],
            )
        self._db.execute("SELECT pg_notify(%s, '')", (EVENTS,))

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
        self._db.execute(
            "UPDATE lambda_events SET due_at = %s, invocations = %s, backoffs = %s, "
            "claim_pid = NULL, claim_start = NULL WHERE id = %s",
            (due_at, progress.invocations, progress.backoffs, event_id),
        )

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
